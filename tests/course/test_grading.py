"""Acceptance 2–10: grading the solution, bad submissions and every attack.

One batch of generated A1 submissions (``_submissions.py``) is graded once, through the
command line, with ``-j 2 --hidden`` and a 3 s time limit; the tests below read its
results. A second small batch grades the A2 solution twice.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import stat
import sys
import time
from pathlib import Path

import pytest

from minisegnet.course._worker import landlock_abi
from minisegnet.course.grading import Bundle, check_project, grade_batch

from . import _submissions
from .conftest import MEMORY_MB, TIME_LIMIT, run

OVERLAP_TEST = "col2im: overlapping patches add up (col2im of ones counts the windows)"
SANDBOXED = landlock_abi() >= 1 or os.geteuid() == 0


def _strip_time(results):
    body = dict(results)
    body.pop("execution_time")
    return body


def _number_of(manifest, name):
    return next(t["number"] for t in manifest["tests"] if t["name"] == name)


# ---------------------------------------------------------------- 2: the solution


FULL_MARKS = ("correct", "correct_flat", "bom", "deep_folder", "many_files", "zipped",
              "submission_101", "submission_201", "cpu_neighbour_a", "cpu_neighbour_b")


def test_solution_scores_full_marks_and_two_gradings_agree(batch, manifests):
    for student in FULL_MARKS:
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
    assert "conv.py did not compile (line" in syntax["output"]
    assert 0 < syntax["score"] < 100   # conv_matrix.py still counts
    for t in syntax["tests"]:          # the cause, once, instead of the stub's traceback
        if t["name"].startswith("conv2d:") and t["visibility"] == "visible":
            assert t["output"].startswith("conv.py did not compile (line "), t["output"]
            assert "this test ran the stub" in t["output"] and "Traceback" not in t["output"]
            assert t["tags"][-1] == "stub"
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
                                     "fake_results", "shipped_files", "rewrite_worker",
                                     "plant_paths", "site_snoop", "udp_leak", "daemons",
                                     "newline_name", "submission_102", "submission_202",
                                     "_HYPERLINK__http_evil___click__", "evil"])
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
    for name in ("test_a1_hidden.py", "expected.json"):   # unreadable, or not even there
        assert f"{name} PermissionError" in outputs or f"{name} FileNotFoundError" in outputs
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
    assert batch.elapsed < 900, batch.elapsed
    rows = list(csv.DictReader((batch.out / "grades.csv").open()))
    assert sorted(r["student"] for r in rows) == batch.names
    assert {r["student"]: float(r["score"]) for r in rows}["correct"] == 100
    summary = json.loads((batch.out / "summary.json").read_text())
    assert summary["submissions"] == len(batch.names)
    assert len(FULL_MARKS) <= summary["full_marks"] <= len(FULL_MARKS) + 1   # + cpu_burners?
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


# ---------------------------------------------------------------- issue 16: the attacks


def _lines(batch, student, prefix):
    return [line for line in batch.outputs(student).splitlines() if line.startswith(prefix)]


def test_a_worker_that_rewrites_what_runs_it_gains_nothing(batch):
    """Attack 1: patch the worker script and the package, forge the sandbox line, die."""
    assert batch.results("rewrite_worker")["score"] == 0
    outputs = batch.outputs("rewrite_worker")
    assert "UNCONFINED" not in outputs
    if SANDBOXED:
        assert _lines(batch, "rewrite_worker", "WROTE:") == []
    line = batch.log("rewrite_worker")["sandbox"]
    assert "FORGED" not in line and line == batch.log("stub")["sandbox"].replace(
        *_uid_pair(batch.log("stub")["sandbox"], line))


def _uid_pair(a, b):
    """The uid differs between two submissions' lines (each leases its own): align them."""
    ua = a.split("uid ", 1)[1].split(" ", 1)[0]
    ub = b.split("uid ", 1)[1].split(" ", 1)[0]
    return ua, ub


