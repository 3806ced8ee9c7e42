"""The ``release``, ``check`` and ``grade`` subcommands (``minisegnet.cli`` calls these)."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

__all__ = ["find_project", "run_release", "run_check", "run_grade"]


def find_project(start=None) -> Path:
    """The project root: the nearest folder above ``start`` (default: the working directory)
    with ``assignments/course.json`` and ``minisegnet/``, else the one this package is in."""
    here = Path(start or Path.cwd()).resolve()
    for folder in [here, *here.parents]:
        if (folder / "assignments" / "course.json").is_file() and (folder / "minisegnet").is_dir():
            return folder
    package_root = Path(__file__).resolve().parents[2]
    if (package_root / "assignments" / "course.json").is_file():
        return package_root
    raise SystemExit("minisegnet: no project found (a folder with assignments/course.json and "
                     "minisegnet/); run this inside the project or pass --root/--source")


def _limits(args):
    limits = {}
    if getattr(args, "time_limit", None):
        limits["time_s"] = float(args.time_limit)
    if getattr(args, "memory_limit", None):
        limits["memory_mb"] = int(args.memory_limit)
    return limits


def run_release(args) -> int:
    from .release import ReleaseError, release

    source = Path(args.source).resolve() if args.source else find_project()
    try:
        summary = release(source, args.out, force=args.force)
    except ReleaseError as e:
        print(f"minisegnet release: error: {e}", file=sys.stderr)
        return 2
    for name, info in summary["assignments"].items():
        print(f"  {name}: {info['tests']} tests, {info['public']} public + {info['hidden']} "
              f"hidden points")
    return 0


def run_check(args) -> int:
    from .config import ConfigError
    from .grading import check_project, points_table

    root = Path(args.root).resolve() if args.root else find_project()
    try:
        results, log = check_project(root, args.assignment, limits=_limits(args))
    except ConfigError as e:
        print(f"minisegnet check: error: {e}", file=sys.stderr)
        return 2
    print(f"minisegnet check {args.assignment}: public tests of {root}, run in the isolated "
          f"worker ({log['sandbox']})\n")
    print(points_table(results))
    notes = results["output"].splitlines()[1:]
    if notes:
        print("\n" + "\n".join(notes))
    failed = [t for t in results["tests"] if t["status"] != "passed"]
    if failed and not args.quiet:
        print("\nFirst failure:\n")
        print(f"{failed[0]['number']} {failed[0]['name']}\n{failed[0]['output'][:3000]}")
    return 0 if not failed else 1


def run_grade(args) -> int:
    from .grading import Bundle, GradingRefused, grade_batch
    from .release import ReleaseError, release

    submissions = Path(args.submissions)
    if not submissions.is_dir():
        print(f"minisegnet grade: error: {submissions} is not a folder", file=sys.stderr)
        return 2
    tmp = None
    try:
        if args.bundle:
            folder = Path(args.bundle)
            if (folder / "grader" / args.assignment).is_dir():   # a whole release folder
                folder = folder / "grader" / args.assignment
        else:
            tmp = Path(tempfile.mkdtemp(prefix="msn-bundle-"))
            source = Path(args.source).resolve() if args.source else find_project()
            print(f"minisegnet grade: building the grader bundle from {source}", file=sys.stderr)
            try:
                release(source, tmp / "release", log=lambda *a: None)
            except ReleaseError as e:
                print(f"minisegnet grade: error: {e}", file=sys.stderr)
                return 2
            folder = tmp / "release" / "grader" / args.assignment
        if not (folder / "manifest.json").is_file():
            print(f"minisegnet grade: error: no grader bundle for {args.assignment} at {folder}",
                  file=sys.stderr)
            return 2
        bundle = Bundle.load(folder)
        try:
            summary = grade_batch(bundle, submissions, args.out, jobs=args.jobs,
                                  hidden=args.hidden, limits=_limits(args),
                                  progress=not args.no_progress)
        except GradingRefused as e:
            print(f"minisegnet grade: error: {e}", file=sys.stderr)
            return 2
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    print((Path(args.out) / "summary.md").read_text(encoding="utf-8"))
    print(f"results: {Path(args.out) / '<student>' / 'results.json'}, "
          f"{Path(args.out) / 'grades.csv'}, {Path(args.out) / 'summary.json'}")
    return 0 if summary["submissions"] else 1
