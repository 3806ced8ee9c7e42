"""Every unit of the course has its lesson and its notebook, and they hold together.

Checks: each of the twelve units has ``lessons/NN-slug.md`` and ``notebooks/NN-slug.ipynb``;
each notebook opens with a title and learning goals, has at least one "Check yourself" cell
whose code asserts, ends with a summary and is stored without outputs; every relative link in the project's
Markdown (and in notebook Markdown cells) resolves. That every notebook runs from top to
bottom in a fresh kernel within two minutes and draws a figure is checked on the release's
own execution of them (``tests/course/test_edition_release.py``), not by running them twice.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

UNITS = {
    "01": "task-and-measures",
    "02": "fully-convolutional",
    "03": "conv-as-matrix",
    "04": "transposed-conv",
    "05": "unpooling-and-interpolation",
    "06": "dilated-conv",
    "07": "pspnet",
    "08": "encoder-decoder",
    "09": "dense-crf",
    "10": "panoptic",
    "11": "generalising",
    "12": "deformable-conv",
}

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _notebook(unit):
    return ROOT / "notebooks" / f"{unit}-{UNITS[unit]}.ipynb"


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _cells(nb, kind):
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == kind]


@pytest.mark.parametrize("unit", sorted(UNITS))
def test_every_unit_has_a_lesson_and_a_notebook(unit):
    lesson = ROOT / "lessons" / f"{unit}-{UNITS[unit]}.md"
    assert lesson.is_file(), f"missing lesson {lesson.relative_to(ROOT)}"
    assert _notebook(unit).is_file(), f"missing notebook {_notebook(unit).relative_to(ROOT)}"
    assert f"../notebooks/{_notebook(unit).name}" in lesson.read_text(encoding="utf-8"), (
        f"{lesson.name} must link to its notebook")


@pytest.mark.parametrize("unit", sorted(UNITS))
def test_notebook_structure(unit):
    nb = _load(_notebook(unit))
    markdown, code = _cells(nb, "markdown"), _cells(nb, "code")
    assert markdown and nb["cells"][0]["cell_type"] == "markdown", "must open with Markdown"
    opening = markdown[0]
    assert opening.lstrip().startswith("# "), "the first cell must start with a '# ' title"
    assert "learning goals" in opening.lower(), "the first cell must list the learning goals"
    checks = [i for i, c in enumerate(nb["cells"])
              if c["cell_type"] == "markdown" and "check yourself" in "".join(c["source"]).lower()]
    assert checks, "needs at least one 'Check yourself' cell"
    assert any("assert" in src for src in code), "check cells must assert against the package"
    assert any("summary" in m.lower() for m in markdown[-3:]), "must end with a summary"


@pytest.mark.parametrize("unit", sorted(UNITS))
def test_notebook_is_stored_without_outputs(unit):
    for cell in _load(_notebook(unit))["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, (
                f"{_notebook(unit).name} has stored outputs: run scripts/clean_notebooks.py")


@pytest.mark.parametrize("path", sorted([*ROOT.glob("notebooks/*.ipynb"),
                                          *ROOT.glob("assignments/*/*.ipynb")]),
                         ids=lambda p: p.name)
def test_every_cell_has_a_unique_id(path):
    # nbformat 4.5 requires cell ids (a missing one is a warning now, an error in future
    # versions), and the release and the graders name cells by them
    ids = [cell.get("id") for cell in _load(path)["cells"]]
    assert None not in ids, f"{path.name}: a cell without an id"
    assert len(set(ids)) == len(ids), f"{path.name}: repeated cell ids"


def _markdown_sources():
    for path in sorted(ROOT.glob("**/*.md")):
        if not {".git", "node_modules"} & set(path.parts):
            yield path, path.read_text(encoding="utf-8")
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        yield path, "\n".join(_cells(_load(path), "markdown"))


def test_every_relative_link_resolves():
    broken = []
    for path, text in _markdown_sources():
        for target in LINK.findall(text):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue  # a web address or an anchor in the same page
            resolved = (path.parent / target.split("#")[0]).resolve()
            if not resolved.exists():
                broken.append(f"{path.relative_to(ROOT)} -> {target}")
    assert not broken, "broken links:\n" + "\n".join(broken)
