"""Every lecture unit with exercises (``assignments/uNN/`` of kind ``notebook``), generically.

For each unit found (no list to keep up to date), with its data file
``tests/course/units/uNN.py`` where there is one (``MISTAKES``, ``INDEPENDENT``):

(a) every classic mistake loses points in the public check of its exercise, and every
    write-it exercise has at least one;
(b) every independent computation gives the instructor's answer (and passes the check);
(c) the instructor's notebook scores full marks and the released stub 0, "not answered",
    with ``check`` (in this process, against the recording shipped with the edition) and
    with the grader (the confined worker, public and hidden tests), every cell of the stub
    but the exercises running;
(d) the declarations hold together: points, a check cell after every exercise cell, at
    least four auto-scored exercises and an open question, no answer written outside the
    solution markers, and the lessons index lists them all.

The data file: ``MISTAKES = [(exercise id, what the mistake is, source)]``, ``source`` the
whole exercise cell as a student would write it wrongly; it must define every answer name
of its exercise (a name left out reads as "not answered", which is not a mistake) and lose
points in the public check. ``INDEPENDENT = {answer name: function of no argument}``,
compared with ``np.array_equal`` to the instructor's value as the notebook sets it (a
multiple choice: the letter, ``"b"``); every answer of a compute or predict exercise needs
one when the unit has a data file. A write-it exercise without a mistake fails even
without a data file.

(a), (b) and ``check`` run in this process: the notebook's first code cell (its imports)
and the exercise cell are executed, not the whole notebook (a cell that needs more of the
notebook gets the cells before it). The grader runs each notebook once: all units'
solution and stub notebooks are graded in one pool of two workers.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import importlib.util
import io
import json
import os
import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from minisegnet.course.exercises import index_markdown, indexed_section, run_check
from minisegnet.course.notebook_cells import exercise_cells, python_source, read_notebook

from .conftest import COURSE, ROOT

UNITS = {u.id: u for u in COURSE.units()}
DATA = Path(__file__).resolve().parent / "units"
NOT_ANSWERED = ("not answered", "not implemented")


def _data(unit_id):
    """The unit's data module (``tests/course/units/uNN.py``), or ``None``."""
    path = DATA / f"{unit_id}.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location(f"_course_unit_{unit_id}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DATAS = {name: _data(name) for name in UNITS}


def _mistakes():
    return [pytest.param(name, ident, what, source, id=f"{name}-{ident}-{what[:40]}")
            for name, data in DATAS.items() for ident, what, source in
            getattr(data, "MISTAKES", [])]


def _independent():
    return [pytest.param(name, answer, id=f"{name}-{answer}")
            for name, data in DATAS.items() for answer in getattr(data, "INDEPENDENT", {})]


def _exercises(scored=True):
    return [pytest.param(name, e.id, id=f"{name}-{e.id}") for name, unit in UNITS.items()
            for e in unit.exercises if e.scored or not scored]


# ---------------------------------------------------------------- executing cells here


@cache
def _notebook(path):
    return read_notebook(Path(path).read_bytes())


@contextlib.contextmanager
def _quiet():
    saved = os.environ.get("MINISEGNET_CHECK")
    os.environ["MINISEGNET_CHECK"] = "off"
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        if saved is None:
            os.environ.pop("MINISEGNET_CHECK", None)
        else:
            os.environ["MINISEGNET_CHECK"] = saved
        pyplot = __import__("sys").modules.get("matplotlib.pyplot")
        if pyplot is not None:
            pyplot.close("all")


def _run(source, namespace, where):
    code = python_source(source)
    with _quiet():
        exec(compile(code or "", where, "exec", dont_inherit=True), namespace)
    return namespace


@cache
def _context(unit_id, ident):
    """The namespace an exercise cell runs in: the notebook's first code cell, or, when the
    instructor's exercise cell needs more than the imports, every code cell before it."""
    unit = UNITS[unit_id]
    notebook = _notebook(ROOT / unit.notebook)
    code = notebook.code_cells()
    cell = exercise_cells(notebook)[ident]
    fresh = {"__name__": "__main__", "__builtins__": builtins, "display": lambda *a, **k: None}
    first = _run(code[0].source, dict(fresh), f"<{unit_id} cell {code[0].index}>")
    try:
        _run(cell.source, dict(first), f"<{unit_id} exercise {ident}>")
        if not _free_names(cell.source) - set(first) - set(dir(builtins)):
            return first
    except Exception:
        pass
    namespace = dict(fresh)     # the exercise reads names of earlier cells: run them all
    for before in code:
        if before.index >= cell.index:
            break
        with contextlib.suppress(Exception):
            _run(before.source, namespace, f"<{unit_id} cell {before.index}>")
    return namespace


