"""Exercises in the lecture notebooks: ``check(id, answer)``, and how a notebook is run.

A lecture unit whose notebook has exercises is an assignment of kind ``"notebook"``
(``assignments/uNN/``): ``assignment.json`` declares every exercise once (id ``"NN.k"``, the
answer's name in the notebook, kind, points, hint), ``tests/probes.py`` reads the answers
from the notebook's namespace (``ns["conv1d_matrix"](...)``), and ``tests/public`` and
``tests/hidden`` grade them with ``@pytest.mark.exercise("NN.k")`` and
``@pytest.mark.points(n)``, through the same fixtures as the assignments (``harness.py``).
Unit 03 (``assignments/u03``, ``notebooks/03-conv-as-matrix.ipynb``) is the pattern to copy;
``tests/course/test_units.py`` checks every unit (with its classic mistakes and independent
computations from ``tests/course/units/uNN.py``).

In the notebook, an exercise is a code cell tagged ``exercise`` (its id in
``metadata.minisegnet.exercise``) whose answer sits between ``### BEGIN SOLUTION UNN`` and
``### END SOLUTION UNN``; the release stubs it (``markers.py``). The next cell,
tagged ``check``, calls ``check("NN.k", answer)``: it runs that exercise's public tests, here,
on the answer given (the student's side) against the recording shipped with the edition (in
the instructor's project: the instructor's notebook, executed here), and prints one points
line and, for each failing test, what was compared, the student's value against the
expected one (never the expected answer of a ``secret`` test) and the hint. It never
raises: an answer left as the stub reads "not answered yet"; an endless loop is stopped
after the unit's ``time_s``. In the grader (``MINISEGNET_CHECK=off``) it does nothing: the
grader runs the notebook in its confined worker and looks the answers up by name.

``run_notebook`` executes a notebook's code cells in a fresh namespace in this process
(``pytest assignments/uNN`` on the student's notebook; ``reference_namespace`` on the
instructor's, which must run without an error): magics dropped, ``check`` silenced,
figures closed, printed output kept out of the caller's.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import os
import signal
import sys
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from .notebook_cells import read_notebook

__all__ = ["check", "run_check", "ExerciseResult", "run_notebook", "reference_namespace",
           "is_solution_notebook", "exercise_of", "index_markdown", "KIND_WORDS", "points_text",
           "update_index", "indexed_section", "INDEX_BEGIN", "INDEX_END"]

KIND_WORDS = {"write": "write it", "compute": "compute it", "predict": "predict it",
              "open": "open question"}
_REFERENCES = {}


# ---------------------------------------------------------------- check, in the notebook


def check(exercise_id, *answers):
    """Run the public tests of exercise ``exercise_id`` (``"03.1"``) on ``answers`` (the
    function or value(s) the exercise asks for) and print one points line, then what
    failed. Never raises; returns ``None``."""
    if os.environ.get("MINISEGNET_CHECK", "").strip().lower() == "off":
        return None
    try:
        result = run_check(exercise_id, *answers)
        print(result.text())
    except KeyboardInterrupt:
        print(f"check({exercise_id!r}): interrupted")
    except Exception as e:   # a fault of ours must not stop the student's notebook
        print(f"check({exercise_id!r}): the tests could not run ({type(e).__name__}: {e}). "
              f"Ask the course staff.")
    return None


@dataclass
class ExerciseResult:
    """What ``check`` found: the score and, per test, its outcome."""

    id: str
    label: str
    points: float = 0
    max_points: float = 0
    tests: list = field(default_factory=list)    # {"name", "points", "outcome", "category", "message"}
    hint: str = ""
    problem: str = ""                            # why the tests could not run

    @property
    def answered(self) -> bool:
        failed = [t for t in self.tests if t["outcome"] != "passed"]
        return not failed or any(t["category"] not in ("not answered", "not implemented")
                                 for t in failed) or len(failed) < len(self.tests)

    def text(self) -> str:
        if self.problem:
            return f"{self.label}: {self.problem}"
        score = f"{self.points:g}/{self.max_points:g} point{'s' * (self.max_points != 1)}"
        if not self.answered:
            return f"{self.label}: not answered yet: {score}"
        lines = [f"{self.label}: {score}"]
        hinted = False
        for t in self.tests:
            if t["outcome"] == "passed":
                continue
            message = t["message"].strip() or "failed"
            hinted = hinted or "Hint:" in message
            first, _, rest = message.partition("\n")
            lines.append(f"  failed: {t['name']} ({t['points']:g} point{'s' * (t['points'] != 1)})")
            lines.append(f"    {first}")
            lines.extend(f"    {line}" for line in rest.splitlines() if line.strip())
        if len(lines) > 1 and self.hint and not hinted:
            lines.append(f"  Hint: {self.hint}")
        return "\n".join(lines)


def exercise_of(item) -> str | None:
    marker = item.get_closest_marker("exercise")
    return str(marker.args[0]) if marker is not None and marker.args else None


class _Runner:
    """The pytest plugin of one ``check``: selects the exercise's tests, limits their time,
    and keeps each one's outcome."""

    def __init__(self, ident, time_s):
        self.ident, self.time_s = ident, float(time_s)
        self.tests = {}

    def pytest_collection_modifyitems(self, session, config, items):
        keep = [i for i in items if exercise_of(i) == self.ident]
        dropped = [i for i in items if exercise_of(i) != self.ident]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = keep
        for item in keep:
            marker = item.get_closest_marker("points")
            doc = (getattr(item, "function", None).__doc__ or "").strip().splitlines()
            self.tests[item.nodeid] = {"name": doc[0].strip() if doc else item.name,
                                       "points": marker.args[0] if marker and marker.args else 0,
                                       "outcome": "passed", "category": "", "message": ""}

    @staticmethod
    def _alarm(signum, frame):
        raise _TimeUp()

    def pytest_runtest_call(self, item):
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
            signal.signal(signal.SIGALRM, self._alarm)
            signal.setitimer(signal.ITIMER_REAL, self.time_s)

    def pytest_runtest_teardown(self, item):
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
            signal.setitimer(signal.ITIMER_REAL, 0)

    def makereport(self, item, call):
        """A hook wrapper of ``pytest_runtest_makereport`` (marked as one in ``_run_tests``,
        where pytest is imported)."""
        from .plugin import classify

        outcome = yield
        report = outcome.get_result()
        entry = self.tests.get(item.nodeid)
        if entry is None or entry["outcome"] != "passed" or report.passed:
            return
        if call.excinfo is not None and isinstance(call.excinfo.value, _TimeUp):
            entry.update(outcome="failed", category="timeout",
                         message=f"Your answer was still running after {self.time_s:g} s and "
                                 f"was stopped (an endless loop?).")
            return
        entry.update(classify(report, call, student_code=True))


