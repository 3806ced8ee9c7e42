"""Staged grading: a later assignment grades earlier assignments' code with the posted solution.

The grader bundle of assignment aK holds the package of the aK edition, where the graded
functions of a1 … a(K-1) are filled in with their posted solutions, and its manifest lists
those functions (``posted``: ``{file: [qualified name]}``). A submitted file (say ``conv.py``,
which holds functions of A1 and A2) keeps everything the student wrote except those
functions, which are taken from the bundle's package: so a mistake in A1 never costs points
in A2 again, and helpers the student added stay.
"""

from __future__ import annotations

import ast
from pathlib import Path

__all__ = ["use_posted"]


def _definitions(tree) -> dict:
    """``{qualified name: node}`` of every function (methods as ``Class.method``)."""
    found = {}

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    found.setdefault(name, child)
                visit(child, name + ".")

    visit(tree, "")
    return found


def _span(node) -> tuple:
    """First and last line (1-based) of a definition, its decorators included."""
    first = min([node.lineno] + [d.lineno for d in node.decorator_list])
    return first, node.end_lineno


def _reindent(lines, old: int, new: int) -> list:
    if old == new:
        return list(lines)
    out = []
    for line in lines:
        if line.strip() and line[:old].strip() == "":
            out.append(" " * new + line[old:])
        else:
            out.append(line)
    return out


def _replace(text: str, posted_text: str, names) -> tuple:
    """``text`` with the definitions ``names`` taken from ``posted_text``; returns
    ``(new_text, replaced names)``."""
    try:
        mine = _definitions(ast.parse(text))
        theirs = _definitions(ast.parse(posted_text))
    except (SyntaxError, ValueError):
        return text, []
    lines, posted_lines = text.split("\n"), posted_text.split("\n")
    edits = []
    for name in names:
        if name not in theirs:
            continue
        first, last = _span(theirs[name])
        replacement = posted_lines[first - 1:last]
        if name in mine:
            start, end = _span(mine[name])
            replacement = _reindent(replacement, theirs[name].col_offset, mine[name].col_offset)
            edits.append((start, end, replacement, name))
        elif "." not in name:   # a top-level function the student deleted: add it back
            edits.append((len(lines) + 1, len(lines), [""] + replacement, name))
    replaced = []
    for start, end, replacement, name in sorted(edits, key=lambda e: e[0], reverse=True):
        if lines[start - 1:end] != replacement:
            replaced.append(name)
        lines[start - 1:end] = replacement
    new_text = "\n".join(lines)
    try:
        compile(new_text, "<posted>", "exec", dont_inherit=True)
    except SyntaxError:
        return text, []
    return new_text, sorted(replaced)


def use_posted(overlay: dict, package: Path, posted: dict) -> tuple:
    """``(overlay, notes)``: each submitted file with its posted functions replaced by the
    ones in ``package`` (the bundle's ``minisegnet`` folder of the assignment's stage)."""
    if not posted:
        return overlay, []
    root = Path(package).parent
    result, notes = dict(overlay), []
    for rel, content in overlay.items():
        names = posted.get(rel)
        if not names or not (root / rel).is_file():
            continue
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            continue
        new_text, replaced = _replace(text, (root / rel).read_text(encoding="utf-8"), names)
        result[rel] = new_text.encode("utf-8")
        if replaced:
            notes.append(f"{Path(rel).name}: {', '.join(replaced)} graded with the posted solution "
                         f"(an earlier assignment's code)")
    return result, notes
