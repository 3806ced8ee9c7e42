"""The student edition's own README, written by the release.

Students get a README of their own, not the instructor's: what the course is, the two
commands (set up, then ``minisegnet check aK``), the lessons with what each notebook needs,
the assignments and how to submit, and what the tools do and do not do. It names only files
and commands the edition has (the course's tests check every one).
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["student_readme", "lessons_table", "needs_from_index", "SETUP_COMMAND"]

SETUP_COMMAND = 'python -m pip install -e ".[course]"'
_NEEDS_COLUMN = "needs"


def _title(path: Path, fallback: str) -> str:
    try:
        first = path.read_text(encoding="utf-8").splitlines()[0]
    except (OSError, IndexError, UnicodeDecodeError):
        return fallback
    title = first.lstrip("#").strip()
    return re.sub(r"^Unit \d+\s*[—-]\s*", "", title) or fallback


def needs_from_index(text: str) -> dict:
    """``{unit: "A1, A2" or ""}`` from the lessons index table (its ``needs`` column)."""
    rows = [line for line in text.splitlines() if line.startswith("|")]
    if not rows:
        return {}
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    if _NEEDS_COLUMN not in header:
        return {}
    at = header.index(_NEEDS_COLUMN)
    found = {}
    for row in rows[2:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        if len(cells) > at and re.fullmatch(r"\d+", cells[0]):
            found[cells[0]] = ", ".join(re.findall(r"A\d+", cells[at]))
    return found


def lessons_table(source: Path, notebooks, needs: dict, link_prefix: str = "") -> list:
    """Rows ``(unit, title, lesson path, notebook path, needs text)`` for the notebooks."""
    source = Path(source)
    rows = []
    for rel in sorted(notebooks):
        stem = Path(rel).stem
        unit = stem.split("-", 1)[0]
        lesson = f"lessons/{stem}.md"
        title = _title(source / lesson, stem)
        wanted = needs.get(rel)
        text = ", ".join(wanted) if isinstance(wanted, list) else (wanted or "")
        rows.append((unit, title, link_prefix + lesson if (source / lesson).is_file() else None,
                     link_prefix + rel, text))
    return rows


def _assignment_rows(course, stage: str, order) -> list:
    rows = []
    names = [a.id for a in order]
    for a in order:
        position = names.index(a.id) - names.index(stage)
        state = ("solution posted (filled in)" if position < 0 else
                 "this edition's assignment" if position == 0 else "to come (stubs)")
        files = ", ".join(f"`{Path(f).name}`" for f in a.files)
        rows.append(f"| [{a.tag}](assignments/{a.id}/README.md) | {a.title} | {files} | "
                    f"{a.points.get('public', 0)} + {a.points.get('hidden', 0)} | {state} |")
    return rows


def student_readme(source, course, stage: str, needs: dict, shipped) -> str:
    """The README of the student edition of ``stage``."""
    from .release import ordered  # the course order lives with the release

    source = Path(source)
    order = ordered(course)
    current = course.assignment(stage)
    notebooks = sorted(r for r in shipped if r.endswith(".ipynb") and r.startswith("notebooks/"))
    if not needs:   # not rendered: the instructor's index says it (a test keeps it right)
        index = source / "lessons" / "README.md"
        by_unit = needs_from_index(index.read_text(encoding="utf-8")) if index.is_file() else {}
        needs = {rel: by_unit.get(Path(rel).stem.split("-", 1)[0], "") for rel in notebooks}
    earlier = [a for a in order if order.index(a) < order.index(current)]
    lessons = []
    for unit, title, lesson, notebook, need in lessons_table(source, notebooks, needs):
        first = f"[{title}]({lesson})" if lesson else title
        lessons.append(f"| {unit} | {first} | [notebook]({notebook}) | {need or 'nothing'} |")
    files = "\n".join(f"- `{f}`" for f in current.files)
    posted = (f"The solutions of {', '.join(a.tag for a in earlier)} are filled in (they were "
              f"posted), so the code this assignment builds on works; the autograder grades "
              f"those functions with the posted solution whatever your copy holds, so an "
              f"earlier mistake never costs points again.\n\n" if earlier else "")
    later = [a.tag for a in order if order.index(a) > order.index(current)]
    later_text = (f" Functions of {', '.join(later)} are stubs too; you get them filled in "
                  f"with a later edition." if later else "")
    return f"""# minisegnet: semantic segmentation from scratch (student edition, {current.tag})