class _TimeUp(BaseException):
    """The time limit of one test of ``check`` (a BaseException: student code that catches
    ``Exception`` does not swallow it)."""


def _project_root(root=None) -> Path:
    from .commands import find_project

    return Path(root).resolve() if root else find_project()


def run_check(exercise_id, *answers, root=None) -> ExerciseResult:
    """``check`` without the printing: the result of the public tests of one exercise."""
    from .config import load_course

    ident = str(exercise_id)
    result = ExerciseResult(ident, f"check({ident!r})")
    try:
        project = _project_root(root)
        course = load_course(project)
        unit = course.assignments.get(f"u{ident.split('.')[0]}")
    except Exception as e:
        result.problem = (f"could not find the course around this notebook ({e}); open the "
                          f"notebook from your copy of the course")
        return result
    exercise = unit.exercise(ident) if unit is not None and unit.kind == "notebook" else None
    if exercise is None:
        known = ", ".join(e.id for e in unit.exercises) if unit is not None else "none"
        result.problem = f"there is no exercise {ident} (this unit's: {known})"
        return result
    result.label = f"{ident} {', '.join(exercise.names) or exercise.kind}"
    result.hint = exercise.hint
    if not exercise.scored:
        result.problem = "an open question: write your answer in the cell below it (not auto-scored)"
        return result
    if len(answers) != len(exercise.names):
        result.problem = (f"check({ident!r}, ...) takes {len(exercise.names)} answer(s) "
                          f"({', '.join(exercise.names)}), got {len(answers)}")
        return result
    try:
        import pytest
    except ImportError:
        from .commands import SETUP_HINT

        result.problem = (f"pytest is not installed in this Python ({sys.executable}); in your "
                          f"copy of the course run: {SETUP_HINT}")
        return result
    _run_tests(pytest, unit, exercise, dict(zip(exercise.names, answers)), result)
    return result


