"""The pytest plugin of the isolated runner (``-p <course package>.plugin --noconftest``).

It is loaded only by trusted pytest processes that ``grading.py`` starts (and by
``release.py`` to record expected values): it wires the fixtures of ``harness.py`` to a
confined worker, then writes one JSON report of every test's outcome, category and message
(``--course-report``). Scores are not computed here: the parent maps the report onto the
manifest, so a test this process never reports still appears, with 0 points.

Options: ``--course-assignment DIR`` (the folder with ``assignment.json``),
``--course-worker DIR`` (a prepared worker folder; without it probes run in this process,
which only the release does, on the solution), ``--course-replay FILE`` (recorded expected
values), ``--course-record FILE``, ``--course-live`` (the ``minisegnet`` importable here is
the reference solution), ``--course-limits JSON``, ``--course-report FILE``,
``--course-collect FILE`` (with ``--collect-only``: write the test list with points).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from . import harness
from .config import assignment_module
from .errors import GraderError, StudentFailure
from .harness import check, data, expected, student  # noqa: F401  (fixtures)

_REPORT = {}
_COLLECTED = []
_STARTED = {}


def pytest_addoption(parser):
    group = parser.getgroup("minisegnet course")
    group.addoption("--course-assignment", default=None)
    group.addoption("--course-worker", default=None)
    group.addoption("--course-replay", default=None)
    group.addoption("--course-record", default=None)
    group.addoption("--course-live", action="store_true", default=False)
    group.addoption("--course-limits", default="{}")
    group.addoption("--course-report", default=None)
    group.addoption("--course-collect", default=None)
    group.addoption("--course-no-landlock", action="store_true", default=False)


def pytest_configure(config):
    harness.register_markers(config)
    folder = config.getoption("--course-assignment")
    if folder is None:
        return
    limits = json.loads(config.getoption("--course-limits"))
    module = assignment_module(folder)   # the library module the probes receive
    worker = None
    if config.getoption("--course-worker"):
        from .sandbox import Worker

        worker = Worker(config.getoption("--course-worker"), limits,
                        landlock=not config.getoption("--course-no-landlock"), module=module)
    state = harness.State(folder, worker=worker, recording=config.getoption("--course-replay"),
                          record=config.getoption("--course-record"),
                          live=bool(config.getoption("--course-live")),
                          time_s=limits.get("time_s", 10.0), module=module)
    harness.configure(state)
    config._course_state = state


def _describe(item):
    doc = (getattr(item, "function", None).__doc__ or "").strip().splitlines()
    title = doc[0].strip() if doc else item.originalname if hasattr(item, "originalname") else item.name
    callspec = getattr(item, "callspec", None)
    return f"{title} [{callspec.id}]" if callspec is not None else title


def pytest_collection_modifyitems(session, config, items):
    state = getattr(config, "_course_state", None)
    if state is None:
        return
    for item in items:
        marker = item.get_closest_marker("points")
        points = marker.args[0] if marker and marker.args else None
        key = harness.test_key(item, state)
        entry = {"id": key, "name": _describe(item), "points": points, "kind": key.split("/", 1)[0]}
        limit = item.get_closest_marker("time_limit")
        if limit is not None and limit.args:
            entry["time_s"] = float(limit.args[0])
        _COLLECTED.append(entry)
    path = config.getoption("--course-collect")
    if path:
        Path(path).write_text(json.dumps(_COLLECTED, indent=1) + "\n", encoding="utf-8")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    state = getattr(item.config, "_course_state", None)
    if state is None:
        return
    key = harness.test_key(item, state)
    entry = _REPORT.setdefault(key, {"outcome": "passed", "category": "", "message": "",
                                     "detail": ""})
    if call.when == "setup":
        _STARTED[key] = time.monotonic()
    if call.when == "teardown":
        entry["seconds"] = round(time.monotonic() - _STARTED.get(key, time.monotonic()), 3)
        printed = state.outputs.get(key)
        if printed:
            entry["printed"] = printed[-4000:]
    if report.passed or entry["outcome"] != "passed":
        return
    entry["outcome"] = "skipped" if report.skipped else "failed"
    exc = call.excinfo.value if call.excinfo is not None else None
    if report.skipped:
        entry.update(category="skipped", message="The test was skipped.")
    elif isinstance(exc, StudentFailure):
        entry.update(category=exc.category, message=exc.message, detail=exc.detail[-3000:])
    elif isinstance(exc, GraderError):
        entry.update(category="grader", message=f"Grader error: {exc}")
    elif isinstance(exc, AssertionError):
        entry.update(category="wrong", message=str(exc)[:3000])
    else:
        text = f"{type(exc).__name__}: {exc}" if exc is not None else "failed"
        entry.update(category="grader", message=f"Grader error ({call.when}): {text}"[:3000])


def pytest_sessionfinish(session, exitstatus):
    state = getattr(session.config, "_course_state", None)
    if state is None:
        return
    sandbox = None
    if state.worker is not None:
        sandbox = state.worker.sandbox
        starts = state.worker.starts
    else:
        starts = 0
    state.finish()
    path = session.config.getoption("--course-report")
    if path:
        body = {"tests": _REPORT, "collected": _COLLECTED, "sandbox": sandbox,
                "worker_starts": starts}
        Path(path).write_text(json.dumps(body, indent=1, sort_keys=True) + "\n", encoding="utf-8")