def _free_names(source) -> set:
    """Names a cell reads (also inside its functions) without binding them anywhere in it."""
    tree = ast.parse(python_source(source) or "")
    read, bound = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
    return read - bound


def _answers(unit_id, ident, source):
    """The answers of exercise ``ident`` when its cell holds ``source``."""
    exercise = UNITS[unit_id].exercise(ident)
    namespace = _run(source, dict(_context(unit_id, ident)), f"<{unit_id} exercise {ident}>")
    return [namespace.get(name) for name in exercise.names]


def _cell_source(notebook_path, ident):
    return exercise_cells(_notebook(notebook_path))[ident].source


def _check(edition, unit_id, ident, answers):
    """``check`` as the student's notebook calls it, in the released edition (its recording)."""
    result = run_check(ident, *answers, root=edition)
    assert not result.problem, result.text()
    assert result.tests, result.text()
    assert not [t for t in result.tests if t["category"] == "grader"], result.text()
    return result


def _same(a, b) -> bool:
    """Equal answers; floats up to the last bits (an independent computation rounds its own way)."""
    try:
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype.kind == "f" or b.dtype.kind == "f":
            return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-12, atol=1e-15))
        return bool(np.array_equal(a, b))
    except Exception:
        return a == b


# ---------------------------------------------------------------- (a) classic mistakes


@pytest.mark.parametrize("name", sorted(UNITS))
def test_every_write_it_exercise_has_a_classic_mistake(name):
    covered = {ident for ident, _, _ in getattr(DATAS[name], "MISTAKES", [])}
    missing = [e.id for e in UNITS[name].exercises if e.kind == "write" and e.id not in covered]
    assert not missing, (f"write-it exercise(s) {missing} of {name} have no classic mistake in "
                         f"tests/course/units/{name}.py (MISTAKES)")
    declared = {e.id for e in UNITS[name].exercises if e.scored}
    assert covered <= declared, f"MISTAKES name exercises {name} does not have: {covered - declared}"


@pytest.mark.parametrize(("name", "ident", "what", "source"), _mistakes())
def test_classic_mistake_loses_points(edition, name, ident, what, source):
    result = _check(edition, name, ident, _answers(name, ident, source))
    assert result.points < result.max_points, f"{what}: scores full marks\n{result.text()}"
    assert result.answered, f"{what}: reads as not answered, not as wrong\n{result.text()}"


# ---------------------------------------------------------------- (b) independent computations


@pytest.mark.parametrize("name", sorted(n for n, d in DATAS.items() if d is not None))
def test_every_computed_answer_has_an_independent_computation(name):
    given = set(getattr(DATAS[name], "INDEPENDENT", {}))
    wanted = {n for e in UNITS[name].exercises if e.kind in ("compute", "predict") for n in e.names}
    assert wanted <= given, (f"answers of {name} without an independent computation in "
                             f"tests/course/units/{name}.py (INDEPENDENT): {sorted(wanted - given)}")
    assert given <= wanted | {n for e in UNITS[name].exercises for n in e.names}, \
        f"INDEPENDENT names answers {name} does not declare: {sorted(given - wanted)}"


@pytest.mark.parametrize(("name", "answer"), _independent())
def test_independent_computation_gives_the_instructors_answer(edition, name, answer):
    unit = UNITS[name]
    exercise = next(e for e in unit.exercises if answer in e.names)
    instructor = dict(zip(exercise.names, _answers(
        name, exercise.id, _cell_source(ROOT / unit.notebook, exercise.id))))
    independent = {n: DATAS[name].INDEPENDENT[n]() for n in exercise.names
                   if n in DATAS[name].INDEPENDENT}
    assert _same(independent[answer], instructor[answer]), \
        f"{answer}: the notebook says {instructor[answer]!r}, computed another way {independent[answer]!r}"
    if set(independent) == set(exercise.names):   # and the check agrees, from the recording
        result = _check(edition, name, exercise.id, [independent[n] for n in exercise.names])
        assert result.points == result.max_points, result.text()


