"""``minisegnet release --out DIR``: the student edition and the grader bundles, from one source.

``DIR/student/`` is the whole project as students get it: every solution region replaced by
its stub (``markers.py``), notebooks without outputs and with solution cells stubbed, the
assignments' public tests with the expected values recorded from the solution
(``tests/public/expected.json`` + ``.npz``), and of the project's own tests only the allow
list of ``assignments/course.json`` (every other test may exercise graded code or import an
oracle such as ``tests/reference.py``). No hidden test, no oracle, no marker, and no line of
any solution region is in it: the release checks all of that and fails otherwise.

``DIR/grader/aN/`` is one Gradescope autograder per assignment, never given to students:
``setup.sh`` and ``run_autograder`` at its root, ``manifest.json`` (every test with id,
name, points, visibility and number), ``trusted/`` (the solution edition of the package,
which also holds this grader, and the assignment's tests, public and hidden) and
``student/`` (the student edition's package, the base of every worker folder).

The same source gives the same bytes: files are walked in sorted order, generated files
have no time stamps, notebooks are written canonically, and the recording's ``.npz`` has
fixed zip dates. Before writing anything, every assignment's tests run on the solution
(each must pass; each needs a ``points`` marker, and the totals must match
``assignment.json``).
"""

from __future__ import annotations

import ast
import fnmatch
import hashlib
import json
import os
import platform
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

from .commands import function_order
from .config import ConfigError, excluded, load_course
from .edition import student_readme
from .grading import run_session
from .markers import MarkerError, is_marker_like, strip_notebook, strip_source, stub_import
from .notebooks import RenderError, merge_outputs, render_notebooks, user_cache_dir

__all__ = ["release", "ReleaseError", "project_files", "ordered", "tags_before", "pinned"]

RELEASE_STAMP = "release.json"


class ReleaseError(RuntimeError):
    """The release cannot be built; the message says what to fix."""


def project_files(root: Path) -> list[str]:
    """Project-relative POSIX paths: git's tracked and untracked-but-not-ignored files when
    the project is a git work tree, else every file under ``root``."""
    root = Path(root)
    if (root / ".git").exists():
        try:
            listed = subprocess.run(
                ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others",
                 "--exclude-standard"], check=True, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL).stdout.decode("utf-8").split("\0")
            return sorted({p for p in listed if p and (root / p).is_file()
                           and not (root / p).is_symlink()})
        except (OSError, subprocess.CalledProcessError):
            pass
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                found.append(path.relative_to(root).as_posix())
    return sorted(found)


def _source_files(source: Path, out: Path) -> list[str]:
    """The project's files, minus the release being written and any earlier release found
    inside the project (a folder with ``release.json`` and ``grader/``: never ship that)."""
    files = project_files(source)
    earlier = {f.rsplit("/", 1)[0] for f in files if f.endswith("/" + RELEASE_STAMP)}
    earlier = {e for e in earlier if (source / e / "grader").is_dir()}
    return [f for f in files if out not in (source / f).parents
            and not any(f.startswith(e + "/") for e in earlier)]


def _assignment_of(rel: str):
    parts = rel.split("/")
    if len(parts) >= 3 and parts[0] == "assignments":
        return parts[1]
    return None


def _names_in(text: str):
    """Identifiers, attribute names and imported modules of a Python source."""
    names, modules = set(), set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            modules.add(node.module or "")
            names.update(alias.name for alias in node.names)
    return names, modules


def _text_lines(path: Path, outputs=True):
    """Stripped lines of a text file (for a notebook: its cell sources and, with
    ``outputs``, the text of its outputs); ``[]`` for binaries."""
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return []
    if path.suffix == ".ipynb":
        try:
            cells = json.loads(text).get("cells", [])
        except ValueError:
            return text.splitlines()
        parts = ["".join(c.get("source", "")) if isinstance(c.get("source"), list)
                 else c.get("source", "") for c in cells]
        if outputs:
            parts += [_joined(piece) for c in cells for o in c.get("outputs") or []
                      for piece in [o.get("text", "")] + [
                          v for k, v in (o.get("data") or {}).items() if k.startswith("text/")]]
        text = "\n".join(parts)
    return [line.strip() for line in text.splitlines()]


def _joined(piece) -> str:
    return "".join(piece) if isinstance(piece, list) else str(piece)


def _copy_tree_files(src: Path, dst: Path, rels):
    for rel in rels:
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel, target)


def _write(path: Path, content, mode=0o644):
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    os.chmod(path, mode)


SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image. The versions are
# the ones the expected values were recorded with (Python {python}).
set -euo pipefail
if ! command -v python3 >/dev/null 2>&1; then
    apt-get update && apt-get install -y python3 python3-pip
fi
if ! python3 -m pip --version >/dev/null 2>&1; then
    (apt-get update && apt-get install -y python3-pip) || true
fi
if ! python3 -m pip --version >/dev/null 2>&1; then
    echo "setup.sh: python3 has no pip and apt-get could not install python3-pip" >&2
    exit 1
fi
python3 -m pip install --no-cache-dir {requirements} \\
  || python3 -m pip install --no-cache-dir --break-system-packages {requirements}
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission. The grader (trusted/minisegnet/course) runs the
# tests of trusted/assignments/{assignment} against the files in $ROOT/submission, each
# submission's code in a confined worker process, and writes $ROOT/results/results.json.
set -u
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
SOURCE="$ROOT/source"
chmod -R go-rwx "$SOURCE" 2>/dev/null || true
mkdir -p "$ROOT/results"
BOOT='import sys; sys.path.insert(0, sys.argv[1] + "/trusted")
from minisegnet.course.gradescope import main
sys.exit(main(sys.argv[2:]))'
exec python3 -I -c "$BOOT" "$SOURCE" --bundle "$SOURCE" --submission "$ROOT/submission" \\
    --results "$ROOT/results/results.json"
