"""Grading a lecture unit's notebook: what the trusted parent does before and after the run.

Before (``prepare``): the submitted ``.ipynb`` is untrusted JSON. It is parsed here
(``notebook_cells.py``: size-capped, nothing evaluated), checked to be this unit's notebook
(its metadata, else the exercise ids its cells carry), and reduced to its code cells as
plain Python; the open answers are read from its markdown cells tagged ``open``. A file that
is not a notebook, or the notebook of another unit, is not run at all: every exercise gets
the one message that says so.

After (``build_results``): Gradescope's ``results.json`` with one entry per exercise and
visibility (the public tests of 03.1 as "1.1", its hidden tests as "2.1"), each scoring
the points of the tests that passed. A public entry says which tests failed and why; when
the cell of the exercise did not run (a syntax error, an endless loop stopped after
``cell_s``, ``sys.exit``, a crash) it says that first. Open answers go to ``extra_data``
(and ``open_answers.md`` next to ``results.json``), 0 points.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .collect import escape_text
from .notebook_cells import (
    NotebookError,
    exercise_cells,
    open_answers,
    python_source,
    read_notebook,
    unit_of,
)

__all__ = ["Prepared", "prepare", "build_results", "open_answers_markdown"]

_NOT_ANSWERED = ("not answered", "not implemented")
_WORDS = {"timeout": "time limit", "memory": "memory limit", "exit": "the code exited",
          "crash": "crash", "error": "an exception", "wrong": "wrong result",
          "output": "unreadable output", "grader": "grader error", "missing": "did not run"}


@dataclass
class Prepared:
    cells: list = field(default_factory=list)          # [(index, python source)]
    problem: str = ""                                  # why the notebook is not run
    exercise_cell: dict = field(default_factory=dict)  # exercise id -> cell index
    open_answers: dict = field(default_factory=dict)   # exercise id -> text or None


def prepare(overlay: dict, stubbed: dict, manifest: dict) -> Prepared:
    """The cells to run and what else the grader needs of a submitted notebook."""
    rel = manifest["notebook"]
    unit = manifest["assignment"]
    name = rel.rsplit("/", 1)[-1]
    prepared = Prepared()
    data = overlay.get(rel)
    if data is None:
        why = stubbed.get(rel) or "was not submitted"
        prepared.problem = f"Your notebook {name} {why}: no exercise could be graded."
        return prepared
    try:
        notebook = read_notebook(data)
    except NotebookError as e:
        prepared.problem = f"The file submitted as {name} cannot be read: {e}."
        return prepared
    found, ids = unit_of(notebook)
    if found is not None and found != unit:
        shown = f" (its exercises: {', '.join(sorted(set(ids))[:6])})" if ids else ""
        prepared.problem = (f"This is the notebook of unit {found[1:]}{shown}, not of unit "
                            f"{unit[1:]}: submit {rel} for this assignment. Nothing was graded.")
        return prepared
    for cell in notebook.code_cells():
        source = python_source(cell.source)
        if source is not None and source.strip():
            prepared.cells.append((cell.index, source))
    prepared.exercise_cell = {i: c.index for i, c in exercise_cells(notebook).items()}
    opened = [e["id"] for e in manifest["exercises"] if e["kind"] == "open"]
    prepared.open_answers = open_answers(notebook, opened)
    return prepared


def _points(value) -> str:
    return f"{value:g} point{'s' * (value != 1)}"


def _cell_note(ident, names, prepared, cells):
    """Why the exercise's own cell did not give its answer, or ``""``."""
    index = prepared.exercise_cell.get(ident)
    outcome = cells.get(index)
    if outcome is None or outcome.get("status") == "ok":
        return ""
    answer = " and ".join(names) or "the answer"
    return (f"The cell of exercise {ident} (cell {index}) {outcome.get('message') or outcome['status']}"
            f", so {answer} may not be defined as you meant.")


def _failed_cells(cells, limit=6) -> str:
    bad = [c for c in cells.values() if c.get("status") != "ok"]
    if not bad:
        return ""
    shown = "; ".join(f"cell {c['index']} {escape_text(c.get('message') or c['status'], 200)}"
                      for c in bad[:limit])
    more = f" and {len(bad) - limit} more" if len(bad) > limit else ""
    return f"Cells of your notebook that did not run: {shown}{more}."


def _public_output(exercise, tests, entries, prepared, cells, report) -> str:
    if prepared.problem:
        return prepared.problem
    if report is None:
        return "The grader could not run the tests; please contact the course staff."
    lines = []
    note = _cell_note(exercise["id"], exercise["names"], prepared, cells)
    if note:
        lines.append(note)
    failed = [(t, entries.get(t["id"])) for t in tests
              if (entries.get(t["id"]) or {}).get("outcome") != "passed"]
    if failed and all((e or {}).get("category") in _NOT_ANSWERED for _, e in failed) \
            and len(failed) == len(tests):
        lines.append("Not answered yet: " + ((failed[0][1] or {}).get("message") or "")
                     .removeprefix("Not answered yet: "))
        return "\n".join(lines)
    for test in tests:
        entry = entries.get(test["id"]) or {}
        if entry.get("outcome") == "passed":
            lines.append(f"passed: {test['name']} ({_points(test['points'])})")
            continue
        message = entry.get("message") or "This test did not run."
        lines.append(f"failed: {test['name']} ({_points(test['points'])}): {message}")
        if entry.get("printed"):
            lines.append("Your code printed:\n" + entry["printed"].strip()[:2000])
    if failed and exercise.get("hint") and not any("Hint:" in (e or {}).get("message", "")
                                                   for _, e in failed):
        lines.append(f"Hint: {exercise['hint']}")
    return "\n".join(lines)


