"""Submissions as the grader finds them: folders, zip files, Gradescope's export.

Everything here reads files a student made, so nothing is trusted: the walk neither follows
links nor goes deeper than ``MAX_DEPTH`` folders nor looks at more than ``MAX_ENTRIES``
entries (each cap stops the walk and is said once); a file is opened without following a
link, without blocking on a FIFO, and only when it is a regular file under
``MAX_FILE_BYTES``; zip members are read in memory, capped, never extracted (so no path in
a zip can point anywhere); and every name that reaches a note is escaped, so a newline in
a file name cannot start a note of its own.

Layouts ``grade`` accepts in its SUBMISSIONS folder (``grade --help`` says the same):

* one folder per student (``alice/``), holding the files anywhere inside (by their path in
  the package, or by their unique file name);
* one zip file per student (``alice.zip``): the same, zipped;
* Gradescope's "Download Submissions" export, unpacked or as its zip: a folder
  ``assignment_<id>_export/`` with ``submission_metadata.yml`` and one
  ``submission_<id>/`` folder per submission; results are named by those folders and
  ``grades.csv`` lists each one's submitters from the metadata.

Anything else (loose files, links, hidden entries) is skipped, and ``grade`` lists each
skipped entry with the reason.
"""

from __future__ import annotations

import os
import re
import stat
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["collect_submission", "Collected", "find_submissions", "Submission", "escape_text",
           "MAX_DEPTH", "MAX_ENTRIES", "MAX_FILE_BYTES"]

MAX_FILE_BYTES = 1 << 20
MAX_DEPTH = 24
MAX_ENTRIES = 2000
MAX_ZIP_BYTES = 512 << 20
_SKIP_DIRS = ("__pycache__", ".git", "__MACOSX")
_BOM = b"\xef\xbb\xbf"


def escape_text(text: str, limit: int = 300) -> str:
    """``text`` on one line: control and line-separator characters as escapes, capped
    (idempotent: escaping twice changes nothing)."""
    out = []
    for ch in str(text):
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    joined = "".join(out)
    return joined if len(joined) <= limit else joined[:limit] + "…"


# ---------------------------------------------------------------- sources


@dataclass
class _Entry:
    rel: str          # POSIX path inside the submission
    kind: str         # "file", "link", "other"
    size: int = 0


