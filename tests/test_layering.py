"""The direction of imports inside the package (issue 12, ``ARCHITECTURE``): models are built
from ``nn`` alone, and training does not reach into the CRF.

Read from the sources with ``ast`` (no import runs): every ``from .. import x`` and
``from ..x import y`` of a module is resolved to the minisegnet subpackage it names.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "minisegnet"


def _imported_subpackages(path: Path) -> set[str]:
    """The minisegnet subpackages (``nn``, ``functional``, ...) a module imports, relatively or
    by absolute name, at any depth of the file (lazy imports inside functions count)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                parts = (node.module or "").split(".")
                if parts[0] == "minisegnet" and len(parts) > 1:
                    names.add(parts[1])
                elif parts[0] == "minisegnet":
                    names.update(alias.name for alias in node.names)
            elif node.level >= 2:            # from .. import x / from ..x import y
                if node.module:
                    names.add(node.module.split(".")[0])
                else:
                    names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "minisegnet" and len(parts) > 1:
                    names.add(parts[1])
    return names


def _modules(subpackage: str):
    return sorted((PACKAGE / subpackage).glob("*.py"))


@pytest.mark.parametrize("path", _modules("models"), ids=lambda p: p.name)
def test_models_are_built_from_nn_only(path):
    assert _imported_subpackages(path) <= {"nn"}, path.name


@pytest.mark.parametrize("path", _modules("train"), ids=lambda p: p.name)
def test_training_does_not_import_the_crf(path):
    assert "crf" not in _imported_subpackages(path), path.name


def test_the_import_reader_sees_what_it_should():
    """The reader itself: relative, absolute and lazy imports are all found."""
    source = PACKAGE / "train" / "evaluate.py"
    assert {"functional", "metrics"} <= _imported_subpackages(source)
    assert "models" in _imported_subpackages(PACKAGE / "train" / "checkpoint.py")  # lazy
