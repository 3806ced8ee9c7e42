"""The student edition as a student meets it (issue 13), on the session's stage-a1 release.

Its README names only what the edition has; the lecture notebooks ship with the solution's
outputs (figures included, exercise cells empty) and the lessons index's "needs" column is
what the release measured; a stub says in one line what to write, where, for which
assignment; ``check`` on day one shows the table and the lowest-level function first, marks
a file that does not compile, and exits 1; the grader bundles come zipped, with pinned
versions. The fresh-venv installs are in ``test_student_install.py``.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sys
import zipfile
from pathlib import Path

import pytest

from minisegnet import cli
from minisegnet.course.commands import function_order
from minisegnet.course.config import load_course
from minisegnet.course.edition import SETUP_COMMAND, needs_from_index
from minisegnet.course.markers import find_regions
from minisegnet.course.staging import use_posted

from .conftest import ASSIGNMENTS, ROOT, TAGS, run

INSTRUCTOR_ONLY = ("minisegnet release", "minisegnet grade", ".ci/", "shared/API.md",
                   "--hidden", "For instructors", "hidden/")


def _lecture_notebooks(edition):
    return sorted((edition / "notebooks").glob("*.ipynb"))


def test_the_release_records_its_stage(release_dir):
    stamp = json.loads((release_dir / "release.json").read_text())
    assert stamp["stage"] == "a1"
    assert sorted(stamp["needs"]) == [p.relative_to(ROOT).as_posix()
                                      for p in sorted((ROOT / "notebooks").glob("*.ipynb"))]


# ---------------------------------------------------------------- the student README


def _named_in(readme: str):
    """Every path-like token and every command line the README names."""
    spans = re.findall(r"`([^`\n]+)`", readme)
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.S)
    commands = [line.strip() for block in blocks for line in block.splitlines() if line.strip()]
    commands += [s for s in spans if s.split()[0] in ("minisegnet", "pytest", "python", "jupyter")]
    links = re.findall(r"\]\(([^)#\s]+)\)", readme)
    paths = [s for s in spans if "/" in s and " " not in s and not s.startswith("-")]
    paths += [s for s in spans if re.fullmatch(r"[\w.-]+\.(py|md|ipynb|toml)", s)]
    return commands, paths + links


def test_student_readme_names_only_what_the_edition_has(edition):
    readme = (edition / "README.md").read_text()
    assert readme != (ROOT / "README.md").read_text()
    for word in INSTRUCTOR_ONLY:
        assert word not in readme, word
    assert SETUP_COMMAND in readme and "minisegnet check a1" in readme
    commands, paths = _named_in(readme)
    assert len(commands) >= 6 and len(paths) >= 20
    for rel in paths:
        if rel.endswith(".py") and "/" not in rel:   # a file named alone: it is submitted
            assert list(edition.rglob(rel)), rel
            continue
        assert (edition / rel.rstrip("/")).exists(), f"the README names {rel}, not in the edition"
    parser = cli._build_parser()
    pyproject = (edition / "pyproject.toml").read_text()
    for command in commands:
        words = shlex.split(command.split("#")[0])
        if words[0] == "minisegnet":
            parser.parse_args(words[1:])      # exits (failing the test) on an unknown command
        elif words[0] == "pytest":
            assert (edition / words[1]).exists(), command
        elif words[:3] == ["python", "-m", "pip"]:
            extra = re.search(r"\[(\w+)\]", command).group(1)
            assert re.search(rf"^{extra} = \[", pyproject, re.M), command
        elif words[:2] == ["jupyter", "lab"]:
            assert (edition / words[2]).is_dir(), command
        elif words[:3] in (["python", "-m", "venv"], ["python", "-m", "pytest"]):
            assert (edition / "tests").is_dir()
        else:
            assert words[0] == "source", command
    # the lessons table with its "needs" column, one row per unit
    rows = [line for line in readme.splitlines() if re.match(r"^\| \d\d \|", line)]
    assert len(rows) == len(_lecture_notebooks(edition))
    assert rows[0].endswith("| nothing |") and rows[1].endswith("| nothing |")


def test_student_readme_of_a_later_stage_says_what_is_posted(tmp_path):
    from minisegnet.course.config import load_course
    from minisegnet.course.edition import student_readme

    course = load_course(ROOT)
    text = student_readme(ROOT, course, "a3", {}, ["notebooks/01-task-and-measures.ipynb"])
    assert "assignment **A3" in text and "minisegnet check a3" in text
    assert "The solutions of A1, A2 are filled in" in text
    assert "| [A4](assignments/a4/README.md)" in text and "to come" in text


# ---------------------------------------------------------------- notebooks and needs


def test_lecture_notebooks_ship_rendered_without_exercise_outputs(edition):
    notebooks = _lecture_notebooks(edition)
    assert len(notebooks) == 12
    for path in notebooks:
        nb = json.loads(path.read_text())
        figures = 0
        for cell in nb["cells"]:
            if cell["cell_type"] != "code":
                continue
            tags = set(cell["metadata"].get("tags", []))
            if tags & {"exercise", "solution"}:
                assert cell["outputs"] == [] and cell["execution_count"] is None, path.name
                continue
            assert cell["execution_count"] is not None, path.name
            for output in cell["outputs"]:
                assert output["output_type"] != "error", path.name
                figures += "image/png" in output.get("data", {})
                text = json.dumps(output)
                assert "msn-render-" not in text and str(ROOT) not in text, path.name
        assert figures >= 1, f"{path.name} ships without a figure"
    for name in ASSIGNMENTS:       # the guiding notebooks stay clean: students run them
        nb = json.loads((edition / "assignments" / name / f"{name}.ipynb").read_text())
        assert all(c.get("outputs", []) == [] for c in nb["cells"] if c["cell_type"] == "code")


NOTEBOOK_SECONDS = 120     # each lecture notebook, top to bottom, in a fresh kernel


def test_lecture_notebooks_run_on_the_solution_within_their_budget(release_dir):
    """The release's rendering is the one execution of every lecture notebook in a fresh
    kernel (a notebook that fails stops the release); each one that it ran (not taken from
    the rendering cache) took less than ``NOTEBOOK_SECONDS``."""
    log = (release_dir.parent / "release.log").read_text(encoding="utf-8")
    times = {m.group(1): int(m.group(2))
             for m in re.finditer(r"rendered (notebooks/\S+\.ipynb) in (\d+) s", log)}
    shipped = {p.relative_to(ROOT).as_posix() for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert set(times) <= shipped
    slow = {rel: s for rel, s in times.items() if s >= NOTEBOOK_SECONDS}
    assert not slow, f"notebooks over {NOTEBOOK_SECONDS} s: {slow}"
    for rel, seconds in sorted(times.items()):
        print(f"{rel}: {seconds} s")


def test_exercise_outputs_are_left_out_by_tag():
    from minisegnet.course.notebooks import merge_outputs

    cells = [{"cell_type": "code", "metadata": {"tags": tags}, "source": "1", "outputs": [],
              "execution_count": None} for tags in ([], ["exercise"], ["solution"])]
    stripped = json.dumps({"cells": cells})
    for cell in cells:
        cell.update(outputs=[{"output_type": "stream", "name": "stdout", "text": "1\n"}],
                    execution_count=1)
    merged = json.loads(merge_outputs(stripped, json.dumps({"cells": cells})))["cells"]
    assert [len(c["outputs"]) for c in merged] == [1, 0, 0]


def test_lessons_index_needs_column_is_what_the_release_measured(release_dir):
    measured = json.loads((release_dir / "release.json").read_text())["needs"]
    index = needs_from_index((ROOT / "lessons" / "README.md").read_text())
    assert index, "lessons/README.md needs a 'needs' column"
    want = {Path(rel).stem[:2]: ", ".join(needs) for rel, needs in measured.items()}
    assert index == want, ("update the needs column of lessons/README.md to what "
                           "`minisegnet release` printed", want)
    assert want["01"] == "" and want["02"] == ""


# ---------------------------------------------------------------- stubs


def test_a_stub_names_function_file_and_assignment_in_one_line(edition):
    text = (edition / "minisegnet/functional/conv_matrix.py").read_text()
    assert "from .._stubs import NotImplementedError" in text
    done = run([sys.executable, "-c",
                "import numpy as np\nfrom minisegnet import functional as F\n"
                "try:\n    F.im2col(np.zeros((1, 1, 4, 4)), 3)\nexcept NotImplementedError as e:\n"
                "    print(type(e).__module__, e.function, e.file, e.assignment)\n"
                "    print(e._render_traceback_())\n"], cwd=edition)
    assert done.returncode == 0, done.stdout
    first, second = done.stdout.splitlines()[:2]
    assert first == "minisegnet._stubs im2col minisegnet/functional/conv_matrix.py A1"
    rendered = eval(second)
    assert len(rendered) == 1 and "im2col" in rendered[0] and "A1" in rendered[0]
    assert "minisegnet/functional/conv_matrix.py" in rendered[0]


def test_a_stub_stops_the_cli_with_one_line(edition):
    done = run([sys.executable, "-m", "minisegnet", "tour", "--quick"], cwd=edition, timeout=300)
    assert done.returncode == 1, done.stdout[-2000:]
    lines = [line for line in done.stdout.splitlines() if "NotImplementedError" in line]
    assert len(lines) == 1 and "Traceback" not in done.stdout, done.stdout[-2000:]
    assert re.search(r"minisegnet tour: NotImplementedError: \w+ in minisegnet/\S+\.py is not "
                     r"written yet: it is part of assignment A\d", lines[0]), lines[0]


def test_a_stub_fails_its_pytest_test_with_one_line(edition):
    done = run([sys.executable, "-m", "pytest", "assignments/a1", "-x", "-q",
                "-p", "no:cacheprovider"], cwd=edition)
    assert done.returncode == 1, done.stdout[-2000:]
    assert "Traceback" not in done.stdout and "harness.py" not in done.stdout, done.stdout[-3000:]
    assert re.search(r"NotImplementedError: \w+ in minisegnet/functional/\w+\.py is not written "
                     r"yet: it is part of assignment A1", done.stdout), done.stdout[-3000:]


# ---------------------------------------------------------------- check


@pytest.fixture(scope="module")
def day_one(edition, tmp_path_factory):
    tree = tmp_path_factory.mktemp("day-one") / "edition"
    shutil.copytree(edition, tree)
    return tree


def test_check_on_day_one_shows_the_table_and_the_lowest_level_function_first(day_one):
    done = run([sys.executable, "-m", "minisegnet", "check", "a1", "--all"], cwd=day_one)
    assert done.returncode == 1, done.stdout[-3000:]
    out = done.stdout
    assert "total: 0 / 40" in out and "not implemented" in out and "Traceback" not in out
    failures = out.split("Every failure, the lowest-level function first:", 1)[1]
    lines = [line for line in failures.split("\n\n")[1].splitlines() if line.strip()]
    assert len(lines) == out.count("  not implemented") >= 10, out
    order = function_order(ROOT, load_course(ROOT).assignment("a1").files)
    names = [re.search(r": (\w+) is not written yet \(minisegnet/\S+\.py, A1\)$", line).group(1)
             for line in lines]
    levels = [order[name][0] for name in names]
    assert levels == sorted(levels) and levels[0] < levels[-1], lines
    done = run([sys.executable, "-m", "minisegnet", "check", "a1"], cwd=day_one)
    assert done.returncode == 1 and "Start with the lowest-level function that fails" in done.stdout
    assert lines[0] in done.stdout


def test_check_marks_a_file_that_does_not_compile(day_one, tmp_path):
    tree = tmp_path / "broken"
    shutil.copytree(day_one, tree)
    conv = tree / "minisegnet/functional/conv.py"
    lines = conv.read_text().splitlines() + ["unfinished = max(1,"]   # a student mid-edit
    at = len(lines) - 1
    conv.write_text("\n".join(lines) + "\n")
    done = run([sys.executable, "-m", "minisegnet", "check", "a1"], cwd=tree)
    assert done.returncode == 1, done.stdout[-3000:]
    assert "Traceback" not in done.stdout, done.stdout[-3000:]
    mark = f"conv.py does not compile (line {at + 1}: '(' was never closed)"
    assert mark in done.stdout and "total: 0 / 40" in done.stdout, done.stdout[-3000:]
    table = done.stdout.split("total:")[0]
    assert table.count(mark) >= 10


def test_check_of_a_folder_that_is_no_project_says_so(tmp_path):
    done = run([sys.executable, "-m", "minisegnet", "check", "a1", "--root", tmp_path], cwd=tmp_path)
    assert done.returncode == 2 and "course.json" in done.stdout, done.stdout


# ---------------------------------------------------------------- staged grading, bundles


def test_a_later_grader_uses_the_posted_solution_of_earlier_functions(tmp_path):
    package = tmp_path / "minisegnet"
    package.mkdir()
    (package / "lib.py").write_text(
        "import math\n\n\ndef early(x):\n    return x + 1\n\n\nclass K:\n"
        "    def method(self):\n        return 'posted'\n\n\ndef late(x):\n    raise NotImplementedError\n")
    submitted = ("import math\n\n\ndef helper():\n    return 2\n\n\ndef early(x):\n    return x - 1  "
                 "# an A1 mistake\n\n\nclass K:\n  def method(self):\n    return 'mine'\n\n\n"
                 "def late(x):\n    return helper() * x\n")
    overlay = {"minisegnet/lib.py": submitted.encode()}
    new, notes = use_posted(overlay, package, {"minisegnet/lib.py": ["K.method", "early"]})
    namespace = {}
    exec(new["minisegnet/lib.py"].decode(), namespace)
    assert namespace["early"](1) == 2 and namespace["late"](3) == 6
    assert namespace["K"]().method() == "posted"
    assert notes and "early" in notes[0] and "K.method" in notes[0]
    same, none = use_posted(overlay, package, {})
    assert same == overlay and none == []


def test_bundles_are_zipped_pinned_and_staged(release_dir, manifests):
    for name in ASSIGNMENTS:
        bundle = release_dir / "grader" / name
        with zipfile.ZipFile(release_dir / "grader" / f"{name}.zip") as archive:
            listed = sorted(archive.namelist())
            assert listed == sorted(p.relative_to(bundle).as_posix()
                                    for p in bundle.rglob("*") if p.is_file())
            assert archive.getinfo("setup.sh").external_attr >> 16 & 0o111
            assert archive.read("manifest.json") == (bundle / "manifest.json").read_bytes()
        setup = (bundle / "setup.sh").read_text()
        assert "pip --version" in setup
        import numpy
        assert f"numpy=={numpy.__version__}" in setup and f"pytest=={pytest.__version__}" in setup
        earlier = [a for a in ASSIGNMENTS if a < name]
        assert manifests[name]["stage_of"] == earlier
        # the bundle's base package is its own stage: earlier regions filled in, its own stubbed
        student = bundle / "student"
        for rel, names in manifests[name]["posted"].items():
            text = (student / rel).read_text()
            for qualname in names:
                assert f"implement {qualname} " not in text, (name, rel, qualname)
        own = [r for rel in manifests[name]["marked_files"] if rel.endswith(".py")
               for r in find_regions((ROOT / rel).read_text(), rel, TAGS) if r.tag == name.upper()]
        assert own
        for region in own:
            assert f"implement {region.qualname} in" in (student / region.path).read_text()


# ---------------------------------------------------------------- the instructor README


def test_instructor_readme_is_current_and_lists_every_public_name():
    import importlib

    readme = (ROOT / "README.md").read_text()
    for stale in ("as the course grows", "to come", "so far", "shared/API.md"):
        assert stale not in readme, stale
    assert "[`docs/API.md`](docs/API.md)" in readme and (ROOT / "docs" / "API.md").is_file()
    rows, module = {}, None
    for line in readme.split("| module | what is in it |", 1)[1].split("\n\n", 1)[0].splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 2 and not cells[0].startswith("---"):
            module = cells[0].strip("`") or module
            rows[module] = rows.get(module, "") + cells[1]
    for name in ("backend", "functional", "nn", "metrics", "crf", "data", "models", "train",
                 "gradcheck"):
        listed = set(re.findall(r"`(\w+)", rows[f"minisegnet.{name}"]))
        public = set(importlib.import_module(f"minisegnet.{name}").__all__)
        assert not public - listed, (name, sorted(public - listed))


def test_no_notebook_writes_to_a_hard_coded_path():
    for path in sorted(ROOT.glob("notebooks/*.ipynb")) + sorted(ROOT.glob("assignments/*/*.ipynb")):
        sources = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])
        assert not re.search(r"[\"']/tmp/", sources), path.name


def test_the_module_a_probe_receives_comes_from_the_assignment(tmp_path):
    from minisegnet.course.config import ConfigError, assignment_module
    from minisegnet.course.harness import State

    folder = tmp_path / "a9"
    (folder / "tests").mkdir(parents=True)
    (folder / "tests" / "probes.py").write_text("def mean(F, x):\n    return {'m': x}\n")
    (folder / "assignment.json").write_text(json.dumps({"id": "a9", "module": "minisegnet.metrics"}))
    assert assignment_module(folder) == "minisegnet.metrics"
    assert State(folder).functional().__name__ == "minisegnet.metrics"
    (folder / "assignment.json").write_text(json.dumps({"id": "a9"}))
    assert State(folder).functional().__name__ == "minisegnet.functional"
    (folder / "assignment.json").write_text(json.dumps({"id": "a9", "module": "no such; thing"}))
    with pytest.raises(ConfigError, match="dotted module name"):
        assignment_module(folder)


def test_the_a2_grader_grades_a1_code_with_the_posted_solution(release_dir, tmp_path):
    """A submission whose A1 functions are still stubs gets every public A2 point."""
    from minisegnet.course.grading import Bundle, grade_submission
    from minisegnet.course.markers import strip_source, stub_import

    bundle = Bundle.load(release_dir / "grader" / "a2")
    assert bundle.manifest["posted"], "the a2 grader knows no posted A1 function"
    submission = tmp_path / "submission"
    submission.mkdir()
    for rel in bundle.manifest["marked_files"]:
        text, _ = strip_source((ROOT / rel).read_text(), rel, TAGS, keep=TAGS - {"A1"},
                               import_line=stub_import(rel))
        (submission / Path(rel).name).write_text(text)
    results, _ = grade_submission(bundle, submission, hidden=False)
    public = bundle.manifest["points"]["public"]
    failed = [t["name"] for t in results["tests"] if t["status"] != "passed"]
    assert results["score"] == public and not failed, failed
    assert "graded with the posted solution" in results["output"]