class _Folder:
    """A submission folder: walked without following links, with depth and count caps."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def entries(self, notes):
        found, stack, count = [], [("", 0)], 0
        said_depth = said_count = False
        while stack:
            rel_dir, depth = stack.pop()
            try:
                with os.scandir(self.path / rel_dir if rel_dir else self.path) as it:
                    children = sorted(it, key=lambda e: e.name, reverse=True)
            except OSError as e:
                notes.append(f"could not read the folder {escape_text(rel_dir or '.')} "
                             f"({e.strerror})")
                continue
            for child in children:
                if count >= MAX_ENTRIES:
                    if not said_count:
                        notes.append(f"more than {MAX_ENTRIES} entries in the submission: the "
                                     f"walk stopped there, the rest were not read")
                        said_count = True
                    stack.clear()
                    break
                count += 1
                rel = f"{rel_dir}/{child.name}" if rel_dir else child.name
                try:
                    if child.is_symlink():
                        found.append(_Entry(rel, "link"))
                    elif child.is_dir(follow_symlinks=False):
                        if child.name in _SKIP_DIRS:
                            continue
                        if depth + 1 >= MAX_DEPTH:
                            if not said_depth:
                                notes.append(f"folders deeper than {MAX_DEPTH} levels were not "
                                             f"read (first: {escape_text(rel, 120)})")
                                said_depth = True
                            continue
                        stack.append((rel, depth + 1))
                    elif child.is_file(follow_symlinks=False):
                        found.append(_Entry(rel, "file", child.stat(follow_symlinks=False).st_size))
                    else:
                        found.append(_Entry(rel, "other"))
                except OSError:
                    found.append(_Entry(rel, "other"))
        return sorted(found, key=lambda e: e.rel)

    def read(self, rel: str) -> bytes:
        """The bytes of a regular file (no link followed, no FIFO waited on, capped)."""
        fd = os.open(self.path / rel, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise OSError(f"{rel} is not a regular file")
            chunks, size = [], 0
            while size <= MAX_FILE_BYTES:
                chunk = os.read(fd, MAX_FILE_BYTES + 1 - size)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def close(self):
        pass


class _Zip:
    """A zip file (or the part of one under ``prefix``): members read in memory, capped."""

    def __init__(self, path: Path, prefix: str = ""):
        self.path, self.prefix = Path(path), prefix
        self.archive = None
        self.members = {}

    def entries(self, notes):
        try:
            self.archive = zipfile.ZipFile(self.path)
            infos = self.archive.infolist()
        except (OSError, zipfile.BadZipFile, ValueError) as e:
            notes.append(f"{escape_text(self.path.name)} is not a readable zip file ({e})")
            return []
        found, said_depth, said_unsafe = [], False, False
        for count, info in enumerate(infos):
            if count >= MAX_ENTRIES:
                notes.append(f"more than {MAX_ENTRIES} entries in the zip file: the rest were "
                             f"not read")
                break
            name = info.filename.replace("\\", "/")
            if not name.startswith(self.prefix):
                continue
            name = name[len(self.prefix):]
            parts = [p for p in name.split("/") if p not in ("", ".")]
            if info.is_dir() or not parts:
                continue
            if name.startswith("/") or ".." in parts or ":" in parts[0]:
                if not said_unsafe:
                    notes.append(f"zip entries with an absolute path or '..' were not read "
                                 f"(first: {escape_text(info.filename, 120)})")
                    said_unsafe = True
                continue
            if any(p in _SKIP_DIRS for p in parts[:-1]):
                continue
            if len(parts) > MAX_DEPTH:
                if not said_depth:
                    notes.append(f"zip entries deeper than {MAX_DEPTH} levels were not read")
                    said_depth = True
                continue
            rel = "/".join(parts)
            mode = info.external_attr >> 16
            kind = "link" if stat.S_ISLNK(mode) else "file" if not stat.S_IFMT(mode) or \
                stat.S_ISREG(mode) else "other"
            self.members[rel] = info
            found.append(_Entry(rel, kind, info.file_size))
        return sorted(found, key=lambda e: e.rel)

    def read(self, rel: str) -> bytes:
        info = self.members[rel]
        if info.file_size > MAX_FILE_BYTES:
            return b"\0" * (MAX_FILE_BYTES + 1)
        try:
            with self.archive.open(info) as member:
                return member.read(MAX_FILE_BYTES + 1)   # a bomb stops at the cap
        except (RuntimeError, zipfile.BadZipFile, NotImplementedError, ValueError) as e:
            raise OSError(f"unreadable zip member ({e})") from None

    def close(self):
        if self.archive is not None:
            self.archive.close()


# ---------------------------------------------------------------- one submission


@dataclass
class Collected:
    """What a submission gives the grader: ``overlay`` ``{target: bytes}``, ``notes`` for
    the student (escaped, one line each), ``stubbed`` ``{target: why}`` for each graded
    file whose stub stays in place (not submitted, not UTF-8, does not compile)."""

    overlay: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    stubbed: dict = field(default_factory=dict)


def _compile_problem(text: str, target: str):
    """``None`` if ``text`` compiles, else why not (any exception: a deep expression
    raises ``RecursionError`` or ``MemoryError`` in the compiler; that file fails, no more)."""
    try:
        compile(text, target, "exec", dont_inherit=True)
    except SyntaxError as e:
        return f"line {e.lineno}: {e.msg}"
    except (RecursionError, MemoryError):
        return "too deeply nested for the Python compiler"
    except Exception as e:  # ValueError (null bytes) and anything else
        return f"{type(e).__name__}: {e}"
    return None


def collect_submission(source, accepted, required=()) -> Collected:
    """The gradable files of a submission (a folder path, or a ``_Folder``/``_Zip``).

    ``accepted``: the package paths a submission may replace (taken by path, or by unique
    file name); ``required``: those a complete submission has. Never raises."""
    if not hasattr(source, "entries"):
        source = _Folder(Path(source))
    result = Collected()
    notes = result.notes
    try:
        entries = source.entries(notes)
        by_rel = {e.rel: e for e in entries}
        by_name = {}
        for entry in entries:
            by_name.setdefault(entry.rel.rsplit("/", 1)[-1], []).append(entry)
        used = set()
        for target in accepted:
            short = target.rsplit("/", 1)[-1]
            entry = by_rel.get(target)
            if entry is None:
                candidates = by_name.get(short, [])
                if len(candidates) > 1:
                    shown = ", ".join(escape_text(c.rel, 80) for c in candidates[:4])
                    notes.append(f"{len(candidates)} files named {short} ({shown}); put the one "
                                 f"to grade at {target}: none was used")
                    used.update(c.rel for c in candidates)
                    result.stubbed[target] = "was submitted more than once (none was used)"
                    continue
                entry = candidates[0] if candidates else None
            if entry is None:
                if target in required:
                    result.stubbed[target] = "was not submitted"
                continue
            used.add(entry.rel)
            shown = escape_text(entry.rel, 160)
            problem = _read_problem(source, entry, target)
            if isinstance(problem, bytes):
                result.overlay[target] = problem
                continue
            notes.append(f"{shown} {problem}: not used, the stub stays")
            result.stubbed[target] = problem
        for target in required:
            if result.stubbed.get(target) == "was not submitted":
                notes.append(f"missing {target}: the tests of its functions score 0")
        ignored = [e for e in entries if e.rel not in used]
        if ignored:
            shown = ", ".join(escape_text(e.rel, 80) + ("" if e.kind == "file" else f" ({e.kind})")
                              for e in ignored[:12])
            notes.append(f"ignored (not gradable files): {shown}"
                         + (f" ... ({len(ignored) - 12} more)" if len(ignored) > 12 else ""))
    except Exception as e:  # a grader bug must not cost the whole batch
        notes.append(f"the grader could not read this submission completely "
                     f"({type(e).__name__}: {escape_text(e, 200)})")
    finally:
        source.close()
    result.notes = [escape_text(n, 1000) for n in notes]
    return result


def _read_problem(source, entry, target):
    """The file's bytes ready for the worker (BOM removed), or what is wrong with it."""
    if entry.kind != "file":
        return "is not a regular file" + (" (a link)" if entry.kind == "link" else "")
    if entry.size > MAX_FILE_BYTES:
        return f"is larger than {MAX_FILE_BYTES // 1024} KiB"
    try:
        content = source.read(entry.rel)
    except OSError as e:
        return f"could not be read ({escape_text(getattr(e, 'strerror', None) or e, 120)})"
    if len(content) > MAX_FILE_BYTES:
        return f"is larger than {MAX_FILE_BYTES // 1024} KiB"
    if content.startswith(_BOM):
        content = content[len(_BOM):]
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as e:
        return f"is not UTF-8 text (byte {e.start})"
    problem = _compile_problem(text, target)
    if problem is not None:
        return f"did not compile ({escape_text(problem, 200)})"
    return content


