"""Acceptance 2–10: grading the solution, bad submissions and every attack.

One batch of generated A1 submissions (``_submissions.py``) is graded once, through the
command line, with ``-j 2 --hidden`` and a 3 s time limit; the tests below read its
results. A second small batch grades the A2 solution twice.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

import pytest

from minisegnet.course._worker import landlock_abi
from minisegnet.course.grading import Bundle, check_project, grade_batch
from minisegnet.course.sandbox import _drop_uid_possible

from . import _submissions
from .conftest import MEMORY_MB, TIME_LIMIT, run

OVERLAP_TEST = "col2im: overlapping patches add up (col2im of ones counts the windows)"
SANDBOXED = landlock_abi() >= 1 or _drop_uid_possible()


def _strip_time(results):
    body = dict(results)
    body.pop("execution_time")
    return body


def _number_of(manifest, name):
    return next(t["number"] for t in manifest["tests"] if t["name"] == name)


# ---------------------------------------------------------------- 2: the solution


def test_solution_scores_full_marks_and_two_gradings_agree(batch, manifests):
    for student in ("correct", "correct_flat"):
        results = batch.results(student)
        assert results["score"] == manifests["a1"]["points"]["total"] == 100
        assert all(t["status"] == "passed" for t in results["tests"])
    assert _strip_time(batch.results("correct")) == _strip_time(batch.results("correct_flat"))


def test_a2_solution_scores_full_marks_twice(release_dir, solution_files, tmp_path, manifests):
    for name in ("first", "second"):
        folder = tmp_path / "subs" / name / "minisegnet" / "functional"
        folder.mkdir(parents=True)
        for rel, content in solution_files.items():
            (folder / Path(rel).name).write_bytes(content)
    bundle = Bundle.load(release_dir / "grader" / "a2")
    summary = grade_batch(bundle, tmp_path / "subs", tmp_path / "out", jobs=2, hidden=True,
                          progress=False)
    assert summary["full_marks"] == 2 and summary["max_score"] == 100
    first, second = (json.loads((tmp_path / "out" / n / "results.json").read_text())
                     for n in ("first", "second"))
    assert first["score"] == manifests["a2"]["points"]["total"]
    assert _strip_time(first) == _strip_time(second)


# ---------------------------------------------------------------- 3: the results format


def test_results_hold_every_manifest_test_exactly_once(batch, manifests):
    manifest = manifests["a1"]
    want = {(t["number"], t["name"], t["points"], t["visibility"]) for t in manifest["tests"]}
    for student in batch.names:
        results = batch.results(student)
        got = [(t["number"], t["name"], t["max_score"], t["visibility"]) for t in results["tests"]]
        assert len(got) == len(want) and set(got) == want, student
        assert results["score"] == sum(t["score"] for t in results["tests"]), student
        assert sum(t["max_score"] for t in results["tests"]) == manifest["points"]["total"]
        assert results["extra_data"]["max_score"] == manifest["points"]["total"]
        assert results["stdout_visibility"] == "hidden" and "execution_time" in results
        for t in results["tests"]:
            assert t["status"] in ("passed", "failed")
            assert t["score"] == (t["max_score"] if t["status"] == "passed" else 0)
            if t["visibility"] == "after_due_date":
                assert t["output"].startswith("Hidden test: "), t["output"]


# ---------------------------------------------------------------- partial and broken submissions


def test_partly_correct_submissions_get_partial_credit_with_hints(batch):
    partial = batch.results("partial")
    assert 0 < partial["score"] < 100
    for t in partial["tests"]:
        if t["name"].startswith(("im2col", "col2im")):
            assert t["status"] == "passed", t["name"]
        if t["name"].startswith("conv2d:"):
            assert t["status"] == "failed" and "NotImplementedError" in t["output"]
    buggy = batch.results("buggy_assign")
    overlap = next(t for t in buggy["tests"] if t["name"] == OVERLAP_TEST)
    assert overlap["status"] == "failed" and "+=" in overlap["output"]
    assert 0 < buggy["score"] < 100


def test_bad_submissions_never_stop_the_batch(batch):
    assert batch.results("stub")["score"] == 0
    missing = batch.results("missing")
    assert missing["score"] == 0 and "missing minisegnet/functional/conv.py" in missing["output"]
    syntax = batch.results("syntax_error")
    assert "conv.py does not compile (line" in syntax["output"]
    assert 0 < syntax["score"] < 100   # conv_matrix.py still counts
    utf8 = batch.results("not_utf8")
    assert "is not UTF-8" in utf8["output"] and 0 < utf8["score"] < 100
    signature = batch.results("wrong_signature")
    im2col = [t for t in signature["tests"] if t["name"].startswith("im2col")]
    assert im2col and all(t["status"] == "failed" for t in im2col)
    assert any("TypeError" in t["output"] for t in im2col)
    assert 0 < signature["score"] < 100


# ---------------------------------------------------------------- 4: exits and crashes


@pytest.mark.parametrize("student, category", [
    ("exit_sys", "exit"), ("exit_os", "exit"), ("kill_self", "crash"), ("segfault", "crash")])
def test_exits_and_crashes_zero_only_the_affected_tests(batch, student, category):
    affected = batch.failed("control_col2im")
    assert 4 <= len(affected) <= 6   # the col2im tests, public and hidden
    assert batch.failed(student) == affected
    results = batch.results(student)
    tags = {t["number"]: t["tags"][-1] for t in results["tests"]}
    assert {tags[n] for n in affected} == {category}
    assert results["score"] == batch.results("control_col2im")["score"] > 80


# ---------------------------------------------------------------- 5 and 6: time and memory


@pytest.mark.parametrize("student", ["loop", "long_numpy", "sigalrm"])
def test_time_attacks_are_killed_within_twice_the_limit(batch, manifests, student):
    number = _number_of(manifests["a1"], OVERLAP_TEST)
    assert batch.failed(student) == {number}
    test = next(t for t in batch.results(student)["tests"] if t["number"] == number)
    assert test["tags"][-1] == "timeout" and "Time limit exceeded" in test["output"]
    seconds = next(v for k, v in batch.log(student)["seconds"].items()
                   if k.endswith("test_col2im_overlaps_add_up"))
    assert TIME_LIMIT <= seconds <= 2 * TIME_LIMIT, seconds


@pytest.mark.parametrize("student", ["memory_huge", "memory_append"])
def test_memory_attacks_are_stopped_by_the_limit(batch, manifests, student):
    number = _number_of(manifests["a1"], OVERLAP_TEST)
    assert batch.failed(student) == {number}
    test = next(t for t in batch.results(student)["tests"] if t["number"] == number)
    assert test["tags"][-1] == "memory", test["output"]
    assert f"({MEMORY_MB} MiB)" in test["output"]


# ---------------------------------------------------------------- 7: tampering


@pytest.mark.parametrize("student", ["patch_testing", "patch_pytest", "patch_builtins",
                                     "ndarray_subclass", "always_equal", "frame_snoop",
                                     "fake_results", "shipped_files"])
def test_tampering_scores_no_more_than_the_stub(batch, student):
    assert batch.results("stub")["score"] == 0
    assert batch.results(student)["score"] <= batch.results("stub")["score"]


def test_tampering_is_reported_for_what_it_is(batch):
    assert "not an array of numbers" in batch.outputs("always_equal")
    assert "SNOOP: found" in batch.outputs("frame_snoop")
    shipped = batch.results("shipped_files")["output"]
    for name in ("conftest.py", "pytest.ini", "sitecustomize.py", "pytest_evil.py",
                 "results.json", "usercustomize.py", "probes.py"):
        assert name in shipped, name


def test_a_fake_results_json_is_replaced(batch):
    results = batch.results("fake_results")
    assert results["score"] == 0 and "FAKE" not in json.dumps(results)
    assert not (batch.out / "fake_results" / "results.json.partial").exists()
    outputs = batch.outputs("fake_results")
    assert "BLOCKED:" in outputs
    if SANDBOXED:
        wrote = [line for line in outputs.splitlines() if line.startswith("WROTE:")]
        assert all("/autograder/" not in w and str(batch.out) not in w for w in wrote), wrote
    assert not (batch.out / "results.json").exists()


# ---------------------------------------------------------------- 8: secrets


@pytest.mark.skipif(not SANDBOXED, reason="needs Landlock or root with a world-readable Python")
def test_hidden_tests_and_oracles_cannot_be_read(batch):
    outputs = batch.outputs("snoop_hidden")
    assert "LEAK" not in outputs, [line for line in outputs.splitlines() if "LEAK" in line]
    assert outputs.count("BLOCKED:") >= 9
    assert "test_a1_hidden.py PermissionError" in outputs
    assert "expected.json PermissionError" in outputs
    assert batch.results("snoop_hidden")["score"] == 0


# ---------------------------------------------------------------- 9: check == grade


def test_check_and_batch_grading_agree_on_public_tests(batch, edition, tmp_path):
    tree = tmp_path / "work"
    shutil.copytree(edition, tree)
    for student in ("buggy_assign", "partial"):
        for rel in (_submissions.CONV_MATRIX, _submissions.CONV):
            shutil.copyfile(batch.out.parent / "submissions" / student / rel, tree / rel)
        results, log = check_project(tree, "a1", limits={"time_s": TIME_LIMIT})
        graded = {t["name"]: t["status"] for t in batch.results(student)["tests"]
                  if t["visibility"] == "visible"}
        checked = {t["name"]: t["status"] for t in results["tests"]}
        assert checked == graded, student
        public = sum(t["score"] for t in batch.results(student)["tests"] if "public" in t["tags"])
        assert results["score"] == public, student
    done = run([sys.executable, "-m", "minisegnet", "check", "a1", "--quiet"], cwd=tree)
    assert done.returncode == 1 and f"total: {public:g} / 40" in done.stdout, done.stdout[-2000:]


# ---------------------------------------------------------------- 10: the batch as a whole


def test_the_batch_writes_grades_and_a_summary_quickly(batch):
    assert len(batch.names) >= 10
    assert batch.elapsed < 300, batch.elapsed
    rows = list(csv.DictReader((batch.out / "grades.csv").open()))
    assert sorted(r["student"] for r in rows) == batch.names
    assert {r["student"]: float(r["score"]) for r in rows}["correct"] == 100
    summary = json.loads((batch.out / "summary.json").read_text())
    assert summary["submissions"] == len(batch.names) and summary["full_marks"] == 2
    assert "| correct | 100 / 100 |" in (batch.out / "summary.md").read_text()


def test_run_autograder_as_gradescope_runs_it(release_dir, solution_files, tmp_path):
    root = tmp_path / "autograder"
    shutil.copytree(release_dir / "grader" / "a1", root / "source")
    (root / "submission").mkdir(parents=True)
    for rel in (_submissions.CONV_MATRIX, _submissions.CONV):
        (root / "submission" / Path(rel).name).write_bytes(solution_files[rel])
    (root / "results").mkdir()
    (root / "results" / "results.json").write_text('{"score": 0, "planted": true}')
    done = run(["bash", root / "source" / "run_autograder"], cwd=root,
               env={"AUTOGRADER_ROOT": str(root)})
    assert done.returncode == 0, done.stdout[-3000:]
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 100 and "planted" not in results
    assert "sandbox:" in done.stdout and "total: 100 / 100" in done.stdout