In this course you build a semantic segmentation library yourself, one operation at a time,
each with an explicit forward **and backward** pass on NumPy arrays: convolution as a matrix,
transposed convolution, pooling and unpooling, bilinear upsampling, pyramid pooling, the
measures of a segmentation and the dense CRF. Twelve units, each a lesson (`lessons/`) and a
notebook (`notebooks/`), and {len(order)} graded assignments (`assignments/`) cut from the
library: the functions you write are the ones the library, its layers and its models run on.

This is the edition for assignment **{current.tag}: {current.title}**. {posted}The functions
of {current.tag} raise `NotImplementedError` until you write them: the message names the
function, its file and the assignment.{later_text}

## Two commands

On a machine with Python 3.10 or newer, in this folder (a virtual environment is a good
idea: `python -m venv .venv`, then `source .venv/bin/activate`):

**Set up, once:**

```bash
{SETUP_COMMAND}
```

An *editable* install: the `minisegnet` package runs the files in this folder, so what you
edit is what runs. It also installs pytest, Jupyter and scikit-image (some notebooks
use its images).

**Check your work, as often as you like:**

```bash
minisegnet check {stage}
```

runs the public tests of {current.tag} on the files in this folder, the way the autograder
runs them (your code in a separate, sandboxed process with time and memory limits), and
prints a points table and the first failure to look at. `minisegnet check {stage} --all`
lists every failure, one line each, the lowest-level function first. The exit status is 0
when every public test passes, 1 when some fail, 2 when the tests could not run (the message
says why and what to do).

## Lessons

Read a unit's lesson, then open its notebook (`jupyter lab notebooks/`). Every notebook
ships with the outputs of the course's own solution, so you can read it now; it *runs*
once the library code it uses exists. "needs" lists the assignments whose functions the
notebook calls: before those are written, running it stops at the first missing function
with one line that names it (the stored outputs show what it would print).

| unit | lesson | notebook | needs |
|---|---|---|---|
{chr(10).join(lessons)}

## Assignments

| | assignment | files you submit | points (public + hidden) | in this edition |
|---|---|---|---|---|
{chr(10).join(_assignment_rows(course, stage, order))}

Each assignment's README (`assignments/{stage}/README.md` for this one) says what to write,
the rules, the points of every test and the classic mistakes; its guiding notebook
(`assignments/{stage}/{stage}.ipynb`) builds every piece step by step.

## Submitting {current.tag}

Upload these files to the course's Gradescope assignment, as they are in this folder
(at their paths, or the files alone):

{files}

Other files are ignored. The autograder runs the public tests you can run yourself and the
hidden tests (the same functions on other shapes and parameters), with the same sandbox and
limits as `minisegnet check {stage}`.

## What the tools do, and what they do not

- `minisegnet check {stage}` gives the points of the public tests, with the same tests and
  expected values as the autograder. It does not run the hidden tests: those count too
  (see the points above), so test more cases than the public tests do.
- `pytest assignments/{stage}` runs the same public tests in this process, with ordinary
  tracebacks to debug with (add `-x` to stop at the first failure). It always tests the
  files in this folder; it shows no points.
- The notebooks are not graded; nothing you change in them or in the lessons counts.
- The tools never send anything anywhere: only what you upload is graded.
- `minisegnet demo` (train a small PSPNet, evaluate, refine with the dense CRF) and
  `minisegnet tour` use the whole library: they run once all the assignments are written;
  until then they stop with the one line naming the first missing function.
- `python -m pytest` runs the few project tests shipped in `tests/` (they use no graded
  function, so they pass from the start).
"""
