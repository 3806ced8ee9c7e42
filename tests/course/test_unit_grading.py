"""Grading a folder of unit 03 notebooks, hostile ones among them (issue 14).

One ``minisegnet grade u03 FOLDER -o OUT -j 2 --hidden`` on the session's release grades
the instructor's notebook, the released stub, and notebooks with a syntax error in an
exercise, an endless loop in a cell (the worker is stopped and started again), ``sys.exit``
in a cell, megabytes of
printed output, a cell that overwrites ``check`` (and one that patches the probes it can
reach), the notebook of another unit and a file that is not a notebook
(``_notebooks.py`` writes them). Each one scores what its exercises earn, with a message
per exercise that says what happened; the others are graded normally. Short limits keep
the time attacks cheap.
"""

from __future__ import annotations

import csv
import json
import sys
import time

import pytest

from . import _notebooks
from .conftest import ROOT, run

pytestmark = pytest.mark.slow

HOSTILE = ["solution", "stub", "syntax_error", "infinite_loop", "sys_exit", "megabytes_of_output",
           "overwrites_check", "patches_probes", "wrong_unit", "not_a_notebook"]
CELL_S = 6.0


@pytest.fixture(scope="module")
def graded(release_dir, tmp_path_factory):
    base = tmp_path_factory.mktemp("units")
    solution = (ROOT / "notebooks" / _notebooks.NAME).read_text(encoding="utf-8")
    stub = (release_dir / "student" / "notebooks" / _notebooks.NAME).read_text(encoding="utf-8")
    other = (ROOT / "notebooks" / "04-transposed-conv.ipynb").read_text(encoding="utf-8")
    _notebooks.write(base / "subs", _notebooks.build(solution, stub, other, only=HOSTILE))
    started = time.monotonic()
    done = run([sys.executable, "-m", "minisegnet", "grade", "u03", base / "subs", "-o", base / "out",
                "-j", "2", "--hidden", "--bundle", release_dir, "--time-limit", "3",
                "--cell-limit", CELL_S, "--notebook-limit", "90", "--no-progress"], cwd=ROOT)
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout[-4000:]
    print(f"graded {len(HOSTILE)} notebooks of u03 with -j 2 in {elapsed:.1f} s")
    return base / "out", done.stdout


def _results(out, name):
    return json.loads((out / name / "results.json").read_text(encoding="utf-8"))


def _by_exercise(results):
    """``{exercise id: points}`` (public + hidden) and ``{exercise id: public output}``."""
    points, outputs = {}, {}
    for row in results["tests"]:
        ident = row["name"].split()[0]
        points[ident] = points.get(ident, 0) + row["score"]
        if "public" in row["tags"]:
            outputs[ident] = row["output"]
    return points, outputs


@pytest.mark.parametrize("name", HOSTILE)
def test_each_notebook_scores_what_its_exercises_earn(graded, name):
    out, _ = graded
    points, outputs = _by_exercise(_results(out, name))
    assert points == _notebooks.EXPECTED[name], {i: o[:300] for i, o in outputs.items()}


def test_every_submission_is_in_the_grades_and_the_summary(graded):
    out, console = graded
    rows = {r["student"]: r for r in csv.DictReader((out / "grades.csv").open())}
    assert sorted(rows) == sorted(HOSTILE)
    full = sum(_notebooks.FULL.values())
    assert float(rows["solution"]["score"]) == full == float(rows["solution"]["max_score"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["submissions"] == len(HOSTILE)
    for name in HOSTILE:   # one public entry per auto-scored exercise, its hidden one after
        results = _results(out, name)
        public = [r["name"].split()[0] for r in results["tests"] if "public" in r["tags"]]
        assert public == sorted(_notebooks.FULL), name
        assert (out / name / "open_answers.md").is_file()


def _outputs(out, name):
    return _by_exercise(_results(out, name))[1]


def test_a_syntax_error_is_named_in_its_exercise_only(graded):
    outputs = _outputs(graded[0], "syntax_error")
    assert "does not compile" in outputs["03.1"] and "(cell " in outputs["03.1"]
    assert "conv1d_matrix" in outputs["03.1"]
    assert all("does not compile" not in outputs[i] for i in outputs if i != "03.1")


def test_an_endless_cell_is_stopped_and_the_rest_graded(graded):
    results = _results(graded[0], "infinite_loop")
    assert f"did not finish within {CELL_S:.0f} s" in results["output"]


def test_sys_exit_stops_only_its_cell(graded):
    assert "called sys.exit" in _results(graded[0], "sys_exit")["output"]


def test_megabytes_of_output_are_capped(graded):
    results = _results(graded[0], "megabytes_of_output")
    assert len(json.dumps(results)) < 200_000


def test_overwriting_check_or_the_probes_changes_nothing(graded):
    for name in ("overwrites_check", "patches_probes"):
        outputs = _outputs(graded[0], name)
        assert all("Not answered yet" in outputs[i] for i in outputs if i != "03.1"), outputs
    assert "Not answered yet" in _outputs(graded[0], "patches_probes")["03.2"]


def test_the_notebook_of_another_unit_gets_one_clear_message(graded):
    results = _results(graded[0], "wrong_unit")
    for ident, output in _outputs(graded[0], "wrong_unit").items():
        assert "This is the notebook of unit 04" in output and "not of unit 03" in output, ident
    assert "This is the notebook of unit 04" in results["output"]


def test_a_file_that_is_no_notebook_says_so(graded):
    for output in _outputs(graded[0], "not_a_notebook").values():
        assert "no exercise could be graded" in output and "not UTF-8" in output


def test_the_stub_reads_as_not_answered(graded):
    for ident, output in _outputs(graded[0], "stub").items():
        assert output.startswith("Not answered yet"), (ident, output)
