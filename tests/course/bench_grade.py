"""Time ``minisegnet grade a1 SUBS -o OUT -j 2 --hidden`` on 20 realistic submissions.

    python tests/course/bench_grade.py [--root PROJECT] [--jobs 2] [--unit u03]

Builds a release of PROJECT (default: this checkout) once, writes 20 A1 submissions (8
correct, 4 partly done, 4 with the classic ``=`` for ``+=`` bug in col2im, 2 stubs, 2 whose
conv.py does not compile), then times the command exactly as the issue states it (which
builds its own bundle first) and, separately, the grading alone (``--bundle``). Not a
test: run it by hand, on an idle machine, twice.

``--unit u03``: 20 notebooks of lecture unit 03 instead (issue 14: 8 correct, 2 stubs, 2
each of the flipped kernel, the transposed im2col index, the off-by-one sizes and the wrong
choice, 1 with a syntax error, 1 with an endless cell), from ``_notebooks.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONV_MATRIX = "minisegnet/functional/conv_matrix.py"
CONV = "minisegnet/functional/conv.py"
BUG = ("padded[:, :, rows, window(j * dw, wo, sw)] += cols[:, i, j]",
       "padded[:, :, rows, window(j * dw, wo, sw)] = cols[:, i, j]")


def submissions(root: Path, edition: Path) -> dict:
    sol = {rel: (root / rel).read_text(encoding="utf-8") for rel in (CONV_MATRIX, CONV)}
    stub = {rel: (edition / rel).read_text(encoding="utf-8") for rel in (CONV_MATRIX, CONV)}
    buggy = sol[CONV_MATRIX].replace(*BUG) if BUG[0] in sol[CONV_MATRIX] else stub[CONV_MATRIX]
    kinds = {
        "correct": sol,
        "partial": {CONV_MATRIX: sol[CONV_MATRIX], CONV: stub[CONV]},
        "buggy": {CONV_MATRIX: buggy, CONV: sol[CONV]},
        "stub": stub,
        "syntax": {CONV_MATRIX: sol[CONV_MATRIX], CONV: sol[CONV].replace("def ", "def (", 1)},
    }
    counts = {"correct": 8, "partial": 4, "buggy": 4, "stub": 2, "syntax": 2}
    return {f"{kind}_{k:02d}": kinds[kind] for kind, n in counts.items() for k in range(n)}


UNIT_MIX = {"solution": 8, "stub": 2, "flipped_kernel": 2, "transposed_index": 2,
            "off_by_one": 2, "wrong_choice": 2, "syntax_error": 1, "infinite_loop": 1}


def unit_submissions(root: Path, edition: Path) -> dict:
    """``{name: notebook text}``: twenty unit 03 notebooks (``UNIT_MIX``)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _notebooks

    name = _notebooks.NAME
    built = _notebooks.build((root / "notebooks" / name).read_text(encoding="utf-8"),
                             (edition / "notebooks" / name).read_text(encoding="utf-8"),
                             "{}", only=sorted(UNIT_MIX))
    return {f"{kind}_{k:02d}": {f"{kind}_{k:02d}.ipynb": built[kind][1]}
            for kind, n in UNIT_MIX.items() for k in range(n)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default=str(Path(__file__).resolve().parents[2]))
    parser.add_argument("--jobs", default="2")
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--unit", default=None, help="a lecture unit (u03): grade notebooks")
    args = parser.parse_args(argv)
    root = Path(args.root).resolve()
    base = Path(tempfile.mkdtemp(prefix="msn-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHON"))}
    started = time.monotonic()
    done = subprocess.run([args.python, "-m", "minisegnet", "release", "--out", str(base / "rel")],
                          cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    release_s = time.monotonic() - started
    if done.returncode:
        print(done.stdout[-3000:])
        return 1
    assignment = args.unit or "a1"
    subs = (unit_submissions if args.unit else submissions)(root, base / "rel" / "student")
    for name, files in subs.items():
        for rel, text in files.items():
            target = base / "subs" / name / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    times = {"release_s": round(release_s, 1)}
    for label, extra in (("grade_with_bundle_build_s", []),
                         ("grade_only_s", ["--bundle", str(base / "rel")])):
        out = base / f"out-{label}"
        started = time.monotonic()
        done = subprocess.run([args.python, "-m", "minisegnet", "grade", assignment, str(base / "subs"),
                               "-o", str(out), "-j", args.jobs, "--hidden", "--no-progress", *extra],
                              cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
        times[label] = round(time.monotonic() - started, 1)
        if done.returncode:
            print(done.stdout[-3000:])
            return 1
        summary = json.loads((out / "summary.json").read_text())
        times[label.replace("_s", "_scores")] = {
            n: json.loads((out / n / "results.json").read_text())["score"] for n in sorted(subs)
            if n.endswith("_00")}
        times["mean"] = summary["mean"]
    times["load"] = os.getloadavg()
    print(json.dumps(times, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
