"""The ``release``, ``check`` and ``grade`` subcommands (``minisegnet.cli`` calls these).

``check`` is what students run most, so it must never leave them stuck: a missing
dependency is named with the command that installs it, a file that does not compile marks
the tests it breaks with the file, the line and the compiler's words, and the exit status
says what happened (0: every public test passes, 1: some fail, 2: the tests could not run).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

__all__ = ["find_project", "run_release", "run_check", "run_grade", "compile_errors",
           "failure_order", "function_order", "SETUP_HINT"]

SETUP_HINT = 'python -m pip install -e ".[course]"'
_STUB = re.compile(r"implement (?P<function>[\w.]+)")
_STUB_MESSAGE = re.compile(r"(?P<tag>[A-Z]\w*): implement (?P<function>[\w.]+) in (?P<file>\S+)")


class ProjectNotFound(Exception):
    """No folder with ``assignments/course.json`` and ``minisegnet/`` around."""


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
    raise ProjectNotFound("no project found here (a folder with assignments/course.json and "
                          "minisegnet/): cd into your copy of the course, or pass --root DIR")


def _limits(args):
    limits = {}
    if getattr(args, "time_limit", None):
        limits["time_s"] = float(args.time_limit)
    if getattr(args, "memory_limit", None):
        limits["memory_mb"] = int(args.memory_limit)
    return limits


def run_release(args) -> int:
    from .release import ReleaseError, release

    try:
        source = Path(args.source).resolve() if args.source else find_project()
    except ProjectNotFound as e:
        print(f"minisegnet release: error: {e}", file=sys.stderr)
        return 2
    try:
        summary = release(source, args.out, stage=args.stage, force=args.force,
                          render=not args.no_render, cache=not args.no_cache)
    except ReleaseError as e:
        print(f"minisegnet release: error: {e}", file=sys.stderr)
        return 2
    for name, info in summary["assignments"].items():
        print(f"  {name}: {info['tests']} tests, {info['public']} public + {info['hidden']} "
              f"hidden points; upload grader/{name}.zip")
    if summary["needs"]:
        print("\n  what each lecture notebook needs (the 'needs' column of lessons/README.md):")
        for rel, needs in summary["needs"].items():
            print(f"    {Path(rel).stem[:2]}  {', '.join(needs) or '-'}")
    return 0


# ---------------------------------------------------------------- check


def compile_errors(package: Path) -> dict:
    """``{relative path: "conv.py does not compile (line 178: '(' was never closed)"}`` for
    every Python file of ``package`` (a ``minisegnet`` folder) that does not compile."""
    found = {}
    for path in sorted(Path(package).rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        rel = path.relative_to(Path(package).parent).as_posix()
        try:
            text = path.read_bytes().decode("utf-8-sig")
            compile(text, str(path), "exec", dont_inherit=True)
        except UnicodeDecodeError as e:
            found[rel] = f"{path.name} is not UTF-8 text (byte {e.start})"
        except (SyntaxError, ValueError) as e:
            line = getattr(e, "lineno", None)
            where = f"line {line}: " if line else ""
            found[rel] = f"{path.name} does not compile ({where}{getattr(e, 'msg', e)})"
    return found


def _functions_of(root: Path, files) -> dict:
    """``{function name: (names it uses, file index, line)}`` for the functions and methods
    defined in ``files`` (the first definition of a name wins)."""
    defined = {}
    for index, rel in enumerate(files):
        try:
            tree = ast.parse((Path(root) / rel).read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name not in defined:
                used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
                used |= {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
                defined[node.name] = (used - {node.name}, index, node.lineno)
    return defined


def function_order(root: Path, files) -> dict:
    """``{function: [level, file index, line]}``: the level is the function's height in the
    call graph of ``files`` (0: calls none of their functions; ``im2col`` sits below
    ``conv2d_forward``, which calls it), then the place of its definition."""
    defined = _functions_of(root, files)
    levels = {}

    def level(name, seen):
        if name in levels:
            return levels[name]
        if name in seen:
            return 0
        callees = [c for c in defined[name][0] if c in defined]
        value = 1 + max((level(c, seen | {name}) for c in callees), default=-1)
        levels[name] = value
        return value

    return {name: [level(name, frozenset()), index, line]
            for name, (_, index, line) in defined.items()}


def _probes_of_tests(tests_dir: Path) -> dict:
    """``{(file, test function): {probe names}}`` from the tests' ``check("probe", ...)`` and
    ``student.run("probe", ...)`` calls."""
    found = {}
    for path in sorted(tests_dir.rglob("test_*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            continue
        rel = path.relative_to(tests_dir).as_posix()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                probes = set()
                for call in ast.walk(node):
                    if not (isinstance(call, ast.Call) and call.args):
                        continue
                    first = call.args[0]
                    named = (isinstance(call.func, ast.Name) and call.func.id == "check") or \
                            (isinstance(call.func, ast.Attribute) and call.func.attr == "run")
                    if named and isinstance(first, ast.Constant) and isinstance(first.value, str):
                        probes.add(first.value)
                found[(rel, node.name)] = probes
    return found


def _order_of(root: Path, assignment) -> dict:
    """The function order recorded with the public tests at release (from the solution,
    whose call graph the stubs no longer show), else the one of the files here."""
    recording = assignment.folder / "tests" / "public" / "expected.json"
    try:
        recorded = json.loads(recording.read_text(encoding="utf-8")).get("order")
    except (OSError, ValueError):
        recorded = None
    return recorded or function_order(root, assignment.files)


def failure_order(root: Path, assignment, tests, results) -> list:
    """The failed result rows, lowest-level failing function first.

    A stub's message names its function; otherwise a test is placed by the functions its
    probes call (the highest of them: the one the test is about).
    """
    order = _order_of(root, assignment)
    probes_of = _probes_of_tests(assignment.folder / "tests")
    probe_names = _functions_of(assignment.folder / "tests", ["probes.py"])
    ids = {t["number"]: t["id"] for t in tests}
    rows = []
    for row in results["tests"]:
        if row["status"] == "passed":
            continue
        key = None
        stub = _STUB.search(row.get("output", "").split("\n", 1)[0])
        if stub:
            key = order.get(stub.group("function").rsplit(".", 1)[-1])
        if key is None:
            test_id = ids.get(row["number"], "")
            path, _, name = test_id.partition("::")
            called = set()
            for probe in probes_of.get((path, name.split("[", 1)[0]), ()):
                called |= {f for f in probe_names.get(probe, ((),))[0] if f in order}
            key = max((order[f] for f in called), default=[99, 0, 0])
        number = [int(p) for p in row["number"].split(".") if p.isdigit()]
        rows.append((list(key) + number, row))
    return [row for _, row in sorted(rows, key=lambda r: r[0])]


def _one_line(row, width=160) -> str:
    first = (row.get("output") or "failed").strip().split("\n", 1)[0]
    stub = _STUB_MESSAGE.search(first)
    if stub:
        first = f"{stub.group('function')} is not written yet ({stub.group('file')}, {stub.group('tag')})"
    text = f"{row['number']} {row['name']}: {first}"
    return text if len(text) <= width else text[:width - 1] + "…"


def _missing_dependencies() -> list:
    return [name for name in ("pytest",) if importlib.util.find_spec(name) is None]


def run_check(args) -> int:
    from .config import ConfigError, load_course

    missing = _missing_dependencies()
    if missing:
        print(f"minisegnet check: {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} "
              f"not installed in this Python ({sys.executable}), and the tests need "
              f"{'it' if len(missing) == 1 else 'them'}. In your copy of the course, run\n\n"
              f"    {SETUP_HINT}\n\nthen minisegnet check {args.assignment} again.",
              file=sys.stderr)
        return 2
    from .grading import Bundle, grade_submission, points_table

    try:
        root = Path(args.root).resolve() if args.root else find_project()
        course = load_course(root)
        assignment = course.assignment(args.assignment)
    except (ProjectNotFound, ConfigError) as e:
        print(f"minisegnet check: error: {e}", file=sys.stderr)
        return 2
    broken = compile_errors(root / "minisegnet")
    bundle = Bundle.from_project(root, assignment.id)
    results, log = grade_submission(bundle, None, hidden=False, limits=_limits(args), overlay={},
                                    notes=[])
    tests = bundle.manifest.get("tests") or []
    print(f"minisegnet check {assignment.id}: the public tests of {assignment.tag} "
          f"({assignment.title}) on the files in {root}\n")
    if not results["tests"]:
        console = (log.get("console") or "").strip()
        print("The tests could not run, so no points can be shown."
              + (f" The test session said:\n\n{console[-3000:]}" if console else ""),
              file=sys.stderr)
        if broken:
            print("\n" + "\n".join(broken.values()), file=sys.stderr)
        return 2
    if broken:
        cause = "; ".join(broken.values())
        for row in results["tests"]:
            if row["status"] != "passed" and row["tags"][-1] in ("import", "error", "not implemented"):
                row["tags"][-1] = cause
                row["output"] = f"{cause}: fix it first, every test imports the package"
    print(points_table(results))
    notes = results["output"].splitlines()[1:]
    if notes:
        print("\n" + "\n".join(notes))
    failed = failure_order(root, assignment, tests, results)
    passed = len(results["tests"]) - len(failed)
    print(f"\n{passed} of {len(results['tests'])} public tests pass.")
    if failed and args.all:
        print("Every failure, the lowest-level function first:\n")
        print("\n".join(_one_line(row) for row in failed))
    elif failed and not args.quiet:
        first = failed[0]
        print("Start with the lowest-level function that fails:\n")
        if broken or "not implemented" in first["tags"] or first["tags"][-1] in broken.values():
            print(_one_line(first, 400))
        else:
            print(f"{first['number']} {first['name']}\n{first['output'][:3000]}")
        print(f"\n`minisegnet check {assignment.id} --all` lists every failure; "
              f"`pytest assignments/{assignment.id} -x` shows a traceback.")
    sandbox = log.get("sandbox")
    if sandbox:
        print(f"\n({sandbox})")
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
            try:
                source = Path(args.source).resolve() if args.source else find_project()
            except ProjectNotFound as e:
                print(f"minisegnet grade: error: {e}", file=sys.stderr)
                return 2
            print(f"minisegnet grade: building the grader bundle from {source}", file=sys.stderr)
            try:
                release(source, tmp / "release", render=False, log=lambda *a: None)
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