def test_planted_links_and_fifos_neither_redirect_nor_block_the_parent(batch):
    """Attack 2: FIFOs and links where the old grader read and wrote its files."""
    assert batch.facts["outside"].read_text() == "untouched"
    assert stat.S_IMODE(batch.facts["outside"].stat().st_mode) == 0o600
    results = batch.results("plant_paths")
    assert results["score"] == 0
    assert results["execution_time"] < 120


def test_a_solution_outside_the_bundle_cannot_be_read(batch):
    """Attack 3: load the solution from the editable checkout or the bundle by path."""
    assert batch.results("site_snoop")["score"] == 0
    if SANDBOXED:
        assert _lines(batch, "site_snoop", "LEAK:") == []
        assert _lines(batch, "site_snoop", "BLOCKED:")


def test_no_process_of_a_submission_survives_grade(batch):
    """Attack 4: double fork, setsid, execve with an empty environment, 200 CPU burners."""
    assert batch.facts["survivors"] == []
    assert batch.results("daemons")["score"] == 0
    assert "did not compile" not in batch.results("daemons")["output"]   # the attack ran
    assert "did not compile" not in batch.results("cpu_burners")["output"]


def test_cpu_burners_do_not_cost_a_neighbour_points(batch):
    """Attack 4: burners in sessions of their own under -j 2; the submissions graded next
    to them (correct solutions) keep every point."""
    for student in ("cpu_neighbour_a", "cpu_neighbour_b", "correct", "correct_flat"):
        assert batch.results(student)["score"] == 100, student


def test_no_datagram_reaches_a_listener_outside(batch):
    """Attack 5: test inputs sent by UDP to this machine's loopback and address."""
    assert batch.facts["datagrams"] == []
    assert batch.results("udp_leak")["score"] == 0
    assert _lines(batch, "udp_leak", "SENT:") == []


def test_start_ups_count_against_the_submission(release_dir, stub_files, tmp_path):
    """Attack 7: sleep at import, crash at every call: about the start-up budget, not one
    start-up per test."""
    folder = tmp_path / "subs" / "sleepy"
    for rel, content in stub_files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(content)
    # A submitted file is what the worker imports: it sleeps there, then crashes every call.
    code = stub_files[_submissions.CONV_MATRIX].decode().replace(
        "from __future__ import annotations\n",
        "from __future__ import annotations\n\nimport time\n\ntime.sleep(1.5)\n", 1) + \
        "\nimport os\n\n\ndef im2col(*a, **k):\n    os._exit(3)\n\n\ndef col2im(*a, **k):\n    os._exit(3)\n"
    (folder / _submissions.CONV_MATRIX).write_text(code)
    bundle = Bundle.load(release_dir / "grader" / "a1")
    started = time.monotonic()
    grade_batch(bundle, tmp_path / "subs", tmp_path / "out", hidden=True, progress=False,
                limits={"startup_s": 6.0, "time_s": TIME_LIMIT})
    elapsed = time.monotonic() - started
    results = json.loads((tmp_path / "out/sleepy/results.json").read_text())
    log = json.loads((tmp_path / "out/sleepy/log.json").read_text())
    assert results["score"] == 0
    assert log["worker_starts"] <= 5, log["worker_starts"]
    assert elapsed < 6.0 + 40, elapsed
    assert any("start-up budget" in (m or "") for m in log["failures"].values())


def test_grading_refuses_when_a_readable_solution_is_importable(release_dir, tmp_path):
    """Attack 3, the other half: without Landlock nothing keeps a worker from reading an
    installed solution, so grade refuses, with the reason."""
    from minisegnet.course.grading import GradingRefused
    from minisegnet.course.sandbox import importable_solutions

    if not importable_solutions():
        pytest.skip("no minisegnet with solution bodies is importable by this interpreter")
    bundle = Bundle.load(release_dir / "grader" / "a1")
    (tmp_path / "subs" / "x").mkdir(parents=True)
    with pytest.raises(GradingRefused, match="refusing to grade.*pip install"):
        grade_batch(bundle, tmp_path / "subs", tmp_path / "out", landlock=False, progress=False)
    assert not (tmp_path / "out" / "x").exists()


