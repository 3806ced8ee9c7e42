"""Acceptance 1 (no leaks) and the release itself: determinism, manifest, bundles, markers.

The student edition holds no marker, no hidden test, no oracle and no line of any solution
region; it imports; every graded public test fails cleanly on it (a failure, never a
collection error); the project tests it ships pass on the stubs.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from minisegnet.course.markers import is_marker_like, scan_file
from minisegnet.course.release import ReleaseError, project_files, release

from .conftest import ASSIGNMENTS, MARKED, ROOT, TAGS, run


def _texts(root: Path):
    for path in sorted(root.rglob("*")):
        if path.is_file():
            try:
                yield path, path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue


def _region_lines():
    """Every solution region of the repository: (where, stripped non-blank lines)."""
    regions = []
    notebooks = [f"assignments/{name}/{name}.ipynb" for name in ASSIGNMENTS
                 if (ROOT / "assignments" / name / f"{name}.ipynb").is_file()]
    for rel in MARKED + notebooks:
        tag = rel.split("/")[1].upper() if rel.startswith("assignments/") else None
        for region in scan_file(ROOT / rel, rel, TAGS, tag):
            regions.append((f"{rel}:{region.begin}", [s.strip() for s in region.lines if s.strip()]))
    return regions


def test_release_is_deterministic(release_dir, tmp_path):   # release_dir fills the cache
    # Two releases back to back (the session's release is older: the tree may have moved on),
    # both taking the recordings from the per-user cache that the session's release filled
    # (a rendering is not repeatable: notebooks print timings). What is compared is how a
    # release packs: stubs, manifests, bundles, zips. Recording afresh costs two minutes and
    # is the same seeded computation; the session's release records once per fresh machine.
    first, second = tmp_path / "first", tmp_path / "second"
    release(ROOT, first, render=False, log=lambda *a: None)
    release(ROOT, second, render=False, log=lambda *a: None)
    differ = [p.relative_to(first).as_posix() for p in sorted(first.rglob("*")) if p.is_file()
              and p.read_bytes() != (second / p.relative_to(first)).read_bytes()]
    assert not differ, differ[:10]
    assert sorted(p.relative_to(first) for p in first.rglob("*")) == sorted(
        p.relative_to(second) for p in second.rglob("*"))


def test_student_edition_has_no_marker_no_hidden_test_and_no_oracle(edition):
    markers = [f"{p}:{n}" for p, text in _texts(edition)
               for n, line in enumerate(text.splitlines(), 1) if is_marker_like(line)]
    assert not markers, markers[:5]
    files = [p.relative_to(edition).as_posix() for p in edition.rglob("*") if p.is_file()]
    assert not [f for f in files if "/hidden/" in f], "hidden tests shipped"
    assert not [f for f in files if "reference" in Path(f).name], "oracles shipped"
    assert sorted(f for f in files if f.startswith("tests/")) == sorted(
        json.loads((ROOT / "assignments/course.json").read_text())["student_edition"]["project_tests"])
    hidden_sources = [p.read_text() for p in ROOT.glob("assignments/*/tests/hidden/*.py")]
    hidden_names = {m for src in hidden_sources for m in re.findall(r"def (test_\w+)", src)}
    for path, text in _texts(edition):
        assert not any(name in text for name in hidden_names), f"{path} names a hidden test"
        assert not any(src.strip() in text for src in hidden_sources)


def test_student_edition_has_no_line_of_any_solution_region(edition):
    regions = _region_lines()
    assert len(regions) >= 26
    outside = set()
    for rel in project_files(ROOT):
        if rel.endswith((".py", ".ipynb", ".md")) and not rel.startswith(("tests/course/",)):
            text = (ROOT / rel).read_text(encoding="utf-8", errors="replace")
            inside = set()
            if rel in MARKED:
                for region in scan_file(ROOT / rel, rel, TAGS):
                    inside.update(range(region.begin, region.end + 1))
            if rel.endswith(".ipynb"):
                continue  # notebook regions are cell-relative; their other lines are not needed
            outside.update(line.strip() for n, line in enumerate(text.splitlines(), 1)
                           if n not in inside)
    distinctive = {line for _, lines in regions for line in lines
                   if len(line) >= 12 and line not in outside}
    assert len(distinctive) > 50
    for path, text in _texts(edition):
        found = distinctive & {line.strip() for line in text.splitlines()}
        if path.suffix == ".ipynb":
            cells = json.loads(text)["cells"]
            found |= distinctive & {line.strip() for c in cells for line in "".join(c["source"]).splitlines()}
        assert not found, f"{path.relative_to(edition)} holds solution lines: {sorted(found)[:3]}"
    # and no block of three consecutive region lines anywhere
    blocks = {tuple(lines[k:k + 3]) for _, lines in regions for k in range(len(lines) - 2)}
    for path, text in _texts(edition):
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        assert not blocks & {tuple(lines[k:k + 3]) for k in range(len(lines) - 2)}, path


def test_student_edition_imports_and_its_own_tests_pass(edition):
    done = run([sys.executable, "-c", "import minisegnet, minisegnet.functional, minisegnet.nn; "
                                      "print(minisegnet.__file__)"], cwd=edition)
    assert done.returncode == 0, done.stdout
    assert Path(done.stdout.strip()).resolve().is_relative_to(edition.resolve())
    done = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=edition)
    assert done.returncode == 0, done.stdout[-3000:]
    assert " passed" in done.stdout and "failed" not in done.stdout


def test_graded_public_tests_fail_cleanly_on_the_stubs(edition, manifests, tmp_path):
    report = tmp_path / "junit.xml"
    done = run([sys.executable, "-m", "pytest", "assignments", "-q", "-p", "no:cacheprovider",
                f"--junitxml={report}"], cwd=edition)
    assert done.returncode == 1, done.stdout[-3000:]
    suite = ET.parse(report).getroot().find("testsuite")
    assert int(suite.get("errors")) == 0, done.stdout[-3000:]
    cases = suite.findall("testcase")
    units = [json.loads(p.read_text()) for p in sorted((edition.parent / "grader").glob("u*/manifest.json"))]
    public = sum(t["kind"] == "public" for m in list(manifests.values()) + units for t in m["tests"])
    assert len(cases) == public
    for case in cases:
        failure = case.find("failure")
        assert failure is not None and case.find("error") is None, case.get("name")
        text = failure.get("message", "") + (failure.text or "")
        # a lecture unit's exercise left as its stub: a function raising NotImplementedError
        # or an answer left at None
        assert "NotImplementedError" in text or "Not answered yet" in text, (case.get("name"), text)


def test_assignment_notebooks_are_stored_clean_and_solution_cells_stubbed(edition):
    for path in sorted(edition.rglob("*.ipynb")):
        lecture = path.parent == edition / "notebooks"   # shipped rendered: test_edition_release
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code" and not lecture:
                assert cell["outputs"] == [] and cell["execution_count"] is None, path
            if "solution" in cell["metadata"].get("tags", []):
                assert "raise NotImplementedError()" in "".join(cell["source"]), path
    for name in ASSIGNMENTS:
        source = json.loads((ROOT / "assignments" / name / f"{name}.ipynb").read_text())
        assert sum("solution" in c["metadata"].get("tags", []) for c in source["cells"]) >= 3


def test_manifest_lists_every_test_with_points(manifests):
    for name, manifest in manifests.items():
        config = json.loads((ROOT / "assignments" / name / "assignment.json").read_text())
        tests = manifest["tests"]
        assert len({t["id"] for t in tests}) == len(tests)
        assert len({t["number"] for t in tests}) == len(tests)
        public = [t for t in tests if t["kind"] == "public"]
        hidden = [t for t in tests if t["kind"] == "hidden"]
        assert 10 <= len(public) <= 20, (name, len(public))
        assert hidden and all(t["visibility"] == "after_due_date" for t in hidden)
        assert all(t["visibility"] == "visible" for t in public)
        assert sum(t["points"] for t in public) == config["points"]["public"]
        assert sum(t["points"] for t in hidden) == config["points"]["hidden"]
        assert manifest["points"]["total"] == sum(t["points"] for t in tests)


def test_readme_points_table_matches_the_manifest(manifests):
    row = re.compile(r"^\| `(test_\w+\.py|hidden/)` \|[^|]*\| *(\d*) *\| *(\d*) *\|$")
    for name, manifest in manifests.items():
        table = {}
        for line in (ROOT / "assignments" / name / "README.md").read_text().splitlines():
            m = row.match(line)
            if m:
                table[m.group(1)] = int(m.group(2) or m.group(3))
        want = {}
        for t in manifest["tests"]:
            key = "hidden/" if t["kind"] == "hidden" else t["id"].split("::")[0].split("/")[-1]
            want[key] = want.get(key, 0) + t["points"]
        assert table == want, name


def test_grader_bundle_layout(release_dir, manifests):
    for name in manifests:
        bundle = release_dir / "grader" / name
        for script in ("setup.sh", "run_autograder"):
            assert (bundle / script).stat().st_mode & 0o111, script
        assert list((bundle / "trusted/assignments" / name / "tests/hidden").glob("test_*.py"))
        assert (bundle / "trusted/assignments" / name / "tests/public/expected.npz").is_file()
        stub = (bundle / "student/minisegnet/functional/conv.py").read_text()
        assert "### BEGIN" not in stub
        assert ("raise NotImplementedError" in stub) == (name in ("a1", "a2")), name
        assert "pytest" in (bundle / "setup.sh").read_text()


def _fake_project(root: Path, library: str):
    (root / "assignments/a1/tests/public").mkdir(parents=True)
    (root / "assignments/course.json").write_text(json.dumps(
        {"student_edition": {"exclude": ["/tests"], "project_tests": []}}))
    (root / "assignments/a1/assignment.json").write_text(json.dumps(
        {"id": "a1", "files": ["minisegnet/lib.py"], "points": {"public": 1}}))
    (root / "minisegnet").mkdir()
    (root / "minisegnet/__init__.py").write_text("")
    (root / "minisegnet/lib.py").write_text(library)


@pytest.mark.parametrize("library, message", [
    ("def f():\n    ### BEGIN SOLUTION A1\n    return 1\n", r"minisegnet/lib.py:2: .*no matching"),
    ("def f():\n    return 1\n    ### END SOLUTION A1\n", r"minisegnet/lib.py:3: .*without a matching"),
    ("def f():\n    ### BEGIN SOLUTION A9\n    return 1\n    ### END SOLUTION A9\n",
     r"minisegnet/lib.py:2: unknown assignment tag 'A9'"),
    ("def f():\n    ### BEGIN SOLUTON A1\n    return 1\n", r"minisegnet/lib.py:2: malformed"),
])
def test_bad_markers_fail_the_release(tmp_path, library, message):
    _fake_project(tmp_path / "src", library)
    with pytest.raises(ReleaseError, match=message):
        release(tmp_path / "src", tmp_path / "out", log=lambda *a: None)
    assert not (tmp_path / "out" / "student").exists()


def test_release_refuses_to_overwrite_a_folder(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "precious.txt").write_text("keep me")
    with pytest.raises(ReleaseError, match="not empty"):
        release(ROOT, tmp_path / "out", force=True, log=lambda *a: None)
    assert (tmp_path / "out" / "precious.txt").exists()


@pytest.mark.notebook
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_assignment_notebook_runs_on_the_solution(name, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    shutil.copy(ROOT / "assignments" / name / f"{name}.ipynb", tmp_path)
    nb = nbformat.read(tmp_path / f"{name}.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}}).execute()