def _hidden_output(tests, entries, prepared) -> str:
    if prepared.problem:
        return "Hidden tests: not run (see the public entry of this exercise)."
    passed = sum((entries.get(t["id"]) or {}).get("outcome") == "passed" for t in tests)
    categories = sorted({(entries.get(t["id"]) or {}).get("category") or "missing" for t in tests
                         if (entries.get(t["id"]) or {}).get("outcome") != "passed"})
    why = f" (failed: {', '.join(_WORDS.get(c, c) for c in categories)})" if categories else ""
    return f"Hidden tests: {passed} of {len(tests)} passed{why}."


def build_results(bundle, report, hidden, notes, seconds, prepared, normalise, submitters=""):
    """The Gradescope ``results.json`` body for one submitted notebook."""
    entries = (report or {}).get("tests", {})
    cells = {c["index"]: c for c in ((report or {}).get("notebook") or {}).get("cells", [])}
    manifest = bundle.manifest
    tests = bundle.tests(hidden)
    rows, score, total = [], 0, 0
    for kind in ("public", "hidden") if hidden else ("public",):
        number = 0
        for exercise in manifest["exercises"]:
            mine = [t for t in tests if t.get("exercise") == exercise["id"] and t["kind"] == kind]
            if not mine:
                continue
            number += 1
            got = sum(t["points"] for t in mine
                      if (entries.get(t["id"]) or {}).get("outcome") == "passed")
            most = sum(t["points"] for t in mine)
            score, total = score + got, total + most
            categories = [(entries.get(t["id"]) or {}).get("category") or "missing" for t in mine
                          if (entries.get(t["id"]) or {}).get("outcome") != "passed"]
            tag = "passed" if not categories else \
                "not answered" if all(c in _NOT_ANSWERED for c in categories) else categories[0]
            title = exercise.get("title") or ", ".join(exercise["names"])
            output = _public_output(exercise, mine, entries, prepared, cells, report) \
                if kind == "public" else _hidden_output(mine, entries, prepared)
            rows.append({
                "name": f"{exercise['id']} {title}" + (" (hidden tests)" if kind == "hidden" else ""),
                "number": f"{1 if kind == 'public' else 2}.{number}",
                "score": got, "max_score": most,
                "status": "passed" if got == most else "failed",
                "output": normalise(output)[:8000],
                "visibility": "visible" if kind == "public" else "after_due_date",
                "tags": [kind, tag],
            })
    notes = [escape_text(n, 1000) for n in notes]
    lines = [f"{manifest.get('title', bundle.assignment)}: {score:g} / {total:g} points"
             + ("" if hidden else " (public tests only)")]
    if prepared.problem:
        lines.append(prepared.problem)
    elif report is None:
        lines.append("The grader could not run the tests; every exercise scores 0. Please "
                     "contact the course staff.")
    elif _failed_cells(cells):
        lines.append(_failed_cells(cells))
    for ident, text in prepared.open_answers.items():
        lines.append(f"Open question {ident}: " + (
            f"your answer was collected ({len(text)} characters) for the course staff to read."
            if _answered(text) else "no answer found (write it in the cell tagged 'open' "
                                    "below the question)."))
    lines += [f"- {n}" for n in notes]
    extra = {"assignment": bundle.assignment, "max_score": total, "hidden_included": bool(hidden),
             "notes": notes, "kind": "notebook",
             "open_answers": {i: t for i, t in prepared.open_answers.items() if _answered(t)}}
    if submitters:
        extra["submitters"] = submitters
    return {"score": score, "execution_time": round(seconds, 2),
            "output": normalise("\n".join(lines)), "stdout_visibility": "hidden",
            "tests": rows, "extra_data": extra}


def _answered(text) -> bool:
    from .markers import open_stub

    return bool(text and text.strip()) and not text.strip().startswith(open_stub("")[:12])


def open_answers_markdown(student, results, manifest) -> str:
    """``open_answers.md`` of one submission."""
    answers = results.get("extra_data", {}).get("open_answers", {})
    lines = [f"# {student}: open answers of {manifest.get('title', manifest['assignment'])}", ""]
    for exercise in manifest["exercises"]:
        if exercise["kind"] != "open":
            continue
        lines += [f"## {exercise['id']} {exercise.get('title', '')}".rstrip(), "",
                  answers.get(exercise["id"]) or "*(no answer)*", ""]
    return "\n".join(lines)