# ---------------------------------------------------------------- a folder of submissions


@dataclass
class Submission:
    name: str          # results go to OUT/<name>/
    source: object     # a _Folder or a _Zip
    submitters: str = ""


_SAFE = re.compile(r"[^A-Za-z0-9._@+-]")


def _safe_name(name: str) -> str:
    name = _SAFE.sub("_", name).lstrip(".") or "submission"
    return name[:120]


def _metadata(text: str) -> dict:
    """``{submission folder: "Name <email> (sid); ..."}`` from ``submission_metadata.yml``
    (the few keys we need, read line by line: no YAML library required)."""
    found, current, people, person = {}, None, [], {}

    def flush():
        if person:
            people.append(person.copy())
            person.clear()
        if current is not None:
            found[current] = "; ".join(
                f"{p.get('name', '?')} <{p.get('email', '')}>" + (f" ({p['sid']})" if p.get("sid") else "")
                for p in people)

    for line in text.splitlines():
        if line and not line[0].isspace() and line.rstrip().endswith(":"):
            flush()
            current, people = line.rstrip()[:-1].strip().strip("'\""), []
            continue
        match = re.match(r"^\s*(-\s*)?:?(name|email|sid):\s*(.*)$", line)
        if match and current is not None:
            if match.group(1) and person:
                people.append(person.copy())
                person.clear()
            person[match.group(2)] = match.group(3).strip().strip("'\"")
    flush()
    return found


