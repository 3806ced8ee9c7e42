"""The mutation tables: every classic mistake of an assignment is caught where its table says.

Each assignment keeps its table in ``assignments/aN/tests/hidden/mutations.py`` (left out of
the student edition, like the hidden tests). A mutant is the reference solution with one
change; all mutants of an assignment are graded in one ``minisegnet grade aN --hidden -j 2``
run, as an instructor would grade a folder of submissions, and each must lose public points
exactly when ``public`` says and hidden points exactly when ``hidden`` says. The rendered
table, ``MUTATIONS.md`` beside the data, must match it:

    python tests/course/test_mutations.py --write      # refresh every MUTATIONS.md
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from minisegnet.course.grading import split_scores

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENTS = sorted(p.parent.parent.parent.name
                     for p in ROOT.glob("assignments/a*/tests/hidden/mutations.py"))
pytestmark = pytest.mark.slow


def load_table(assignment: str) -> list[dict]:
    path = ROOT / "assignments" / assignment / "tests" / "hidden" / "mutations.py"
    spec = importlib.util.spec_from_file_location(f"_mutations_{assignment}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.MUTATIONS


def _yes(flag: bool) -> str:
    return "caught" if flag else "—"


def render(assignment: str, table: list[dict]) -> str:
    """The markdown table of one assignment's mutants."""
    lines = [f"# {assignment.upper()}: mutation table",
             "",
             "Each row is the reference solution with one classic mistake, graded with",
             "`minisegnet grade --hidden`; a column says whether the public or the hidden tests take",
             "points from it. Kept true by `tests/course/test_mutations.py` (the data is",
             "`mutations.py` beside this file).",
             "",
             "| # | mistake | file | public tests | hidden tests |",
             "|---|---|---|---|---|"]
    for number, entry in enumerate(table, 1):
        lines.append(f"| {number} | {entry['mistake']} | `{Path(entry['file']).name}` | "
                     f"{_yes(entry['public'])} | {_yes(entry['hidden'])} |")
    return "\n".join(lines) + "\n"


def _table_file(assignment: str) -> Path:
    return ROOT / "assignments" / assignment / "tests" / "hidden" / "MUTATIONS.md"


def _inside_solution(source: str, old: str, tag: str) -> bool:
    start = source.index(old)
    before = source[:start]
    return before.rfind(f"### BEGIN SOLUTION {tag}") > before.rfind(f"### END SOLUTION {tag}")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_mutation_is_one_change_inside_a_solution_region(assignment):
    table = load_table(assignment)
    assert len(table) >= 5, f"{assignment}: a table of {len(table)} mutants is too thin"
    config = json.loads((ROOT / "assignments" / assignment / "assignment.json").read_text())
    graded = set(config["files"])
    for entry in table:
        assert entry["public"] or entry["hidden"], f"no test catches: {entry['mistake']}"
        assert entry["file"] in graded, (entry["mistake"], entry["file"])
        source = (ROOT / entry["file"]).read_text(encoding="utf-8")
        assert source.count(entry["old"]) == 1, f"{entry['mistake']}: 'old' must occur once"
        assert _inside_solution(source, entry["old"], assignment.upper()), entry["mistake"]
        assert entry["new"] != entry["old"]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_rendered_table_is_current(assignment):
    assert _table_file(assignment).read_text(encoding="utf-8") == render(
        assignment, load_table(assignment)), "run: python tests/course/test_mutations.py --write"


def _write_mutants(folder: Path, assignment: str, table: list[dict]) -> dict:
    """One submission folder per mutant (every graded file, one of them changed)."""
    config = json.loads((ROOT / "assignments" / assignment / "assignment.json").read_text())
    solution = {rel: (ROOT / rel).read_text(encoding="utf-8") for rel in config["files"]}
    names = {}
    for number, entry in enumerate(table, 1):
        name = f"mutant{number:02d}"
        for rel, text in solution.items():
            if rel == entry["file"]:
                text = text.replace(entry["old"], entry["new"])
            target = folder / name / Path(rel).name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        names[name] = entry
    return names


def _lost(results: dict) -> tuple[bool, bool]:
    """Whether the public and the hidden tests took points."""
    public, public_max, hidden, hidden_max = split_scores(results)
    return public < public_max, hidden < hidden_max


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_mutant_is_caught_where_its_table_says(assignment, release_dir, tmp_path):
    from .conftest import run

    table = load_table(assignment)
    mutants = _write_mutants(tmp_path / "submissions", assignment, table)
    out = tmp_path / "out"
    done = run([sys.executable, "-m", "minisegnet", "grade", assignment, tmp_path / "submissions",
                "-o", out, "-j", "2", "--hidden", "--bundle", release_dir, "--no-progress"],
               cwd=ROOT, timeout=1500)
    assert done.returncode == 0, done.stdout[-4000:]
    wrong = []
    for name, entry in mutants.items():
        results = json.loads((out / name / "results.json").read_text())
        public, hidden = _lost(results)
        if (public, hidden) != (entry["public"], entry["hidden"]):
            wrong.append(f"{name} ({entry['mistake']}): public {_yes(public)}, hidden "
                         f"{_yes(hidden)}; the table says public {_yes(entry['public'])}, "
                         f"hidden {_yes(entry['hidden'])}")
    assert not wrong, "\n".join(wrong)


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(__doc__)
    for name in ASSIGNMENTS:
        _table_file(name).write_text(render(name, load_table(name)), encoding="utf-8")
        print(_table_file(name).relative_to(ROOT))