def _run_tests(pytest, unit, exercise, answers, result):
    from . import harness, plugin

    state = harness.State(unit.folder,
                          recording=unit.folder / "tests" / "public" / f"{harness.RECORDING_NAME}.json",
                          time_s=unit.limits.get("time_s", 10), answers=answers)
    runner = _Runner(exercise.id, unit.limits.get("time_s", 10))
    pytest.hookimpl(hookwrapper=True)(_Runner.makereport)    # marks the function, once
    runner.pytest_runtest_makereport = runner.makereport
    tests = unit.folder / "tests"
    args = [str(tests / "public"), "-p", "no:cacheprovider", "-p", "no:faulthandler",
            "-p", "no:stepwise", "-p", "no:logging", "-p", "no:unraisableexception",
            "-p", "no:threadexception", "-p", "no:warnings", "--noconftest", "-q", "-s",
            "--assert=plain", "--import-mode=importlib", "-c", os.devnull,
            "--rootdir", str(tests), "-W", "ignore::pytest.PytestAssertRewriteWarning"]
    harness.configure(state)
    if state.recording is None and state.live_allowed():
        state.reference()   # the instructor's notebook runs once, outside every test's time limit
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed), _quiet_stderr():
            pytest.main(args, plugins=[plugin, runner])
    finally:
        harness.configure(None)
    result.tests = list(runner.tests.values())
    if not result.tests:
        result.problem = f"no public tests of {exercise.id} were found (ask the course staff)"
        text = printed.getvalue().strip()
        if "error" in text.lower():
            result.problem += ": " + text.splitlines()[-1][:300]
        return
    result.max_points = sum(t["points"] for t in result.tests)
    result.points = sum(t["points"] for t in result.tests if t["outcome"] == "passed")


@contextlib.contextmanager
def _quiet_stderr():
    saved = sys.stderr
    sys.stderr = io.StringIO()
    try:
        yield
    finally:
        sys.stderr = saved


# ---------------------------------------------------------------- running a notebook here


def _no_display(*args, **kwargs):
    """``display`` outside IPython: nothing to show."""


def run_notebook(path, *, strict=False):
    """Execute the code cells of the notebook at ``path`` in a fresh namespace, in this
    process; returns ``(namespace, failures)`` with ``failures`` ``[(cell, "Type: message")]``.
    ``strict``: the first failing cell raises ``GraderError`` instead."""
    from .errors import GraderError
    from .notebook_cells import python_source

    notebook = read_notebook(Path(path).read_bytes())
    namespace = {"__name__": "__main__", "__builtins__": builtins, "display": _no_display}
    failures = []
    saved = os.environ.get("MINISEGNET_CHECK")
    os.environ["MINISEGNET_CHECK"] = "off"
    if "matplotlib.pyplot" not in sys.modules:
        os.environ.setdefault("MPLBACKEND", "Agg")
    before = _figures()
    try:
        with contextlib.redirect_stdout(io.StringIO()), _quiet_stderr(), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for cell in notebook.code_cells():
                source = python_source(cell.source)
                if source is None:
                    continue
                try:
                    exec(compile(source, f"<{Path(path).name} cell {cell.index}>", "exec",
                                 dont_inherit=True), namespace)
                except Exception as e:
                    if strict:
                        raise GraderError(f"the instructor's notebook {path} fails at cell "
                                          f"{cell.index}: {type(e).__name__}: {e}") from None
                    failures.append((cell.index, f"{type(e).__name__}: {e}"))
                finally:
                    _close_new_figures(before)
    finally:
        if saved is None:
            os.environ.pop("MINISEGNET_CHECK", None)
        else:
            os.environ["MINISEGNET_CHECK"] = saved
    return namespace, failures


def _figures():
    pyplot = sys.modules.get("matplotlib.pyplot")
    return set(pyplot.get_fignums()) if pyplot is not None else set()


def _close_new_figures(before):
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        for number in set(pyplot.get_fignums()) - before:
            pyplot.close(number)