# ---------------------------------------------------------------- (c) instructor and stub


@pytest.mark.parametrize(("name", "ident"), _exercises())
def test_check_gives_the_instructor_full_marks_and_the_stub_nothing(edition, name, ident):
    unit = UNITS[name]
    full = _check(edition, name, ident, _answers(name, ident, _cell_source(ROOT / unit.notebook, ident)))
    assert full.points == full.max_points == unit.exercise(ident).points, full.text()
    stub = _check(edition, name, ident,
                  _answers(name, ident, _cell_source(edition / unit.notebook, ident)))
    assert stub.points == 0 and not stub.answered, stub.text()
    assert "not answered yet" in stub.text()


@pytest.fixture(scope="session")
def unit_grades(release_dir):
    """Every unit's instructor notebook and released stub, graded with the hidden tests in
    the confined worker: one pool of two workers for all of them."""
    from minisegnet.course.grading import Bundle, grade_submission

    jobs = []
    for name, unit in UNITS.items():
        bundle = Bundle.load(release_dir / "grader" / name)
        for who, folder in (("solution", ROOT), ("stub", release_dir / "student")):
            jobs.append((name, who, bundle, folder / unit.notebook))

    def one(job):
        name, who, bundle, path = job
        submission = release_dir.parent / "unit-submissions" / name / who
        submission.mkdir(parents=True, exist_ok=True)
        (submission / path.name).write_bytes(path.read_bytes())
        return (name, who), grade_submission(bundle, submission, hidden=True)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(one, jobs))


def _rows(results):
    return {row["name"].split()[0] + (" hidden" if "hidden" in row["tags"] else ""): row
            for row in results["tests"]}


@pytest.mark.parametrize("name", sorted(UNITS))
def test_grader_gives_the_instructor_full_marks(unit_grades, name):
    results, log = unit_grades[(name, "solution")]
    unit = UNITS[name]
    total = sum(e.points + e.hidden for e in unit.exercises)
    assert results["score"] == total == unit.points["public"] + unit.points["hidden"], results["output"]
    assert all(row["status"] == "passed" for row in results["tests"]), results["output"]
    scored = [e.id for e in unit.exercises if e.scored]
    assert sorted({k.split()[0] for k in _rows(results)}) == sorted(scored)   # one row each
    assert [c for c in log["notebook"]["cells"] if c["status"] != "ok"] == []


@pytest.mark.parametrize("name", sorted(UNITS))
def test_grader_gives_the_stub_zero_and_runs_every_other_cell(unit_grades, name):
    results, log = unit_grades[(name, "stub")]
    assert results["score"] == 0, results["output"]
    for row in results["tests"]:
        assert row["score"] == 0 and "not answered" in row["tags"], row
    unit = UNITS[name]
    exercise_at = {c.index for c in exercise_cells(_notebook(ROOT / unit.notebook)).values()}
    failed = [c for c in log["notebook"]["cells"] if c["status"] != "ok"]
    assert [c for c in failed if c["index"] not in exercise_at] == [], \
        f"cells of the stub notebook of {name} that do not run without the answers: {failed}"


# ---------------------------------------------------------------- (d) declarations


def _check_calls(source):
    """``[(id, [argument names])]`` of the ``check(...)`` calls in a cell."""
    try:
        tree = ast.parse(python_source(source) or "")
    except SyntaxError:
        return []
    return [(node.args[0].value, [a.id if isinstance(a, ast.Name) else None for a in node.args[1:]])
            for node in ast.walk(tree) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name) and node.func.id == "check" and node.args
            and isinstance(node.args[0], ast.Constant)]


def _defined(source):
    """Names a cell binds at its top level (assignments, functions, imports)."""
    try:
        tree = ast.parse(python_source(source) or "")
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        targets = []
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        for target in targets:
            names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


PREFILLED = re.compile(r"^[^#]*=\s*(?!None\b|\.\.\.)\S[^#]*#.*\byour answer\b", re.I)


