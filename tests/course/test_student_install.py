"""The student edition tried as a student would, from the outside (issue 13; slow, runs in CI).

The stage-a1 and stage-a4 editions are built into a temporary folder and installed with the
command their README gives (parsed from it, run as is): the a1 edition in a fresh virtual
environment, the a4 edition over it (one environment for the module: pip installs dominate
the time this takes). Then:
``minisegnet check a1`` on day one prints the table and exits 1; units 01 and 02 run clean;
every other notebook runs clean or stops with the one-line stub message of an assignment it
needs; with A1 solved (its solution regions copied in) the "needs" table holds. At stage a4,
the notebooks that need A4 stop at its stub, and run once A4 is solved; that every notebook
runs on a fully solved edition is what the release itself checks when it renders them.

Then, in the same environment: without pytest ``check`` names it and the command that
installs it (exit 2); after ``pip install .`` (not editable) ``pytest assignments/a1`` still
tests the working tree, or stops at once saying why; and the instructor README's (a) then
(b): ``minisegnet --version`` works from outside the repository, no Numba cache lands in
site-packages, notebook 09 passes.

pip's cache makes the installs tolerable; the times are printed (run with ``-s``).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from minisegnet.course.markers import strip_source, stub_import
from minisegnet.course.release import project_files, release

from .conftest import MARKED, ROOT, TAGS, run

pytestmark = pytest.mark.slow

PIP_ENV = {"PIP_NO_COMPILE": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
STUB_LINE = re.compile(r"^NotImplementedError: [\w.]+ in \S+\.py is not written yet: it is part "
                       r"of assignment (A\d+)")
RUNNER = r'''
import json, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
import nbclient, nbformat
from nbclient.exceptions import CellExecutionError

def one(path):
    nb = nbformat.read(path, as_version=4)
    started = time.monotonic()
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(sys.argv[1])}})
    result = {"notebook": path, "status": "ok"}
    try:
        client.execute(stderr=subprocess.DEVNULL)
    except CellExecutionError:
        errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        e = errors[-1] if errors else {}
        result.update(status="error", ename=e.get("ename"), evalue=e.get("evalue"),
                      traceback=e.get("traceback", []))
    result["seconds"] = round(time.monotonic() - started, 1)
    return result

with ThreadPoolExecutor(2) as pool:
    print(json.dumps(list(pool.map(one, sys.argv[2:]))))
'''


def _timed(args, cwd, timeout=1800, env=None):
    started = time.monotonic()
    done = run(args, cwd, timeout=timeout, env=dict(PIP_ENV, **(env or {})))
    return done, time.monotonic() - started


def _fresh_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    return path / "bin" / "python"


def _readme_setup(edition: Path):
    """The set-up command of the edition's README, exactly as written there."""
    readme = (edition / "README.md").read_text()
    block = readme.split("**Set up, once:**", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    command = shlex.split(block.strip())
    assert command[:3] == ["python", "-m", "pip"], command
    return command


def _install(python: Path, edition: Path, what: str):
    command = _readme_setup(edition)
    done, seconds = _timed([python] + command[1:], cwd=edition)
    assert done.returncode == 0, done.stdout[-3000:]
    print(f"\n[timing] {what}: `{shlex.join(command)}`: {seconds:.0f} s")
    return seconds


def _solve(edition: Path, tags):
    """Copy the solution regions of ``tags`` into the edition (the others stay stubs)."""
    for rel in MARKED:
        text, regions = strip_source((ROOT / rel).read_text(), rel, TAGS, keep=set(tags),
                                     import_line=stub_import(rel))
        if any(r.tag in tags for r in regions):
            (edition / rel).write_text(text)


def _run_notebooks(python: Path, edition: Path, names):
    script = edition.parent / "run_notebooks.py"
    script.write_text(RUNNER)
    paths = [str(edition / "notebooks" / n) for n in names]
    done = run([python, script, edition / "notebooks"] + paths, cwd=edition, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:]
    return {Path(r["notebook"]).name: r for r in json.loads(done.stdout.strip().splitlines()[-1])}


def _needs(release_folder: Path) -> dict:
    found = json.loads((release_folder / "release.json").read_text())["needs"]
    return {Path(rel).name: set(needs) for rel, needs in found.items()}


def _stub_stop(result) -> str | None:
    """The assignment of the one-line stub message a notebook stopped with, else None."""
    if result["status"] != "error" or result.get("ename") != "NotImplementedError":
        return None
    lines = result["traceback"]
    match = STUB_LINE.match(lines[0]) if len(lines) == 1 else None
    return match.group(1) if match else None


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """One environment for the module, fresh at its start: the a1 set-up runs in it first,
    then (in file order) the a4 set-up, a non-editable install and the instructor README."""
    return _fresh_venv(tmp_path_factory.mktemp("venv") / "venv")


@pytest.fixture(scope="module")
def a1(venv, release_dir, tmp_path_factory):
    base = tmp_path_factory.mktemp("a1")
    edition = base / "edition"
    shutil.copytree(release_dir / "student", edition)
    _install(venv, edition, "student set-up, stage a1, on a fresh venv")
    return venv, edition, _needs(release_dir)


@pytest.fixture(scope="module")
def a4(venv, a1, tmp_path_factory):
    base = tmp_path_factory.mktemp("a4")
    release(ROOT, base / "release", stage="a4", log=lambda *a: None)   # cached recordings
    edition = base / "edition"
    shutil.copytree(base / "release" / "student", edition)
    _install(venv, edition, "student set-up, stage a4, over the a1 install")
    return venv, edition, _needs(base / "release")


def test_day_one_check_prints_the_table_and_exits_1(a1, tmp_path):
    python, edition, _ = a1
    minisegnet = python.parent / "minisegnet"
    done = run([minisegnet, "check", "a1"], cwd=edition)
    print("\n[day one] minisegnet check a1\n" + done.stdout)
    assert done.returncode == 1, done.stdout[-3000:]
    assert "total: 0 / 40" in done.stdout and "not implemented" in done.stdout
    assert "Traceback" not in done.stdout
    done = run([minisegnet, "--version"], cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("minisegnet "), done.stdout
    where = run([python, "-c", "import minisegnet; print(minisegnet.__file__)"], cwd=tmp_path)
    assert Path(where.stdout.strip()).parent == edition / "minisegnet", where.stdout


def test_notebooks_at_stage_a1_before_and_after_a1_is_solved(a1):
    python, edition, needs = a1
    names = sorted(needs)
    before = _run_notebooks(python, edition, names)
    print("\n[a1, nothing written] " + ", ".join(f"{n[:2]} {r['status']} {r['seconds']} s"
                                                 for n, r in sorted(before.items())))
    for name in names:
        result = before[name]
        if not needs[name]:
            assert result["status"] == "ok", (name, result)
        else:
            stopped = _stub_stop(result)
            assert stopped in needs[name], (name, result)
    assert before["01-task-and-measures.ipynb"]["status"] == "ok"
    assert before["02-fully-convolutional.ipynb"]["status"] == "ok"

    _solve(edition, {"A1"})
    waiting = [n for n in names if needs[n]]          # the others ran clean above already
    after = _run_notebooks(python, edition, waiting)
    print("\n[a1, A1 written] " + ", ".join(f"{n[:2]} {r['status']} {r['seconds']} s"
                                            for n, r in sorted(after.items())))
    for name in waiting:
        if needs[name] <= {"A1"}:
            assert after[name]["status"] == "ok", (name, after[name])
        else:
            assert _stub_stop(after[name]) in needs[name] - {"A1"}, (name, after[name])
    assert any(needs[n] == {"A1"} for n in names)


def test_stage_a4_grades_a4_and_its_notebooks_run_once_a4_is_written(a4):
    python, edition, needs = a4
    done = run([python.parent / "minisegnet", "check", "a4", "--all"], cwd=edition)
    assert done.returncode == 1 and "total: 0 / 40" in done.stdout, done.stdout[-3000:]
    done = run([python.parent / "minisegnet", "check", "a1", "--quiet"], cwd=edition)
    assert done.returncode == 0 and "total: 40 / 40" in done.stdout, done.stdout[-3000:]
    a4_notebooks = sorted(n for n, tags in needs.items() if "A4" in tags)
    assert a4_notebooks
    before = _run_notebooks(python, edition, a4_notebooks)
    assert all(_stub_stop(r) == "A4" for r in before.values()), before
    _solve(edition, {"A1", "A2", "A3", "A4"})
    # the quickest of them runs to the end once A4 is written (the release ran them all on a
    # solved edition, and notebook 09 runs below in the instructor's environment)
    quickest = min(a4_notebooks, key=lambda n: before[n]["seconds"] if n[:2] != "09" else 1e9)
    after = _run_notebooks(python, edition, [quickest])
    print(f"\n[a4, A4 written] {quickest}: {after[quickest]['status']}, "
          f"{after[quickest]['seconds']} s")
    assert after[quickest]["status"] == "ok", after


def test_without_pytest_and_with_a_non_editable_install(venv, a4, release_dir, tmp_path):
    python = venv
    edition = tmp_path / "edition"
    shutil.copytree(release_dir / "student", edition)
    # no pytest: check says so, and how to get it (pytest hidden from this Python)
    hide = ("import sys; sys.modules['pytest'] = None; from minisegnet.cli import main; "
            "sys.exit(main(['check', 'a1']))")
    done = run([python, "-c", hide], cwd=edition)
    assert done.returncode == 2, done.stdout
    assert "pytest" in done.stdout and 'python -m pip install -e ".[course]"' in done.stdout
    # `pip install .`: pytest assignments/a1 tests the files of the folder, not the install
    done, seconds = _timed([python, "-m", "pip", "install", "-q", "."], cwd=edition)
    assert done.returncode == 0, done.stdout[-3000:]
    print(f"\n[timing] pip install . of the edition over the others: {seconds:.0f} s")
    installed = run([python, "-c", "import minisegnet; print(minisegnet.__file__)"], cwd=tmp_path)
    assert "site-packages" in installed.stdout, installed.stdout
    _solve(edition, {"A1"})
    done = run([python, "-m", "pytest", "assignments/a1", "-q", "-p", "no:cacheprovider"],
               cwd=edition)
    assert done.returncode == 0 and "failed" not in done.stdout, done.stdout[-3000:]
    done = run([python.parent / "pytest", str(edition / "assignments" / "a1"), "-q",
                "-p", "no:cacheprovider"], cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:]
    # without the project's configuration the installed copy would be tested: refused at once
    (tmp_path / "empty.ini").write_text("[pytest]\n")
    done = run([python, "-m", "pytest", "-c", tmp_path / "empty.ini", "--rootdir", edition,
                edition / "assignments" / "a1", "-q", "-p", "no:cacheprovider"], cwd=tmp_path)
    assert done.returncode != 0 and " passed" not in done.stdout, done.stdout[-3000:]
    assert "must run the files of" in done.stdout, done.stdout[-3000:]
    # and outside any project, check says where to go
    done = run([python.parent / "minisegnet", "check", "a1"], cwd=tmp_path)
    assert done.returncode == 2 and "no project found" in done.stdout, done.stdout


def test_instructor_readme_a_then_b_in_one_environment(venv, tmp_path):
    python = venv
    repo = tmp_path / "repo"
    for rel in project_files(ROOT):
        if not rel.startswith((".git/", "build/")) and "egg-info" not in rel:
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / rel, repo / rel)
    readme = (repo / "README.md").read_text()
    assert "python -m pip install . && minisegnet demo" in readme
    command_b = 'python -m pip install -e ".[dev]" && python -m ruff check . && python -m pytest'
    assert command_b in readme
    assert command_b.replace("install -e", "install -q -e") in (ROOT / ".ci" / "run").read_text()
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "NUMBA_CACHE_DIR": ""}
    done, seconds = _timed([python, "-m", "pip", "install", "."], cwd=repo, env=cache)
    assert done.returncode == 0, done.stdout[-3000:]
    print(f"\n[timing] README (a) `python -m pip install .` over the others: {seconds:.0f} s")
    done = run([python.parent / "minisegnet", "demo", "--quick", "--iterations", "2",
                "--no-progress", "--out", tmp_path / "out"], cwd=repo, env=cache, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:]
    site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                    cwd=tmp_path).stdout.strip())
    assert not list(site.rglob("*.nbi")) and not list(site.rglob("*.nbc")), "Numba cache in site"
    assert list((tmp_path / "cache" / "minisegnet" / "numba").rglob("*.nbi"))
    done, seconds = _timed([python, "-m", "pip", "install", "-e", ".[dev]"], cwd=repo, env=cache)
    assert done.returncode == 0, done.stdout[-3000:]
    print(f"[timing] README (b) `python -m pip install -e \".[dev]\"` after (a): {seconds:.0f} s")
    done = run([python.parent / "minisegnet", "--version"], cwd=tmp_path, env=cache)
    assert done.returncode == 0 and done.stdout.startswith("minisegnet "), done.stdout
    where = run([python, "-c", "import minisegnet; print(minisegnet.__file__)"], cwd=tmp_path)
    assert Path(where.stdout.strip()).parent == repo / "minisegnet", where.stdout
    # a lecture notebook runs in this environment's kernel (`python -m jupyter` would run the
    # jupyter-nbconvert first on PATH, and its kernel, not this environment's)
    done = run([python, "-m", "nbconvert", "--to", "notebook", "--execute", "--stdout",
                "notebooks/09-dense-crf.ipynb"], cwd=repo, env=cache, timeout=900)
    assert done.returncode == 0 and '"output_type": "error"' not in done.stdout, done.stdout[-3000:]
    assert '"image/png"' in done.stdout