def test_pip_installed_solution_is_refused_or_hidden(tmp_path):
    """``pip install .`` of the instructor's repository: a copy with the solution bodies in
    site-packages. Readable (no Landlock) means refuse; with Landlock it is listed only."""
    from minisegnet.course._worker import landlock_abi
    from minisegnet.course.sandbox import solution_exposure

    venv = tmp_path / "venv"
    made = run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp_path)
    assert made.returncode == 0, made.stdout
    python = venv / "bin" / "python"
    site = next((venv / "lib").glob("python3*/site-packages"))
    shutil.copytree(Path(__file__).resolve().parents[2] / "minisegnet", site / "minisegnet")
    readable, hidden = solution_exposure(landlock=False, python=python)
    assert str((site / "minisegnet").resolve()) in readable
    if landlock_abi() >= 1:
        readable, hidden = solution_exposure(landlock=True, python=python)
        assert readable == [] and str((site / "minisegnet").resolve()) in hidden


# ---------------------------------------------------------------- issue 16: robustness


def test_awkward_but_correct_submissions_score_full_marks(batch):
    for student in ("bom", "deep_folder", "many_files", "zipped"):
        assert batch.results(student)["score"] == 100, student
    notes = batch.results("deep_folder")["extra_data"]["notes"]
    assert sum("deeper than" in n for n in notes) == 1
    notes = batch.results("many_files")["extra_data"]["notes"]
    assert sum("more than 2000 entries" in n for n in notes) == 1


def test_a_file_the_compiler_cannot_handle_fails_alone(batch):
    results = batch.results("deep_expression")
    assert 0 < results["score"] < 100
    assert any("conv.py did not compile" in n for n in results["extra_data"]["notes"])


def test_grades_csv_cells_cannot_be_formulas(batch):
    rows = list(csv.reader((batch.out / "grades.csv").open()))
    for row in rows:
        for cell in row:
            assert cell[:1] not in ("=", "+", "@", "\t", "\r") and not cell.startswith("-"), cell
    submitters = {r[0]: r[9] for r in rows[1:]}
    assert submitters["submission_101"] == "Ada Lovelace <ada@example.org> (101)"
    assert "Alan Turing <alan@example.org> (102)" in submitters["submission_102"]


def test_a_newline_in_a_file_name_adds_no_note(batch):
    results = batch.results("newline_name")
    lines = results["output"].splitlines()
    assert not any("FAKE NOTE" in line and not line.startswith("- ignored") for line in lines)
    assert any("\\n- FAKE NOTE" in n for n in results["extra_data"]["notes"])
    for row in csv.reader((batch.out / "grades.csv").open()):
        assert all("\n" not in cell for cell in row)


def test_zip_files_are_read_safely(batch):
    notes = " ".join(batch.results("evil")["extra_data"]["notes"])
    assert "absolute path or '..'" in notes and "a link" in notes
    base = batch.facts["base"]
    outside = batch.facts["outside"]
    assert not (outside.parent.parent / f"{outside.name}.zip-escape").exists()
    assert not Path("/tmp/msn-abs-escape.py").exists()
    assert not (base / "submissions" / "conv.py").exists()


def test_skipped_entries_are_listed_with_a_reason(batch):
    skipped = {s["entry"]: s["why"] for s in json.loads((batch.out / "summary.json").read_text())["skipped"]}
    assert "README.txt" in skipped and "loose file" in skipped["README.txt"]
    assert "link" in skipped["alias_of_correct"] and "hidden" in skipped[".DS_Store"]
    summary = (batch.out / "summary.md").read_text()
    assert "Skipped 3 entries" in summary
