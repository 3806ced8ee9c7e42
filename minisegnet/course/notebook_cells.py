"""A lecture notebook as the grader reads it: code cells as Python, exercises, open answers.

A submitted ``.ipynb`` is untrusted JSON. ``read_notebook`` parses it with ``json`` under a
size cap and keeps only what it recognises: each cell's type, its source (a string or a list
of strings), its tags and the exercise id in its metadata (``metadata.minisegnet.exercise``).
Nothing in a notebook is ever evaluated here.

``python_source`` turns a code cell into plain Python the way Jupyter's own transformations
would leave it runnable: line magics (``%matplotlib inline``) and shell lines (``!pip ...``)
become ``pass`` at their indentation (line numbers stay), a cell magic whose body is Python
(``%%time``) loses its first line, and any other cell magic (``%%bash``) drops the cell.

The same reading serves the trusted side (the instructor's notebook as the reference) and
the grader (a student's notebook): which unit it belongs to (``unit_of``), which cell holds
which exercise (``exercise_cells``) and the text of the open answers (``open_answers``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

__all__ = ["Cell", "Notebook", "NotebookError", "read_notebook", "python_source", "unit_of",
           "exercise_cells", "open_answers", "MAX_NOTEBOOK_BYTES", "CHECK_CALL"]

MAX_NOTEBOOK_BYTES = 32 << 20
MAX_CELLS = 2000
MAX_CELL_CHARS = 1 << 20
PYTHON_CELL_MAGICS = ("time", "timeit", "capture", "prun")
CHECK_CALL = re.compile(r"""\bcheck\(\s*["'](?P<id>\d{2}\.\d{1,2})["']""")
_MAGIC = re.compile(r"^(?P<indent>\s*)[%!]")
_TITLE = re.compile(r"^\s*#\s*Unit\s+(\d{2})\b")


class NotebookError(ValueError):
    """The file is not a notebook the grader can read (the message says why, for a student)."""


@dataclass
class Cell:
    index: int          # 1-based position in the notebook
    type: str           # "code", "markdown", "raw"
    source: str
    tags: tuple = ()
    exercise: str | None = None   # metadata.minisegnet.exercise


@dataclass
class Notebook:
    cells: list = field(default_factory=list)
    unit: str | None = None       # metadata.minisegnet.unit ("u03")

    def code_cells(self) -> list:
        return [c for c in self.cells if c.type == "code"]


def _text(value) -> str:
    if isinstance(value, str):
        return value[:MAX_CELL_CHARS]
    if isinstance(value, list):
        return "".join(v for v in value if isinstance(v, str))[:MAX_CELL_CHARS]
    return ""


def _meta(value) -> dict:
    return value if isinstance(value, dict) else {}


def read_notebook(data) -> Notebook:
    """Parse a notebook (bytes or text); ``NotebookError`` when it is not one."""
    if isinstance(data, bytes):
        if len(data) > MAX_NOTEBOOK_BYTES:
            raise NotebookError(f"it is larger than {MAX_NOTEBOOK_BYTES >> 20} MiB")
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise NotebookError(f"it is not UTF-8 text (byte {e.start})") from None
    try:
        raw = json.loads(data)
    except RecursionError:
        raise NotebookError("it is not a notebook (JSON nested too deeply)") from None
    except ValueError as e:
        raise NotebookError(f"it is not a notebook (invalid JSON: {str(e)[:120]})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        raise NotebookError("it is not a notebook (no list of cells)")
    notebook = Notebook(unit=_unit_name(_meta(_meta(raw.get("metadata")).get("minisegnet"))
                                        .get("unit")))
    for index, cell in enumerate(raw["cells"][:MAX_CELLS], 1):
        cell = _meta(cell)
        meta = _meta(cell.get("metadata"))
        tags = meta.get("tags")
        tags = tuple(t for t in tags if isinstance(t, str))[:20] if isinstance(tags, list) else ()
        exercise = _meta(meta.get("minisegnet")).get("exercise")
        kind = cell.get("cell_type")
        notebook.cells.append(Cell(index, kind if kind in ("code", "markdown", "raw") else "raw",
                                   _text(cell.get("source")), tags,
                                   exercise if isinstance(exercise, str) else None))
    return notebook


def _unit_name(value):
    return value if isinstance(value, str) and re.fullmatch(r"u\d{2}", value) else None


def python_source(source: str) -> str | None:
    """A code cell as plain Python (magics and shell lines neutralised); ``None`` for a cell
    whose cell magic makes it something other than Python."""
    lines = source.split("\n")
    if lines and lines[0].lstrip().startswith("%%"):
        magic = lines[0].lstrip()[2:].split(None, 1)[0] if lines[0].strip() != "%%" else ""
        if magic not in PYTHON_CELL_MAGICS:
            return None
        lines = [""] + lines[1:]
    out = []
    for line in lines:
        match = _MAGIC.match(line)
        out.append(f"{match.group('indent')}pass" if match else line)
    return "\n".join(out)


def unit_of(notebook: Notebook) -> tuple[str | None, list]:
    """``(unit, evidence)``: the unit a notebook says it belongs to (its metadata, else the
    exercise ids its cells carry or check, else its title "# Unit NN"), and the ids seen."""
    ids = []
    for cell in notebook.cells:
        if cell.exercise:
            ids.append(cell.exercise)
        if cell.type == "code":
            ids.extend(m.group("id") for m in CHECK_CALL.finditer(cell.source))
    if notebook.unit:
        return notebook.unit, ids
    units = sorted({f"u{i.split('.')[0]}" for i in ids})
    if len(units) == 1:
        return units[0], ids
    title = next((c.source for c in notebook.cells if c.type == "markdown"), "")
    match = _TITLE.match(title)     # "# Unit 02 — ...": a lecture notebook without exercises
    return (f"u{match.group(1)}" if match and not units else None), ids


def exercise_cells(notebook: Notebook) -> dict:
    """``{exercise id: cell}``: the code cell of each exercise (tagged in its metadata, else
    the code cell before the first ``check("NN.k", ...)`` of it)."""
    found = {}
    code = notebook.code_cells()
    for cell in code:
        if cell.exercise and "exercise" in cell.tags:
            found.setdefault(cell.exercise, cell)
    for position, cell in enumerate(code):
        for match in CHECK_CALL.finditer(cell.source):
            ident = match.group("id")
            if ident not in found and position > 0:
                found[ident] = code[position - 1]
    return found


def open_answers(notebook: Notebook, ids) -> dict:
    """``{id: text or None}``: the student's text in the markdown cell tagged ``open`` of each
    open question (``None``: no such cell)."""
    found = {}
    for cell in notebook.cells:
        if cell.type == "markdown" and "open" in cell.tags and cell.exercise in ids:
            found.setdefault(cell.exercise, cell.source.strip())
    return {ident: found.get(ident) for ident in ids}
