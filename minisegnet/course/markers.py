"""Solution markers: find them, check them, and replace what they enclose with a stub.

The convention is nbgrader's: a solution region is the lines strictly between a line that
reads ``### BEGIN SOLUTION`` and one that reads ``### END SOLUTION`` (any number of ``#``).
In the library every region carries the assignment it belongs to
(``### BEGIN SOLUTION A1`` ... ``### END SOLUTION A1``; the tag on the END line may be left
out); in an assignment notebook the tag defaults to the notebook's assignment. The student
edition replaces each region by a stub at the marker's indentation::

    # YOUR CODE HERE (A1)
    raise NotImplementedError("A1: implement im2col (see assignments/a1/README.md)")

so that signatures, docstrings and the argument checks before a region are kept. A file
with stubs also imports ``minisegnet._stubs.NotImplementedError`` (a subclass of the
built-in that a notebook shows as that one line, not as a traceback). A staged edition
(``keep``) fills in the regions of the assignments already due instead: only their marker
lines go.

Anything that *looks* like a marker but is not one exactly (a typo, ``BEGIN HIDDEN TESTS``,
an unknown assignment tag), a BEGIN without END, an END without BEGIN, nested regions and
mismatched tags are errors that name the file and the line (``MarkerError``).

This module spells its own keywords in pieces, so that no line of it is a marker.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "MarkerError",
    "Region",
    "find_regions",
    "strip_source",
    "strip_notebook",
    "clean_notebook",
    "instrument_source",
    "is_marker_like",
    "stub_import",
    "BEGIN",
    "END",
]

BEGIN = "BEGIN " + "SOLUTION"
END = "END " + "SOLUTION"
_MARKER = re.compile(r"^#+\s*(?P<kind>BEGIN|END) SOLUTION(?:\s+(?P<tag>[A-Za-z][A-Za-z0-9_]*))?\s*$")
_LOOKALIKE = re.compile(r"(BEGIN|END)\s*(SOLUTION|SOLUTON|SOLUTIONS|HIDDEN\s+TESTS)", re.IGNORECASE)
STUB_COMMENT = "# YOUR CODE HERE ({tag})"
STUB_RAISE = ('raise NotImplementedError("{tag}: implement {what} in {path} '
              '(see assignments/{folder}/README.md)")')
STUB_IMPORT = "from {dots}_stubs import NotImplementedError  # names what to write, and where"
NOTEBOOK_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"


class MarkerError(ValueError):
    """A malformed, unbalanced or unknown solution marker; the message names file and line."""


@dataclass(frozen=True)
class Region:
    """One solution region: ``lines`` are the enclosed source lines (markers excluded)."""

    path: str
    begin: int          # 1-based line of the BEGIN marker
    end: int            # 1-based line of the END marker
    tag: str            # assignment tag, upper case ("A1")
    indent: str
    function: str | None
    lines: tuple = field(default_factory=tuple)
    qualname: str | None = None   # "Class.method" / "outer.inner"; ``function`` is the last part

    @property
    def assignment(self) -> str:
        """The assignment folder name (``"a1"``)."""
        return self.tag.lower()


def is_marker_like(line: str) -> bool:
    """Whether a line is, or tries to be, a solution marker (a comment naming one)."""
    stripped = line.strip()
    return stripped.startswith("#") and bool(_LOOKALIKE.search(stripped))


def _parse_lines(lines, path, known_tags, default_tag=None):
    """Yield ``(begin_index, end_index, tag, indent)`` for each region; 0-based indices."""
    opened = None  # (index, tag, indent)
    for index, line in enumerate(lines):
        if not is_marker_like(line):
            continue
        where = f"{path}:{index + 1}"
        match = _MARKER.match(line.strip())
        if match is None:
            raise MarkerError(
                f"{where}: malformed solution marker {line.strip()!r}: write "
                f"'### {BEGIN} A1' ... '### {END} A1' exactly")
        kind, tag = match.group("kind"), match.group("tag")
        tag = tag.upper() if tag else None
        if tag is not None and known_tags is not None and tag not in known_tags:
            raise MarkerError(
                f"{where}: unknown assignment tag {tag!r} in a solution marker (known: "
                f"{', '.join(sorted(known_tags)) or 'none'}; an assignment needs a folder "
                f"assignments/{tag.lower()}/ with an assignment.json)")
        if kind == "BEGIN":
            if opened is not None:
                raise MarkerError(
                    f"{where}: nested {BEGIN}: the region opened at line {opened[0] + 1} is not "
                    f"closed yet")
            tag = tag or default_tag
            if tag is None:
                raise MarkerError(f"{where}: {BEGIN} needs the assignment tag, e.g. '### {BEGIN} A1'")
            indent = line[: len(line) - len(line.lstrip())]
            opened = (index, tag, indent)
        else:
            if opened is None:
                raise MarkerError(f"{where}: {END} without a matching {BEGIN}")
            if tag is not None and tag != opened[1]:
                raise MarkerError(
                    f"{where}: {END} {tag} closes the region {BEGIN} {opened[1]} opened at line "
                    f"{opened[0] + 1}")
            yield opened[0], index, opened[1], opened[2]
            opened = None
    if opened is not None:
        raise MarkerError(f"{path}:{opened[0] + 1}: {BEGIN} {opened[1]} has no matching {END}")


def _enclosing_functions(text):
    """``[(first_line, last_line, name, qualname)]`` of every function in a module (1-based)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    found = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                qualname = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    found.append((child.lineno, child.end_lineno, child.name, qualname))
                visit(child, qualname + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def find_regions(text: str, path: str, known_tags=None, default_tag=None) -> list[Region]:
    """All solution regions of a Python source; raises ``MarkerError`` on any bad marker."""
    lines = text.split("\n")
    functions = _enclosing_functions(text)
    regions = []
    for begin, end, tag, indent in _parse_lines(lines, path, known_tags, default_tag):
        inside = [(first, last, name, qualname) for first, last, name, qualname in functions
                  if first < begin + 1 <= last]
        name, qualname = max(inside)[2:] if inside else (None, None)   # the innermost
        regions.append(Region(path, begin + 1, end + 1, tag, indent, name,
                              tuple(lines[begin + 1:end]), qualname))
    return regions


def _stub_lines(region: Region) -> list[str]:
    what = region.qualname or region.function or "this part"
    return [region.indent + STUB_COMMENT.format(tag=region.tag),
            region.indent + STUB_RAISE.format(tag=region.tag, what=what, folder=region.assignment,
                                              path=region.path)]


def stub_import(path: str) -> str | None:
    """The import line a stubbed file of the package gets (``None`` outside a package):
    relative, so that it holds wherever the package is installed or copied."""
    parts = path.split("/")
    if len(parts) < 2 or not parts[-1].endswith(".py"):
        return None
    return STUB_IMPORT.format(dots="." * (len(parts) - 1))


def _import_position(text: str) -> int:
    """The line index after the module docstring and ``from __future__`` imports."""
    try:
        body = ast.parse(text).body
    except SyntaxError:
        return 0
    position = 0
    for node in body:
        docstring = (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                     and isinstance(node.value.value, str) and position == 0 and node is body[0])
        if docstring or (isinstance(node, ast.ImportFrom) and node.module == "__future__"):
            position = node.end_lineno
        else:
            break
    return position


def strip_source(text: str, path: str, known_tags=None, keep=(), import_line=None
                 ) -> tuple[str, list[Region]]:
    """The student version of a Python source: each region replaced by its stub.

    Regions whose tag is in ``keep`` (assignments already due, in a staged edition) are
    filled in instead: only their marker lines go. ``import_line`` (see ``stub_import``)
    is added after the docstring when at least one region was stubbed. Returns
    ``(new_text, regions)`` with every region found; the new text is checked to compile, so
    a region that would leave broken Python (say, it ends inside an ``if`` whose ``else``
    follows) is a ``MarkerError`` naming the region.
    """
    regions = find_regions(text, path, known_tags)
    if not regions:
        return text, regions
    keep = {t.upper() for t in keep}
    lines = text.split("\n")
    out = []
    cursor = 0
    stubbed = False
    for region in regions:
        out.extend(lines[cursor:region.begin - 1])
        if region.tag in keep:
            out.extend(region.lines)
        else:
            out.extend(_stub_lines(region))
            stubbed = True
        cursor = region.end
    out.extend(lines[cursor:])
    new_text = "\n".join(out)
    if stubbed and import_line:
        at = _import_position(new_text)
        new_lines = new_text.split("\n")
        new_text = "\n".join(new_lines[:at] + [import_line] + new_lines[at:])
    try:
        compile(new_text, path, "exec", dont_inherit=True)
    except SyntaxError as e:
        raise MarkerError(
            f"{path}:{e.lineno}: the student version does not compile after replacing the "
            f"solution regions ({e.msg}); check the indentation of the markers") from None
    return new_text, regions


def instrument_source(text: str, path: str, known_tags, statement: str) -> str:
    """The solution source with each BEGIN marker replaced by ``statement.format(tag=...,
    function=...)`` at the marker's indentation (line numbers unchanged): running a region
    runs its statement first, which is how the release learns what a notebook calls."""
    lines = text.split("\n")
    compiled = _compiled_spans(text)
    for region in find_regions(text, path, known_tags):
        if any(first <= region.begin <= last for first, last in compiled):
            continue   # Numba-compiled code cannot call back into Python
        what = region.qualname or region.function or "?"
        lines[region.begin - 1] = region.indent + statement.format(tag=region.tag, function=what)
    return "\n".join(lines)


def _compiled_spans(text):
    """Line spans of functions with a ``*jit*`` decorator (Numba)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    return [(node.lineno, node.end_lineno) for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and any("jit" in ast.unparse(d) for d in node.decorator_list)]


# ---------------------------------------------------------------- notebooks


def _source_text(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _set_source(cell, text: str) -> None:
    lines = text.split("\n")
    cell["source"] = [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


def is_solution_cell(cell) -> bool:
    """A cell tagged ``solution`` (or marked ``nbgrader.solution``)."""
    meta = cell.get("metadata", {})
    return "solution" in meta.get("tags", []) or bool(meta.get("nbgrader", {}).get("solution"))


def clean_notebook(nb) -> None:
    """Drop outputs, execution counts and execution timing metadata, in place."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cell.get("metadata", {}).pop("execution", None)


def notebook_regions(nb, path: str, known_tags=None, default_tag=None) -> list[Region]:
    """The solution regions of every code cell (``path:cell N:line M`` in errors)."""
    regions = []
    for number, cell in enumerate(nb.get("cells", []), start=1):
        if cell.get("cell_type") != "code":
            continue
        found = find_regions(_source_text(cell), f"{path}:cell {number}", known_tags, default_tag)
        if found and not is_solution_cell(cell):
            raise MarkerError(
                f"{path}:cell {number}: a solution region in a cell not tagged 'solution'")
        regions.extend(found)
    return regions


def strip_notebook(text: str, path: str, known_tags=None, default_tag=None, keep=()
                   ) -> tuple[str, list[Region]]:
    """The student version of a notebook: solution cells stubbed, no outputs.

    A solution cell with regions keeps everything outside them; one without regions is
    replaced whole by nbgrader's stub. Regions (and whole solution cells) of an assignment in
    ``keep`` are filled in instead (their marker lines go). Returns ``(json_text, regions)``,
    written as ``scripts/clean_notebooks.py`` writes notebooks (byte-for-byte deterministic).
    """
    nb = json.loads(text)
    keep = {t.upper() for t in keep}
    regions = []
    for number, cell in enumerate(nb.get("cells", []), start=1):
        if cell.get("cell_type") != "code":
            continue
        where = f"{path}:cell {number}"
        source = _source_text(cell)
        found = find_regions(source, where, known_tags, default_tag)
        if found and not is_solution_cell(cell):
            raise MarkerError(f"{where}: a solution region in a cell not tagged 'solution'")
        if not is_solution_cell(cell):
            continue
        if found:
            lines = source.split("\n")
            out, cursor = [], 0
            for region in found:
                out.extend(lines[cursor:region.begin - 1])
                if region.tag in keep:
                    out.extend(region.lines)
                else:
                    out.extend(region.indent + line for line in NOTEBOOK_STUB.split("\n"))
                cursor = region.end
            out.extend(lines[cursor:])
            _set_source(cell, "\n".join(out))
        else:
            found = [Region(where, 1, len(source.split("\n")), default_tag or "", "", None,
                            tuple(source.split("\n")))]
            if (default_tag or "") not in keep:
                _set_source(cell, NOTEBOOK_STUB)
        regions.extend(found)
    clean_notebook(nb)
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n", regions


def scan_file(path: Path, rel: str, known_tags=None, default_tag=None) -> list[Region]:
    """Regions of a ``.py`` file or a notebook (``[]`` for other files)."""
    if path.suffix == ".py":
        return find_regions(path.read_text(encoding="utf-8"), rel, known_tags, default_tag)
    if path.suffix == ".ipynb":
        return notebook_regions(json.loads(path.read_text(encoding="utf-8")), rel, known_tags,
                                default_tag)
    return []
