"""Gradescope's entry point: ``run_autograder`` calls ``main``.

Grades ``/autograder/submission`` with the bundle in ``/autograder/source`` on the public
and hidden tests and writes ``/autograder/results/results.json`` in Gradescope's format
(see ``grading.build_results``: top-level ``score``, ``execution_time``, ``output``,
``stdout_visibility``; ``tests`` with ``name``, ``number``, ``score``, ``max_score``,
``status``, ``output``, ``visibility``: ``visible`` for public tests, ``after_due_date``
with a generic message for hidden ones). The file is written last, atomically, by this
trusted process, so whatever the submission wrote before is replaced. The console output
(instructor-only: ``stdout_visibility`` is ``hidden``) shows the sandbox in force and the
points table. The grader refuses to grade (every test 0, the reason in the output) when
the image holds an importable ``minisegnet`` with solution bodies that the worker could read.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .grading import (
    Bundle,
    build_results,
    ensure_no_readable_solution,
    grade_submission,
    points_table,
    write_json,
)

__all__ = ["main"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="run_autograder")
    parser.add_argument("--bundle", default="/autograder/source")
    parser.add_argument("--submission", default="/autograder/submission")
    parser.add_argument("--results", default="/autograder/results/results.json")
    parser.add_argument("--public-only", action="store_true")
    args = parser.parse_args(argv)
    bundle = Bundle.load(args.bundle)
    try:
        ensure_no_readable_solution()
        results, log = grade_submission(bundle, Path(args.submission), hidden=not args.public_only)
    except Exception as e:  # still write a results.json with every test at 0 (and say why)
        results = build_results(bundle, None, not args.public_only, [f"grader error: {e!r}"], 0.0)
        log = {"error": repr(e)}
    write_json(Path(args.results), results)
    print(log.get("sandbox", ""))
    print(points_table(results))
    console = log.get("console")
    if console:
        print("\n--- trusted pytest session ---\n" + console[-6000:])
    print(json.dumps({"score": results["score"], "max_score": results["extra_data"]["max_score"]}))
    return 0