@pytest.mark.parametrize("name", sorted(UNITS))
def test_exercise_declarations_hold_together(release_dir, name):
    unit = UNITS[name]
    scored = [e for e in unit.exercises if e.scored]
    assert len(scored) >= 4, f"{name}: {len(scored)} auto-scored exercises, at least 4 wanted"
    assert any(e.kind == "open" for e in unit.exercises), f"{name}: no open question"
    kinds = {e.kind for e in scored}
    assert len(kinds) >= 2, f"{name}: every exercise is of kind {kinds}: mix them"
    manifest = json.loads((release_dir / "grader" / name / "manifest.json").read_text())
    for e in unit.exercises:
        for kind, wanted in (("public", e.points), ("hidden", e.hidden)):
            got = sum(t["points"] for t in manifest["tests"]
                      if t.get("exercise") == e.id and t["kind"] == kind)
            assert got == wanted, f"{e.id}: {kind} tests give {got} points, declared {wanted}"
    assert manifest["points"]["public"] == unit.points["public"] == sum(e.points for e in scored)
    assert manifest["points"]["hidden"] == unit.points["hidden"] == sum(e.hidden for e in scored)

    notebook = _notebook(ROOT / unit.notebook)
    code = notebook.code_cells()
    cells = exercise_cells(notebook)
    answers = {n: e.id for e in scored for n in e.names}
    for e in scored:
        cell = cells.get(e.id)
        assert cell is not None and "exercise" in cell.tags, f"{e.id}: no cell tagged exercise"
        after = code[code.index(cell) + 1] if code.index(cell) + 1 < len(code) else None
        assert after is not None and "check" in after.tags and after.exercise == e.id, \
            f"{e.id}: the code cell after the exercise is not its check cell (tagged check)"
        assert (e.id, list(e.names)) in _check_calls(after.source), \
            f"{e.id}: its check cell must call check({e.id!r}, {', '.join(e.names)})"
        assert set(e.names) <= _defined(cell.source), f"{e.id}: its cell does not define {e.names}"
        assert "### BEGIN SOLUTION" in cell.source, f"{e.id}: no solution markers in its cell"
    for cell in code:
        if "exercise" in cell.tags:
            continue
        again = {n: answers[n] for n in _defined(cell.source) if n in answers}
        assert not again, f"{name} cell {cell.index} sets the answer(s) {again} outside their exercise"
        for line in python_source(cell.source or "").splitlines():
            assert not PREFILLED.match(line), f"{name} cell {cell.index}: a pre-filled answer: {line}"
    assert [c.index for c in code if _check_calls(c.source)] == \
        [c.index for c in code if "check" in c.tags], f"{name}: a check() call outside a check cell"


def test_the_lessons_index_lists_every_exercise():
    text = (ROOT / "lessons" / "README.md").read_text(encoding="utf-8")
    assert indexed_section(text) == index_markdown(COURSE).rstrip(), (
        "lessons/README.md: the exercises section is not current; run "
        "`python -m minisegnet.course.exercises`")


# ---------------------------------------------------------------- the instructor's loops


def _equivalents():
    return [pytest.param(name, answer, id=f"{name}-{answer}") for name, data in DATAS.items()
            for answer in [*getattr(data, "EQUIVALENT", {}), *getattr(data, "REFERENCE", {})]]


@pytest.mark.parametrize(("name", "answer"), _equivalents())
def test_the_instructors_loop_agrees_with_the_package(name, answer):
    """A write-it solution is checked against the library, not only recorded: ``EQUIVALENT``
    maps an answer to (call on a case, the package's value, cases), ``REFERENCE`` to a check
    function of the answer."""
    unit, data = UNITS[name], DATAS[name]
    exercise = next(e for e in unit.exercises if answer in e.names)
    source = _cell_source(ROOT / unit.notebook, exercise.id)
    answer_fn = dict(zip(exercise.names, _answers(name, exercise.id, source)))[answer]
    if answer in getattr(data, "REFERENCE", {}):
        data.REFERENCE[answer](answer_fn)
        return
    call, package, cases = data.EQUIVALENT[answer]
    for case in cases:
        np.testing.assert_allclose(call(answer_fn, **case), package(**case), rtol=1e-10, atol=1e-12)