def _export_in_zip(path: Path):
    """The folder prefix of a Gradescope export inside a zip, or ``None``."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n.replace("\\", "/") for n in archive.namelist()[:MAX_ENTRIES * 50]]
            for name in names:
                if name.endswith("submission_metadata.yml") and name.count("/") <= 1:
                    prefix = name[: -len("submission_metadata.yml")]
                    meta = archive.read(name)[: 8 << 20].decode("utf-8", "replace")
                    folders = sorted({n[len(prefix):].split("/", 1)[0] for n in names
                                      if n.startswith(prefix) and "/" in n[len(prefix):]})
                    return prefix, meta, folders
    except (OSError, zipfile.BadZipFile, ValueError, KeyError):
        return None
    return None


def find_submissions(folder) -> tuple[list, list]:
    """``(submissions, skipped)`` in a SUBMISSIONS folder; ``skipped``: ``[(entry, why)]``.
    A Gradescope export (a folder or zip with ``submission_metadata.yml``), whether it is
    SUBMISSIONS itself or one of its entries, gives one submission per ``submission_*``."""
    folder = Path(folder)
    subs, skipped, names = [], [], set()

    def add(name, source, submitters=""):
        safe = _safe_name(name)
        while safe in names:
            safe += "_"
        names.add(safe)
        subs.append(Submission(safe, source, submitters))

    def metadata_of(export: Path) -> dict:
        try:
            return _metadata(_Folder(export).read("submission_metadata.yml")
                             .decode("utf-8", "replace"))
        except OSError:
            return {}

    def scan(where: Path, meta: dict, in_export: bool):
        for child in sorted(where.iterdir(), key=lambda p: p.name):
            shown = escape_text(child.relative_to(folder).as_posix(), 160)
            if in_export and child.name == "submission_metadata.yml":
                continue
            if child.name.startswith("."):
                skipped.append((shown, "hidden entry"))
            elif child.is_symlink():
                skipped.append((shown, "a link (not followed)"))
            elif child.is_dir() and not in_export and \
                    (child / "submission_metadata.yml").is_file():
                scan(child, metadata_of(child), True)
            elif child.is_dir():
                add(child.name, _Folder(child), meta.get(child.name, ""))
            elif child.is_file() and child.suffix.lower() == ".zip" and not in_export:
                if child.stat().st_size > MAX_ZIP_BYTES:
                    skipped.append((shown, f"a zip file over {MAX_ZIP_BYTES >> 20} MiB"))
                    continue
                found = _export_in_zip(child)
                if found is None:
                    add(child.stem, _Zip(child))
                    continue
                prefix, text, folders = found
                zmeta = _metadata(text)
                for sub in folders:
                    add(sub, _Zip(child, prefix + sub + "/"), zmeta.get(sub, ""))
            elif child.is_file():
                skipped.append((shown, "a loose file (a submission is a folder or a .zip file)"))
            else:
                skipped.append((shown, "not a file or folder"))

    root_export = (folder / "submission_metadata.yml").is_file()
    scan(folder, metadata_of(folder) if root_export else {}, root_export)
    return subs, skipped
