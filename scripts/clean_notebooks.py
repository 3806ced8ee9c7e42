"""Strip outputs and execution counts from the notebooks (they are stored clean).

Usage: ``python scripts/clean_notebooks.py [notebooks/*.ipynb]``; the test suite fails on
a notebook stored with outputs, so run this before committing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def clean(path: Path) -> bool:
    """Remove outputs in place; return whether the file changed."""
    text = path.read_text(encoding="utf-8")
    nb = json.loads(text)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cell.get("metadata", {}).pop("execution", None)
    cleaned = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    if cleaned != text:
        path.write_text(cleaned, encoding="utf-8")
        return True
    return False


def main(argv):
    paths = [Path(p) for p in argv] or sorted(Path(__file__).resolve().parents[1].glob("notebooks/*.ipynb"))
    for path in paths:
        if clean(path):
            print(f"cleaned {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