def reference_namespace(path) -> dict:
    """The instructor's notebook executed here (trusted; every cell must run), cached per
    file version."""
    path = Path(path).resolve()
    info = path.stat()
    key = (str(path), info.st_mtime_ns, info.st_size)
    if key not in _REFERENCES:
        _REFERENCES[key], _ = run_notebook(path, strict=True)
    return _REFERENCES[key]


def is_solution_notebook(path) -> bool:
    """Whether the notebook at ``path`` holds solution markers (the instructor's edition)."""
    from .markers import is_marker_like

    try:
        notebook = read_notebook(Path(path).read_bytes())
    except (OSError, ValueError):
        return False
    return any(is_marker_like(line) for cell in notebook.code_cells()
               for line in cell.source.splitlines())


# ---------------------------------------------------------------- the lessons index


def points_text(unit) -> str:
    """``"5 exercises, 11 + 4 points, 1 open question"`` for a unit."""
    scored = [e for e in unit.exercises if e.scored]
    opened = len(unit.exercises) - len(scored)
    text = (f"{len(scored)} exercise{'s' * (len(scored) != 1)}, "
            f"{sum(e.points for e in scored)} + {sum(e.hidden for e in scored)} points")
    return text + (f", {opened} open question{'s' * (opened != 1)}" if opened else "")


INDEX_BEGIN = ("<!-- exercises: generated from assignments/uNN/assignment.json by "
               "`python -m minisegnet.course.exercises`; a test keeps it current -->")
INDEX_END = "<!-- end of the generated exercises -->"


def index_markdown(course) -> str:
    """The exercises section of ``lessons/README.md`` (a test keeps the file equal to it)."""
    import re

    lines = ["## Exercises", "",
             "Each exercise is declared once, in its unit's `assignments/uNN/assignment.json`; "
             "this section is generated from those files. Points are public + hidden: `check` "
             "shows the public ones in the notebook, the autograder adds the hidden tests; an "
             "open question is collected, not auto-scored.", "",
             "| unit | notebook | exercises |", "|---|---|---|"]
    units = course.units()
    for unit in units:
        lines.append(f"| {unit.unit} | [{Path(unit.notebook).name}](../{unit.notebook}) | "
                     f"{points_text(unit)} |")
    lines.append("")
    for unit in units:
        title = re.sub(r"^Unit \d+ exercises:\s*", "", unit.title)
        lines += [f"### Unit {unit.unit}: {title}", "",
                  "| exercise | kind | what | answer | points | hint |",
                  "|---|---|---|---|---:|---|"]
        for e in unit.exercises:
            answer = ", ".join(f"`{n}`" for n in e.names) or "written, in the cell tagged `open`"
            points = f"{e.points} + {e.hidden}" if e.scored else "0 (collected)"
            cells = [e.title, e.hint]
            what, hint = (c.replace("|", "\\|") for c in cells)
            lines.append(f"| {e.id} | {KIND_WORDS[e.kind]} | {what} | {answer} | {points} | {hint} |")
        lines.append("")
    return "\n".join(lines)


def update_index(root) -> bool:
    """Rewrite the generated exercises section of ``lessons/README.md`` (between
    ``INDEX_BEGIN`` and ``INDEX_END``, appended if absent); ``True`` when it changed."""
    from .config import load_course

    path = Path(root) / "lessons" / "README.md"
    text = path.read_text(encoding="utf-8")
    block = f"{INDEX_BEGIN}\n{index_markdown(load_course(root)).rstrip()}\n{INDEX_END}"
    if INDEX_BEGIN in text and INDEX_END in text:
        head, rest = text.split(INDEX_BEGIN, 1)
        new = head + block + rest.split(INDEX_END, 1)[1]
    else:
        new = text.rstrip("\n") + "\n\n" + block + "\n"
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


def indexed_section(text: str) -> str | None:
    """The generated exercises section of the lessons index ``text`` (``None``: absent)."""
    if INDEX_BEGIN not in text or INDEX_END not in text:
        return None
    return text.split(INDEX_BEGIN, 1)[1].split(INDEX_END, 1)[0].strip("\n")


if __name__ == "__main__":   # python -m minisegnet.course.exercises: refresh lessons/README.md
    from .commands import find_project

    print("lessons/README.md " + ("updated" if update_index(find_project()) else "is current"))