"""


def _record(source: Path, assignment, tmp: Path):
    """Run all tests of an assignment on the solution in a trusted pytest process, recording
    the expected values of the public ones. Returns ``(collected, recording_json)``."""
    session = tmp / f"record-{assignment.id}"
    session.mkdir()
    record = session / "expected.json"
    tests = assignment.folder / "tests"
    paths = [p for p in (tests / "public", tests / "hidden") if p.is_dir()]
    report, console = run_session(session, assignment.folder, paths, record=record,
                                  live_path=source, limits=assignment.limits, timeout=900)
    if report is None:
        raise ReleaseError(f"{assignment.id}: the tests could not run on the solution:\n"
                           f"{console[-4000:]}")
    failed = sorted(k for k, v in report["tests"].items() if v["outcome"] != "passed")
    if failed:
        first = report["tests"][failed[0]]
        raise ReleaseError(f"{assignment.id}: {len(failed)} test(s) fail on the solution edition, "
                           f"first {failed[0]}: {first.get('message')}\n{console[-3000:]}")
    collected = report["collected"]
    if not collected:
        raise ReleaseError(f"{assignment.id}: no tests found in {tests}")
    missing = [c["id"] for c in collected if not isinstance(c["points"], (int, float))
               or c["points"] <= 0]
    if missing:
        raise ReleaseError(f"{assignment.id}: tests without a positive @pytest.mark.points(n): "
                           f"{', '.join(missing[:5])}")
    not_run = sorted({c["id"] for c in collected} - set(report["tests"]))
    if not_run:
        raise ReleaseError(f"{assignment.id}: collected but not run: {', '.join(not_run[:5])}")
    for kind in ("public", "hidden"):
        total = sum(c["points"] for c in collected if c["kind"] == kind)
        wanted = assignment.points.get(kind)
        if wanted is not None and total != wanted:
            raise ReleaseError(f"{assignment.id}: the {kind} tests add up to {total} points, "
                               f"assignment.json says {wanted}")
    counts = {k: sum(c["kind"] == k for c in collected) for k in ("public", "hidden")}
    if not counts["public"]:
        raise ReleaseError(f"{assignment.id}: no public tests")
    if record.is_file():   # and the solution's call graph, which check orders failures by
        index = json.loads(record.read_text(encoding="utf-8"))
        index["order"] = function_order(source, assignment.files)
        record.write_text(json.dumps(index, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return collected, record if record.is_file() else None


def _recording_key(source: Path, assignment, files) -> str:
    """What a recording depends on: the package, the assignment's folder, this grader and
    the versions that compute."""
    h = hashlib.sha256(f"{assignment.id}|{sys.version}".encode())
    for name in ("numpy", "scipy", "numba", "pytest"):
        try:
            h.update(f"{name}={metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            h.update(name.encode())
    prefixes = ("minisegnet/", f"assignments/{assignment.id}/")
    for rel in files:
        if rel.startswith(prefixes) and "__pycache__" not in rel:
            h.update(rel.encode() + b"\0" + hashlib.sha256((source / rel).read_bytes()).digest())
    return h.hexdigest()[:40]


def _recorded(source: Path, assignment, tmp: Path, files, cache: bool):
    """``_record``, through the per-user cache when ``cache`` (the same sources and versions
    give the same recording: running every test on the solution takes minutes)."""
    folder = user_cache_dir() / "recorded" / _recording_key(source, assignment, files)
    if cache and (folder / "collected.json").is_file():
        collected = json.loads((folder / "collected.json").read_text(encoding="utf-8"))
        record = folder / "expected.json"
        return collected, record if record.is_file() else None
    collected, record = _record(source, assignment, tmp)
    if cache:
        partial = folder.with_name(folder.name + f".{os.getpid()}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        if record is not None:
            for suffix in (".json", ".npz"):
                shutil.copyfile(record.with_suffix(suffix), partial / f"expected{suffix}")
        (partial / "collected.json").write_text(json.dumps(collected), encoding="utf-8")
        try:
            os.replace(partial, folder)
        except OSError:   # another release wrote it first
            shutil.rmtree(partial, ignore_errors=True)
    return collected, record


def _manifest(assignment, collected, marked_files):
    tests, counters = [], {"public": 0, "hidden": 0}
    for c in collected:
        kind = c["kind"]
        if kind not in counters:
            raise ReleaseError(f"{assignment.id}: test {c['id']} is neither in public/ nor hidden/")
        counters[kind] += 1
        tests.append({"id": c["id"], "name": c["name"], "points": c["points"], "kind": kind,
                      "visibility": "visible" if kind == "public" else "after_due_date",
                      "number": f"{1 if kind == 'public' else 2}.{counters[kind]}"})
        if "time_s" in c:
            tests[-1]["time_s"] = c["time_s"]
    return {
        "assignment": assignment.id,
        "title": assignment.title,
        "files": assignment.files,
        "marked_files": marked_files,
        "limits": assignment.limits,
        "points": {"public": sum(t["points"] for t in tests if t["kind"] == "public"),
                   "hidden": sum(t["points"] for t in tests if t["kind"] == "hidden"),
                   "total": sum(t["points"] for t in tests)},
        "tests": tests,
    }


def ordered(course) -> list:
    """The assignments in course order: by the number in their id (a2 before a10)."""
    def key(a):
        digits = "".join(ch for ch in a.id if ch.isdigit())
        return (int(digits) if digits else 0, a.id)

    return sorted(course.assignments.values(), key=key)


def tags_before(course, stage: str) -> set:
    """The tags of the assignments due before ``stage`` (their solutions are posted)."""
    names = [a.id for a in ordered(course)]
    return {a.tag for a in ordered(course)[:names.index(stage)]}


def _edition(source: Path, files, course, keep, allow=()):
    """``(shipped, content, regions_by_file)`` of an edition whose regions of ``keep`` are
    filled in and every other region stubbed; ``content`` holds the files that change."""
    tags = {a.tag for a in course.assignments.values()}
    allow = set(allow)
    shipped, regions_by_file, content = [], {}, {}
    for rel in files:
        if rel not in allow and excluded(rel, course.exclude):
            continue
        path = source / rel
        try:
            if rel.endswith(".py"):
                text = path.read_text(encoding="utf-8")
                top = source / rel.split("/")[0] / "_stubs.py"
                new, regions = strip_source(text, rel, tags, keep,
                                            stub_import(rel) if top.is_file() else None)
            elif rel.endswith(".ipynb"):
                text = path.read_text(encoding="utf-8")
                folder = _assignment_of(rel)
                default = folder.upper() if folder and folder.upper() in tags else None
                new, regions = strip_notebook(text, rel, tags, default, keep)
            else:
                new, regions = None, []
        except MarkerError as e:
            raise ReleaseError(str(e)) from None
        except UnicodeDecodeError:
            new, regions = None, []
        shipped.append(rel)
        if new is not None:
            content[rel] = new
        if regions:
            regions_by_file[rel] = regions
    return shipped, content, regions_by_file


def _posted_functions(regions_by_file, keep) -> dict:
    """``{file: [qualname]}``: the functions of the package whose every region belongs to an
    assignment in ``keep``; the grader replaces them in a submission by the posted solution.
    A function with regions of a posted and of a later assignment is an error (split it)."""
    posted = {}
    for rel, regions in sorted(regions_by_file.items()):
        if not rel.endswith(".py"):
            continue
        by_function = {}
        for r in regions:
            by_function.setdefault(r.qualname, set()).add(r.tag)
        for qualname, found in sorted(by_function.items(), key=lambda kv: str(kv[0])):
            if not found & keep:
                continue
            if qualname is None:
                raise ReleaseError(f"{rel}: a {'/'.join(sorted(found))} solution region outside any "
                                   f"function: a staged grader cannot replace it by the posted "
                                   f"solution")
            if found - keep:
                raise ReleaseError(
                    f"{rel}: {qualname} has solution regions of {', '.join(sorted(found))}: a "
                    f"function belongs to one assignment (split it), so that the grader of a "
                    f"later assignment can grade it with the posted solution")
            posted.setdefault(rel, []).append(qualname)
    return posted


def release(source, out, *, stage=None, force=False, render=True, cache=True, log=print):
    """Build ``out/student`` (the edition of ``stage``, default the first assignment) and
    ``out/grader/aN`` (+ ``aN.zip``); returns a summary dict.

    ``render=False`` ships the lecture notebooks without outputs (quicker: for grading
    locally, where no student sees the edition); ``cache`` reuses recordings and rendered
    notebooks from the per-user cache (``~/.cache/minisegnet``) when nothing they depend on
    changed.
    """
    source = Path(source).resolve()
    out = Path(out).resolve()
    try:
        course = load_course(source)
    except ConfigError as e:
        raise ReleaseError(str(e)) from None
    names = [a.id for a in ordered(course)]
    if not names:
        raise ReleaseError(f"{source}: no assignments (assignments/aN/assignment.json)")
    stage = (stage or names[0]).lower()
    if stage not in names:
        raise ReleaseError(f"unknown stage {stage!r}: this course has {', '.join(names)}")
    if out.exists() and any(out.iterdir()):
        if not force or not (out / RELEASE_STAMP).is_file():
            raise ReleaseError(f"{out} is not empty (use --force to replace an earlier release)")
        shutil.rmtree(out)
    if source == out or source in out.parents and out.relative_to(source).parts[0] in (
            "minisegnet", "assignments", "tests"):
        raise ReleaseError(f"refusing to write the release inside {source}'s sources")
    files = _source_files(source, out)
    allow = set(course.project_tests)
    keep = tags_before(course, stage)

    # -- what the student edition holds, each file stubbed (or filled in) where marked
    shipped, content, regions_by_file = _edition(source, files, course, keep, allow)
    for rel in allow:
        if rel not in shipped:
            raise ReleaseError(f"assignments/course.json: project test {rel} does not exist")

    # -- the markers agree with the assignments
    marked_py = sorted(r for r in regions_by_file if r.endswith(".py"))
    for rel in marked_py:
        for tag in sorted({r.tag for r in regions_by_file[rel]}):
            a = course.assignment(tag)
            if rel not in a.files + a.extra_files:
                raise ReleaseError(f"{rel}: has {tag} solution regions, but assignments/{a.id}/"
                                   f"assignment.json lists it in neither files nor extra_files")
    by_name = {}
    for rel in marked_py:
        by_name.setdefault(Path(rel).name, []).append(rel)
    clashes = [v for v in by_name.values() if len(v) > 1]
    if clashes:
        raise ReleaseError(f"marked files share a file name, so submissions are ambiguous: {clashes[0]}")
    for a in course.assignments.values():
        for rel in a.files + a.extra_files:
            if rel not in shipped:
                raise ReleaseError(f"assignments/{a.id}/assignment.json: {rel} does not exist")
    posted = {a.id: _posted_functions(regions_by_file, tags_before(course, a.id))
              for a in ordered(course)}

    # -- the allowed project tests touch no graded function and no oracle
    graded_names = {r.function for regs in regions_by_file.values() for r in regs if r.function}
    for rel in sorted(allow):
        if not rel.endswith(".py"):
            continue
        used, modules = _names_in((source / rel).read_text(encoding="utf-8"))
        hits = sorted(used & graded_names)
        oracles = sorted(m for m in modules if "reference" in m.split(".")[-1])
        if hits or oracles:
            raise ReleaseError(f"{rel} is shipped to students (course.json project_tests) but "
                               f"uses {'graded functions ' + ', '.join(hits) if hits else ''}"
                               f"{' and ' if hits and oracles else ''}"
                               f"{'oracles ' + ', '.join(oracles) if oracles else ''}")

    # -- the solution passes every test; public expected values are recorded
    tmp = Path(tempfile.mkdtemp(prefix="msn-release-"))
    try:
        recorded, manifests = {}, {}
        for a in ordered(course):
            log(f"release: running the {a.id} tests on the solution")
            collected, recording = _recorded(source, a, tmp, files, cache)
            marked = sorted(set(a.files + a.extra_files) | set(marked_py))
            manifests[a.id] = _manifest(a, collected, marked)
            manifests[a.id]["stage_of"] = sorted(t.lower() for t in tags_before(course, a.id))
            manifests[a.id]["posted"] = posted[a.id]
            recorded[a.id] = recording
        # -- lecture notebooks, rendered on the solution (outputs and what each one needs)
        lectures = sorted(r for r in shipped if r.endswith(".ipynb")
                          and any(fnmatch.fnmatchcase(r, p) for p in course.render))
        rendered = {}
        if render and lectures:
            log(f"release: rendering {len(lectures)} lecture notebooks on the solution")
            try:
                rendered = render_notebooks(source, shipped, lectures, course, cache=cache,
                                            log=log)
            except RenderError as e:
                raise ReleaseError(str(e)) from None
            for rel, result in rendered.items():
                content[rel] = merge_outputs(content[rel], result["notebook"])
        needs = {rel: result["needs"] for rel, result in sorted(rendered.items())}
        content["README.md"] = student_readme(source, course, stage, needs, shipped)
        if "README.md" not in shipped:
            shipped.append("README.md")
        return _write_release(source, out, course, stage, shipped, content, regions_by_file,
                              keep, recorded, manifests, needs, files, log)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _leaks(edition: Path, regions_by_file, source: Path, shipped, keep=()):
    """Solution lines of the stubbed regions in the student edition.

    Two checks: (a) a region line (12+ characters) that appears nowhere outside the stubbed
    regions in the source project must not appear in the edition; (b) no three consecutive
    (non-blank) lines of a region may appear consecutively in any edition file (a verbatim
    copy of a solution block in a lesson or a notebook, say) unless they appear so outside
    the stubbed regions too. Regions of ``keep`` (posted solutions) are not secret.
    Notebook outputs count as text of the edition.
    """
    outside, outside_triples = set(), set()
    for rel in shipped:
        if rel in regions_by_file:   # the edition's version: the source minus its stubs
            lines = _text_lines(edition / rel, outputs=False)
        else:
            lines = _text_lines(source / rel)
        outside.update(lines)
        kept = [line for line in lines if line]
        outside_triples.update(tuple(kept[k:k + 3]) for k in range(len(kept) - 2))
    single, triples = {}, {}
    for rel, regions in regions_by_file.items():
        for region in regions:
            if region.tag in keep:
                continue
            lines = [line.strip() for line in region.lines if line.strip()]
            for s in lines:
                if len(s) >= 12 and s not in outside:
                    single.setdefault(s, f"{rel}:{region.begin}")
            for k in range(len(lines) - 2):
                block = tuple(lines[k:k + 3])
                if block not in outside_triples:
                    triples.setdefault(block, f"{rel}:{region.begin}")
    found = []
    for path in sorted(edition.rglob("*")):
        if not path.is_file():
            continue
        lines = [line for line in _text_lines(path) if line]
        where = path.relative_to(edition)
        for line in lines:
            if line in single:
                found.append(f"{where} repeats a line of the solution region at {single[line]}: "
                             f"{line!r}")
        for k in range(len(lines) - 2):
            block = tuple(lines[k:k + 3])
            if block in triples:
                found.append(f"{where} repeats three lines of the solution region at "
                             f"{triples[block]}: {block[0]!r} ...")
    return found


def _write_release(source, out, course, stage, shipped, content, regions_by_file, keep, recorded,
                   manifests, needs, files, log):
    student = out / "student"
    for rel in shipped:
        target = student / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if rel in content:
            target.write_text(content[rel], encoding="utf-8")
        else:
            shutil.copyfile(source / rel, target)
        mode = (source / rel).stat().st_mode if (source / rel).exists() else 0o644
        os.chmod(target, 0o755 if mode & stat.S_IXUSR else 0o644)
    for name, recording in recorded.items():
        if recording is not None:
            public = student / "assignments" / name / "tests" / "public"
            public.mkdir(parents=True, exist_ok=True)
            for suffix in (".json", ".npz"):
                shutil.copyfile(recording.with_suffix(suffix), public / f"expected{suffix}")

    # -- checks on what was written
    problems = []
    for path in sorted(student.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".ipynb"):
            for number, line in enumerate(_text_lines(path), 1):
                if is_marker_like(line):
                    problems.append(f"{path.relative_to(student)}:{number}: a marker remains")
        rel = path.relative_to(student).as_posix()
        if "/hidden/" in f"/{rel}/" and rel.startswith("assignments/"):
            problems.append(f"{rel}: a hidden test folder in the student edition")
    problems += _leaks(student, regions_by_file, source, shipped, keep)
    if problems:
        raise ReleaseError("the student edition would leak:\n" + "\n".join(problems[:20]))

    # -- one grader bundle per assignment, each with the package of its own stage
    grader = out / "grader"
    grader.mkdir(parents=True)
    os.chmod(grader, 0o700)
    package_files = sorted(r for r in files
                           if r.startswith("minisegnet/") and not excluded(r, course.exclude))
    requirements = " ".join(f"'{r}'" for r in pinned(course.requirements))
    for a in ordered(course):
        name, manifest = a.id, manifests[a.id]
        bundle = grader / name
        _copy_tree_files(source, bundle / "trusted", package_files)
        tests_rel = sorted(r for r in files
                           if r.startswith(f"assignments/{name}/tests/")
                           and not excluded(r, [".ipynb_checkpoints", "__pycache__", "*.pyc",
                                                "expected.json", "expected.npz"]))
        _copy_tree_files(source, bundle / "trusted", tests_rel + [f"assignments/{name}/assignment.json"])
        if recorded[name] is not None:
            public = bundle / "trusted" / "assignments" / name / "tests" / "public"
            for suffix in (".json", ".npz"):
                shutil.copyfile(recorded[name].with_suffix(suffix), public / f"expected{suffix}")
        own_stage = tags_before(course, name)
        package, package_content, _ = _edition(source, package_files, course, own_stage)
        for rel in package:
            target = bundle / "student" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if rel in package_content:
                target.write_text(package_content[rel], encoding="utf-8")
            else:
                shutil.copyfile(source / rel, target)
        _write(bundle / "manifest.json", json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
        _write(bundle / "setup.sh", SETUP_SH.format(requirements=requirements,
                                                   python=platform.python_version()), 0o755)
        _write(bundle / "run_autograder", RUN_AUTOGRADER.format(assignment=name), 0o755)
        _write(bundle / "README.txt",
               f"Gradescope autograder for {name} ({a.title}).\n"
               f"Upload {name}.zip (next to this folder: the contents of this folder, setup.sh and\n"
               f"run_autograder at the root). Test locally: minisegnet grade {name} SUBMISSIONS/ "
               f"-o OUT/ --bundle <this folder> --hidden\n"
               + (f"Functions of {', '.join(sorted(manifest['stage_of'])).upper()} in a "
                  f"submission are replaced by the posted solution before grading.\n"
                  if manifest["stage_of"] else "")
               + "Never give this folder to students: it holds the hidden tests and the solution.\n")
        _zip_folder(bundle, grader / f"{name}.zip")

    summary = {
        "stage": stage,
        "assignments": {name: {"public": m["points"]["public"], "hidden": m["points"]["hidden"],
                               "tests": len(m["tests"])} for name, m in manifests.items()},
        "needs": needs,
        "student_files": len(shipped),
        "regions": {rel: len(r) for rel, r in sorted(regions_by_file.items())},
        "digest": _tree_digest(out, exclude=RELEASE_STAMP),
    }
    _write(out / RELEASE_STAMP, json.dumps(summary, indent=1, sort_keys=True) + "\n")
    log(f"release: the {stage} edition in {student} ({len(shipped)} files), grader bundles in "
        f"{grader}")
    return summary


def pinned(requirements) -> list:
    """The grader's requirements pinned to the versions installed here, which recorded the
    expected values (a requirement that is not installed keeps its range)."""
    result = []
    for spec in requirements:
        name = re.split(r"[<>=!~;\[ ]", spec, maxsplit=1)[0].strip()
        try:
            result.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            result.append(spec)
    return result


def _zip_folder(folder: Path, target: Path) -> None:
    """A deterministic zip of a folder's contents (fixed dates, sorted, modes kept)."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if not path.is_file():
                continue
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), (1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o100000 | (path.stat().st_mode & 0o777)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    os.chmod(target, 0o600)


def _tree_digest(root: Path, exclude=None) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name != exclude:
            h.update(path.relative_to(root).as_posix().encode() + b"\0")
            h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()
