"""Grading: one submission, a batch of them, or a student's own project (``check``).

For every submission the trusted parent (this module)

1. takes only the files the assignment marks as gradable from the submission (a folder,
   a zip, a folder of Gradescope's export: ``collect.py``), by path or by unique file name,
   each a plain UTF-8 file below 1 MiB (a BOM is fine) that compiles; anything else
   (``conftest.py``, ``pytest.ini``, ``sitecustomize.py``, ``pytest_*.py``, a fake
   ``results.json``) is ignored and listed in the output, and a graded file that does not
   compile keeps its stub, which every test that needs it names as the cause;
2. builds a private temporary folder with the student edition's package, those files in
   place and the probes (``sandbox.prepare_worker_folder``), a copy of this course package
   for the trusted pytest process, and the submission's box (``box.Box``: a uid of its
   own, cgroups, namespaces);
3. runs pytest on the *trusted* tests (from the grader bundle, never from the submission)
   in a fresh ``python -I`` process with ``--noconftest``, plugin auto-loading disabled and
   only this package's plugin, which starts the confined worker in that box;
4. kills whatever of the submission still runs, and maps the plugin's report onto the
   manifest: every manifest test appears exactly once, with its points if it passed and 0
   otherwise, including tests that errored, crashed, timed out or never ran; the score is
   the sum and the maximum is the manifest total.

Batch grading refuses to start where an installed ``minisegnet`` with solution bodies
would be readable by the worker, runs submissions in parallel (``jobs``), each in its own
pytest process and box, and writes ``OUT/<name>/results.json`` (Gradescope's format) and
``log.json`` (the sandbox in force, every failure's message), ``grades.csv`` (cells that
cannot be formulas) and a summary that lists every skipped entry of the folder.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from . import unit_grading
from .collect import collect_submission as collect
from .collect import escape_text, find_submissions
from .errors import GraderError
from .sandbox import (
    DEFAULT_LIMITS,
    Box,
    kill_leftovers,
    prepare_worker_folder,
    sandbox_summary,
    solution_exposure,
)
from .staging import use_posted

__all__ = ["Bundle", "grade_submission", "grade_batch", "check_project", "run_session",
           "collect_submission", "to_gradescope", "GradingRefused", "ensure_no_readable_solution"]

COURSE_PACKAGE = "_msn_course"
_BOOT = (
    "import sys, json\n"
    "sys.dont_write_bytecode = True\n"
    "a = json.loads(sys.argv[1])\n"
    "sys.path[:0] = a['path']\n"
    "import pytest\n"
    "sys.exit(pytest.main(a['args']))\n"
)
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")


def _normalise(text: str) -> str:
    """Student-originated text without memory addresses (results must be reproducible)."""
    return _ADDRESS.sub("0x…", text or "")


def _trusted_env(home: Path) -> dict:
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(home),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NUMBA_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(home),
        "MINISEGNET_IMPL": "reference",  # expected values from the tier students write
    }
    return env


def run_session(tmp: Path, assignment_dir: Path, test_paths, *, worker_dir=None, replay=None,
                record=None, live_path=None, limits=None, timeout=600.0, collect_file=None,
                landlock=True, course_src=None, notebook_cells=None) -> tuple[dict | None, str]:
    """Run the trusted pytest process; returns ``(report or None, its console output)``."""
    tmp = Path(tmp)
    course_copy = tmp / "trusted"
    if not (course_copy / COURSE_PACKAGE).exists():
        shutil.copytree(course_src or Path(__file__).parent, course_copy / COURSE_PACKAGE,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    ini = tmp / "pytest.ini"
    ini.write_text("[pytest]\n", encoding="utf-8")
    report = tmp / "report.json"
    args = [str(p) for p in test_paths] + [
        "-p", f"{COURSE_PACKAGE}.plugin", "--noconftest", "-p", "no:cacheprovider",
        "-c", str(ini), "--rootdir", str(Path(assignment_dir) / "tests"), "-q", "--assert=plain",
        "--tb=short", "-o", "console_output_style=classic",
        "--course-assignment", str(assignment_dir), "--course-report", str(report),
        "--course-limits", json.dumps(dict(DEFAULT_LIMITS, **(limits or {}))),
    ]
    if worker_dir is not None:
        args += ["--course-worker", str(worker_dir)]
    if replay is not None and Path(replay).is_file():
        args += ["--course-replay", str(replay)]
    if record is not None:
        args += ["--course-record", str(record)]
    if live_path is not None:
        args += ["--course-live"]
    if collect_file is not None:
        args += ["--course-collect", str(collect_file), "--collect-only"]
    if not landlock:
        args += ["--course-no-landlock"]
    if notebook_cells is not None:
        cells = tmp / "notebook-cells.json"
        cells.write_text(json.dumps(notebook_cells), encoding="utf-8")
        args += ["--course-notebook", str(cells)]
    path = [str(course_copy)] + ([str(live_path)] if live_path is not None else [])
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    try:
        done = subprocess.run([sys.executable, "-I", "-c", _BOOT, json.dumps({"path": path, "args": args})],
                              cwd=str(home), env=_trusted_env(home), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        console = done.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        console = (e.stdout or b"").decode("utf-8", "replace")
        console += f"\n[grader] the test session ran over {timeout:.0f} s and was stopped"
    if not report.is_file():
        return None, console
    return json.loads(report.read_text(encoding="utf-8")), console


# ---------------------------------------------------------------- what is graded


@dataclass
class Bundle:
    """Everything the trusted side needs for one assignment.

    ``assignment_dir``: trusted ``assignments/aN`` (config, probes, public and hidden tests,
    recording); ``student_package``: the student edition's ``minisegnet``; ``live_path``: a
    folder whose ``minisegnet`` is the reference solution (``None`` in a student edition);
    ``manifest``: the list of tests with points (``None``: collect on the fly).
    """

    assignment: str
    assignment_dir: Path
    student_package: Path
    manifest: dict | None
    live_path: Path | None
    course_src: Path | None = None

    @property
    def probes(self) -> Path:
        return self.assignment_dir / "tests" / "probes.py"

    @property
    def recording(self) -> Path:
        return self.assignment_dir / "tests" / "public" / "expected.json"

    @classmethod
    def load(cls, folder) -> Bundle:
        """A grader bundle built by ``minisegnet release`` (``grader/aN``)."""
        folder = Path(folder).resolve()
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        name = manifest["assignment"]
        trusted = folder / "trusted"
        return cls(name, trusted / "assignments" / name, folder / "student" / "minisegnet",
                   manifest, trusted, trusted / "minisegnet" / "course")

    @classmethod
    def from_project(cls, root, assignment) -> Bundle:
        """A project tree (the student edition, or the solution repository) for ``check``."""
        from .config import load_course
        from .markers import is_marker_like

        root = Path(root).resolve()
        course = load_course(root)
        a = course.assignment(assignment)
        if a.kind == "notebook":
            from .exercises import is_solution_notebook

            manifest = {"assignment": a.id, "title": a.title, "limits": a.limits, "tests": None,
                        "files": a.files, "marked_files": a.files, "points": a.points,
                        "kind": "notebook", "notebook": a.notebook,
                        "exercises": [e.to_json() for e in a.exercises]}
            live = root if is_solution_notebook(root / a.notebook) else None
            return cls(a.id, a.folder, root / "minisegnet", manifest, live, Path(__file__).parent)
        solution = any(is_marker_like(line)
                       for path in sorted((root / "minisegnet").rglob("*.py"))
                       if "course" not in path.relative_to(root / "minisegnet").parts
                       for line in path.read_text(encoding="utf-8", errors="replace").splitlines())
        manifest = {"assignment": a.id, "title": a.title, "limits": a.limits, "tests": None,
                    "files": a.files, "marked_files": a.files + a.extra_files,
                    "points": a.points}
        return cls(a.id, a.folder, root / "minisegnet", manifest, root if solution else None,
                   Path(__file__).parent)

    def tests(self, hidden: bool):
        return [t for t in (self.manifest.get("tests") or []) if hidden or t["kind"] == "public"]


# ---------------------------------------------------------------- submissions


def collect_submission(folder, accepted, required=()):
    """``(overlay {rel path: bytes}, notes)`` from a submission folder; never raises
    (``collect.collect_submission`` has the details, and which files kept their stub)."""
    found = collect(folder, accepted, required)
    return found.overlay, found.notes


# ---------------------------------------------------------------- one submission


_CATEGORY_WORDS = {
    "wrong": "wrong result", "not implemented": "not implemented", "error": "an exception",
    "import": "the package does not import", "exit": "the code exited", "crash": "crash",
    "timeout": "time limit", "memory": "memory limit", "output": "unreadable output",
    "grader": "grader error", "missing": "did not run", "skipped": "skipped",
    "not answered": "not answered yet",
    "disk": "disk limit", "stub": "this test ran the stub",
}


def _stub_cause(entry, stubbed):
    """``"conv.py did not compile (line 178: ...): this test ran the stub"`` when the
    failure comes from a graded file that kept its stub, else ``None``."""
    if not stubbed or entry is None or entry.get("outcome") == "passed" or \
            entry.get("category") not in ("not implemented", "error", "wrong", "output"):
        return None
    text = f"{entry.get('detail') or ''}\n{entry.get('message') or ''}"
    for target, why in sorted(stubbed.items()):
        if f'"{target}"' in text or (entry.get("category") == "not implemented"
                                     and len(stubbed) == 1 and "NotImplementedError" in text
                                     and target.rsplit("/", 1)[-1] in text):
            return f"{target.rsplit('/', 1)[-1]} {why}: this test ran the stub"
    return None


def _test_output(test, entry, stubbed=None):
    cause = _stub_cause(entry, stubbed)
    if test["kind"] != "public":
        if entry and entry.get("outcome") == "passed":
            return "Hidden test: passed."
        if cause:
            return f"Hidden test: failed ({cause.split(' (')[0]}: this test ran the stub)."
        category = (entry or {}).get("category") or "missing"
        return f"Hidden test: failed ({_CATEGORY_WORDS.get(category, category)})."
    if entry is None:
        return "This test did not run (the grader stopped early or the test was not collected)."
    if entry["outcome"] == "passed":
        text = "Passed."
    elif cause:
        text = cause + f" ({entry.get('message') or 'NotImplementedError'})."
    else:
        text = entry.get("message") or "Failed."
        detail = entry.get("detail")
        if detail:
            text += "\n\n" + detail.strip()
    if entry.get("printed"):
        text += "\n\nYour code printed:\n" + entry["printed"].strip()
    return _normalise(text)[:8000]


def build_results(bundle: Bundle, report, hidden: bool, notes, seconds: float, console="",
                  stubbed=None, submitters=""):
    """The Gradescope ``results.json`` body for one submission."""
    entries = (report or {}).get("tests", {})
    tests, score, total = [], 0, 0
    for test in bundle.tests(hidden):
        entry = entries.get(test["id"])
        passed = entry is not None and entry.get("outcome") == "passed"
        points = test["points"]
        total += points
        score += points if passed else 0
        category = "passed" if passed else ((entry or {}).get("category") or "missing")
        if not passed and _stub_cause(entry, stubbed):
            category = "stub"
        tests.append({
            "name": test["name"],
            "number": test["number"],
            "score": points if passed else 0,
            "max_score": points,
            "status": "passed" if passed else "failed",
            "output": _test_output(test, entry, stubbed),
            "visibility": test["visibility"],
            "tags": [test["kind"], category],
        })
    notes = [escape_text(n, 1000) for n in notes]
    lines = [f"{bundle.manifest.get('title', bundle.assignment)}: {score:g} / {total:g} points"
             + ("" if hidden else " (public tests only)")]
    if report is None:
        lines.append("The grader could not run the tests; every test scores 0. Please contact "
                     "the course staff.")
    lines += [f"- {n}" for n in notes]
    extra = {"assignment": bundle.assignment, "max_score": total, "hidden_included": bool(hidden),
             "notes": notes}
    if submitters:
        extra["submitters"] = submitters
    return {
        "score": score,
        "execution_time": round(seconds, 2),
        "output": _normalise("\n".join(lines)),
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": extra,
    }


def _session_timeout(bundle, hidden, limits):
    tests = bundle.tests(hidden)
    budget = sum(float(t.get("time_s") or limits["time_s"]) + 5.0 for t in tests) if tests else \
        100 * (float(limits["time_s"]) + 5.0)
    if bundle.manifest.get("kind") == "notebook":
        budget += float(limits["notebook_s"]) + float(limits["cell_s"])
    return budget + 2 * float(limits["startup_s"]) + 120.0


def grade_submission(bundle: Bundle, submission, *, hidden=True, limits=None, overlay=None,
                     notes=None, landlock=True, submitters=""):
    """Grade one submission (a folder, or a source from ``collect.find_submissions``);
    returns ``(results, log)`` and never raises for the submission's sake.
    ``overlay``/``notes`` replace the folder when given (``check``)."""
    started = time.monotonic()
    merged = dict(DEFAULT_LIMITS)
    merged.update(bundle.manifest.get("limits", {}))
    merged.update(limits or {})
    limits = merged
    stubbed = {}
    if overlay is None:
        found = collect(submission, bundle.manifest.get("marked_files", []),
                        bundle.manifest.get("files", []))
        overlay, notes, stubbed = found.overlay, found.notes, found.stubbed
    overlay, posted = use_posted(overlay, bundle.student_package, bundle.manifest.get("posted"))
    notes = list(notes or []) + posted
    prepared = None
    if bundle.manifest.get("kind") == "notebook":     # a lecture unit: the notebook is run
        prepared = unit_grading.prepare(overlay, stubbed, bundle.manifest)
        overlay = {}
    tmp = Path(tempfile.mkdtemp(prefix="msn-grade-"))      # trusted: report, course copy
    work = Path(tempfile.mkdtemp(prefix="msn-worker-"))    # the worker's package and homes
    report, console, box = None, "", None
    try:
        if prepared is not None and prepared.problem:
            raise _NotRun()
        hide = sorted({str(p) for p in (tmp, bundle.assignment_dir, bundle.live_path,
                                        bundle.course_src) if p is not None})
        box = Box.create(limits, hide=hide)
        worker = prepare_worker_folder(work, bundle.student_package, bundle.probes, overlay)
        tests_dir = bundle.assignment_dir / "tests"
        paths = [tests_dir / "public"] + ([tests_dir / "hidden"] if hidden else [])
        paths = [p for p in paths if p.is_dir()]
        report, console = run_session(
            tmp, bundle.assignment_dir, paths, worker_dir=worker, replay=bundle.recording,
            live_path=bundle.live_path, limits=dict(limits, box=box.describe()),
            landlock=landlock, timeout=_session_timeout(bundle, hidden, limits),
            course_src=bundle.course_src,
            notebook_cells=prepared.cells if prepared is not None else None)
    except _NotRun:
        console += f"\n[grader] not run: {prepared.problem}"
    except Exception as e:  # a grader fault must not stop a batch
        console += f"\n[grader] {type(e).__name__}: {e}"
    finally:
        if box is not None:
            box.close()           # every process of the submission, whatever pytest did
        kill_leftovers(work)
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    if bundle.manifest.get("tests") is None:  # check on a project: the collected tests
        bundle.manifest["tests"] = _manifest_from_collection((report or {}).get("collected", []))
    seconds = time.monotonic() - started
    if prepared is not None:
        results = unit_grading.build_results(bundle, report, hidden, notes or [], seconds,
                                             prepared, _normalise, submitters)
    else:
        results = build_results(bundle, report, hidden, notes or [], seconds, stubbed=stubbed,
                                submitters=submitters)
    tests = (report or {}).get("tests", {})
    log = {"sandbox": sandbox_summary((report or {}).get("sandbox"),
                                      box.describe() if box is not None else None),
           "worker_starts": (report or {}).get("worker_starts"),
           "seconds": {k: v.get("seconds") for k, v in tests.items()},
           "failures": {k: v.get("message") for k, v in tests.items()
                        if v.get("outcome") != "passed"},
           "details": {k: v.get("detail") for k, v in tests.items() if v.get("detail")},
           "stubbed": stubbed,
           "console": console[-20000:]}
    if prepared is not None:
        log["notebook"] = (report or {}).get("notebook")
    return results, log


class _NotRun(Exception):
    """The submitted notebook is not run (not a notebook, another unit's, missing)."""


def _manifest_from_collection(collected):
    tests = []
    counters = {"public": 0, "hidden": 0}
    for item in collected:
        kind = item["kind"]
        counters[kind] = counters.get(kind, 0) + 1
        tests.append({"id": item["id"], "name": item["name"], "points": item["points"] or 0,
                      "kind": kind, "visibility": "visible" if kind == "public" else "after_due_date",
                      "number": f"{1 if kind == 'public' else 2}.{counters[kind]}"})
        if item.get("exercise"):
            tests[-1]["exercise"] = item["exercise"]
    return tests


def write_json(path: Path, body) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(body, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(partial, path)


# ---------------------------------------------------------------- a batch


def split_scores(results):
    """(public, public max, hidden, hidden max) points of a results.json body."""
    public = sum(t["score"] for t in results["tests"] if "public" in t["tags"])
    public_max = sum(t["max_score"] for t in results["tests"] if "public" in t["tags"])
    hidden = sum(t["score"] for t in results["tests"] if "hidden" in t["tags"])
    hidden_max = sum(t["max_score"] for t in results["tests"] if "hidden" in t["tags"])
    return public, public_max, hidden, hidden_max


class GradingRefused(GraderError):
    """The grader will not grade here (the message says why and what to do)."""


def ensure_no_readable_solution(landlock=True) -> list:
    """Refuse (``GradingRefused``) when a ``minisegnet`` with solution bodies outside the
    bundle is importable by the worker's interpreter and nothing keeps the worker from
    reading it; returns the ones Landlock hides (for the log)."""
    readable, hidden = solution_exposure(landlock)
    if readable:
        raise GradingRefused(
            "refusing to grade: a minisegnet package with solution bodies is installed where "
            f"the worker's Python finds it ({', '.join(readable)}; e.g. the grader installed "
            "with `pip install .`), and this machine cannot keep submitted code from reading "
            "it (no Landlock). Grade from a Python environment without it (`pip uninstall "
            "minisegnet`, or a virtual environment with only the grader's requirements) and "
            "run `python -m minisegnet grade ...` from the project folder.")
    return hidden


def _csv_cell(value) -> str:
    """A spreadsheet cell that cannot be a formula (OWASP: quote a leading = + - @ tab CR)."""
    text = escape_text(value, 4000)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _md_cell(value) -> str:
    return escape_text(value, 200).replace("|", "\\|")


def grade_batch(bundle: Bundle, submissions, out, *, jobs=1, hidden=False, limits=None,
                progress=True, landlock=True):
    """Grade every submission in the folder ``submissions`` (see ``collect.py`` for the
    layouts); write results, ``grades.csv`` and a summary that lists skipped entries."""
    submissions, out = Path(submissions), Path(out)
    hidden_solutions = ensure_no_readable_solution(landlock)
    out.mkdir(parents=True, exist_ok=True)
    unit = bundle.manifest.get("kind") == "notebook"
    found, skipped = find_submissions(submissions, loose=(".ipynb",) if unit else ())
    rows = {}

    def one(sub):
        try:
            results, log = grade_submission(bundle, sub.source, hidden=hidden, limits=limits,
                                            landlock=landlock, submitters=sub.submitters)
        except Exception as e:
            results = build_results(bundle, None, hidden, [f"grader error: {e}"], 0.0,
                                    submitters=sub.submitters)
            log = {"error": repr(e)}
        write_json(out / sub.name / "results.json", results)
        write_json(out / sub.name / "log.json", log)
        if unit:
            (out / sub.name / "open_answers.md").write_text(
                unit_grading.open_answers_markdown(sub.name, results, bundle.manifest),
                encoding="utf-8")
        return sub.name, results

    bar = None
    if progress:
        try:
            from tqdm import tqdm

            bar = tqdm(total=len(found), desc=f"grading {bundle.assignment}", unit="submission",
                       file=sys.stderr)
        except ImportError:
            bar = None
    with ThreadPoolExecutor(max_workers=max(1, int(jobs))) as pool:
        futures = [pool.submit(one, s) for s in found]
        for future in as_completed(futures):
            student, results = future.result()
            rows[student] = results
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(f"{student}: {results['score']:g}")
    if bar is not None:
        bar.close()
    if unit:   # every student's answer to each open question, side by side, for the staff
        (out / "open_answers.md").write_text("\n".join(
            unit_grading.open_answers_markdown(name, rows[name], bundle.manifest)
            for name in sorted(rows)), encoding="utf-8")
    return _write_summary(bundle, rows, out, hidden, skipped, hidden_solutions)


def _write_summary(bundle, rows, out, hidden, skipped=(), hidden_solutions=()):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "score", "max_score", "public", "public_max", "hidden",
                     "hidden_max", "passed", "failed", "submitters", "notes"])
    per_test, scores = {}, []
    for student in sorted(rows):
        results = rows[student]
        public, public_max, hid, hid_max = split_scores(results)
        passed = sum(t["status"] == "passed" for t in results["tests"])
        extra = results.get("extra_data", {})
        writer.writerow([_csv_cell(student), f"{results['score']:g}", f"{extra['max_score']:g}",
                         f"{public:g}", f"{public_max:g}", f"{hid:g}", f"{hid_max:g}", passed,
                         len(results["tests"]) - passed, _csv_cell(extra.get("submitters", "")),
                         _csv_cell("; ".join(extra.get("notes", [])))])
        scores.append(results["score"])
        for t in results["tests"]:
            slot = per_test.setdefault(t["number"], {"name": t["name"], "passed": 0, "failed": 0})
            slot["passed" if t["status"] == "passed" else "failed"] += 1
    (out / "grades.csv").write_text(buffer.getvalue(), encoding="utf-8")
    total = sum(t["points"] for t in bundle.tests(hidden))
    summary = {
        "assignment": bundle.assignment,
        "hidden_included": bool(hidden),
        "submissions": len(rows),
        "max_score": total,
        "mean": round(statistics.fmean(scores), 3) if scores else None,
        "median": statistics.median(scores) if scores else None,
        "full_marks": sum(s == total for s in scores),
        "skipped": [{"entry": name, "why": why} for name, why in skipped],
        "solutions_hidden_from_workers": list(hidden_solutions),
        "tests": dict(sorted(per_test.items(), key=lambda kv: [int(x) for x in kv[0].split(".")])),
    }
    write_json(out / "summary.json", summary)
    lines = [f"# {bundle.assignment}: {len(rows)} submissions graded"
             f"{' (public and hidden tests)' if hidden else ' (public tests)'}", "",
             "| student | score | public | hidden |", "|---|---:|---:|---:|"]
    for student in sorted(rows):
        public, public_max, hid, hid_max = split_scores(rows[student])
        lines.append(f"| {_md_cell(student)} | {rows[student]['score']:g} / {total:g} | "
                     f"{public:g} / {public_max:g} | {hid:g} / {hid_max:g} |")
    if scores:
        lines += ["", f"mean {summary['mean']:g}, median {summary['median']:g}, full marks "
                      f"{summary['full_marks']} of {len(rows)}"]
    if skipped:
        lines += ["", f"Skipped {len(skipped)} entries of the submissions folder:"]
        lines += [f"- {_md_cell(name)}: {why}" for name, why in skipped]
    lines += ["", "| test | name | passed | failed |", "|---|---|---:|---:|"]
    for number, slot in summary["tests"].items():
        lines.append(f"| {number} | {_md_cell(slot['name'])} | {slot['passed']} | {slot['failed']} |")
    (out / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return summary


# ---------------------------------------------------------------- check


def check_project(root, assignment, *, limits=None, landlock=True):
    """Run the public tests of ``assignment`` on a project tree through the isolated runner."""
    bundle = Bundle.from_project(root, assignment)
    results, log = grade_submission(bundle, None, hidden=False, limits=limits, overlay={},
                                    notes=[], landlock=landlock)
    return results, log


def points_table(results) -> str:
    """A plain-text table of a results.json body, for the terminal."""
    rows = [("#", "test", "points", "result")]
    for t in results["tests"]:
        status = "ok" if t["status"] == "passed" else t["tags"][-1]
        rows.append((t["number"], t["name"][:60], f"{t['score']:g}/{t['max_score']:g}", status))
    widths = [max(len(str(r[i])) for r in rows) for i in range(4)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    total = results["extra_data"]["max_score"]
    lines.append("")
    lines.append(f"total: {results['score']:g} / {total:g}")
    return "\n".join(lines)


def to_gradescope(results) -> dict:
    """The results body as Gradescope reads it (it already is; kept for symmetry)."""
    return results
