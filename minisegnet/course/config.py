"""Course and assignment configuration (JSON, so the grader needs no TOML parser).

``assignments/course.json``: what the student edition leaves out (``exclude`` patterns: a
pattern with a ``/`` is anchored at the project root, one without matches any path
component), which project tests it keeps (``project_tests``: an allow list, since every
other test may exercise graded code or import an oracle), which notebooks the release
renders (``render``: glob patterns, default ``notebooks/*.ipynb``), the grader's pip
requirements and default limits.

``assignments/aN/assignment.json``: ``id``, ``title``, ``files`` (what students submit),
``extra_files`` (marked files they may leave alone), ``points`` (``public`` and ``hidden``
totals the tests' ``points`` markers must add up to), ``limits``, ``notebook``, and
``module``: the library module the probes receive (default ``minisegnet.functional``).

A lecture unit's exercises are an assignment of ``kind`` ``"notebook"`` (``assignments/uNN/``,
see ``exercises.py``): ``notebook`` is the project path of the lecture notebook (also its one
``files`` entry), ``exercises`` declares each exercise once (``id`` ``"NN.k"``, the answer's
``name`` or ``names`` in the notebook, ``kind`` ``write``/``compute``/``predict``/``open``,
``points`` of its public tests, ``hidden`` points of its hidden tests, ``hint``), and
``stage`` (optional) the code assignment whose edition's package runs the notebook in the
grader (default: the one after the last assignment the notebook needs).
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Course", "Assignment", "Exercise", "load_course", "excluded", "ConfigError",
           "DEFAULT_MODULE", "assignment_module", "assignment_kind", "EXERCISE_KINDS"]

DEFAULT_MODULE = "minisegnet.functional"
EXERCISE_KINDS = ("write", "compute", "predict", "open")
_EXERCISE_ID = re.compile(r"^\d{2}\.\d{1,2}$")


class ConfigError(ValueError):
    """A missing or inconsistent configuration file."""


@dataclass(frozen=True)
class Exercise:
    """One exercise of a lecture notebook, declared once in its unit's ``assignment.json``."""

    id: str              # "03.2"
    names: tuple         # the answer's name(s) in the notebook
    kind: str            # write, compute, predict, open
    points: int          # of its public tests (what ``check`` shows)
    hidden: int = 0      # of its hidden tests
    hint: str = ""
    title: str = ""

    @property
    def scored(self) -> bool:
        return self.kind != "open"

    def to_json(self) -> dict:
        return {"id": self.id, "names": list(self.names), "kind": self.kind,
                "points": self.points, "hidden": self.hidden, "hint": self.hint,
                "title": self.title}


@dataclass
class Assignment:
    id: str
    title: str
    folder: Path
    files: list
    extra_files: list
    points: dict
    limits: dict
    notebook: str | None
    module: str = DEFAULT_MODULE
    kind: str = "code"
    exercises: list = field(default_factory=list)
    stage: str | None = None

    @property
    def tag(self) -> str:
        return self.id.upper()

    @property
    def unit(self) -> str | None:
        """``"03"`` for a lecture unit's exercises, else ``None``."""
        return self.id[1:] if self.kind == "notebook" else None

    def exercise(self, ident: str) -> Exercise | None:
        return next((e for e in self.exercises if e.id == ident), None)


@dataclass
class Course:
    root: Path
    exclude: list
    project_tests: list
    requirements: list
    limits: dict
    assignments: dict = field(default_factory=dict)
    render: list = field(default_factory=lambda: ["notebooks/*.ipynb"])

    def code_assignments(self) -> list:
        """The assignments graded on library code (a1, a2, ...), in course order."""
        return _in_order(a for a in self.assignments.values() if a.kind == "code")

    def units(self) -> list:
        """The lecture units with exercises (u03, ...), in course order."""
        return _in_order(a for a in self.assignments.values() if a.kind == "notebook")

    def unit_of_notebook(self, rel: str) -> Assignment | None:
        return next((a for a in self.units() if a.notebook == rel), None)

    def assignment(self, name: str) -> Assignment:
        key = name.lower()
        if key not in self.assignments:
            raise ConfigError(f"unknown assignment {name!r}; this course has "
                              f"{', '.join(sorted(self.assignments)) or 'none'}")
        return self.assignments[key]


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"missing {path}") from None
    except ValueError as e:
        raise ConfigError(f"{path}: not valid JSON ({e})") from None


def load_course(root) -> Course:
    root = Path(root).resolve()
    raw = _read_json(root / "assignments" / "course.json")
    edition = raw.get("student_edition", {})
    grader = raw.get("grader", {})
    course = Course(root, list(edition.get("exclude", [])), list(edition.get("project_tests", [])),
                    list(grader.get("requirements", [])), dict(grader.get("limits", {})))
    if "render" in edition:
        course.render = list(edition["render"])
    for path in sorted((root / "assignments").glob("*/assignment.json")):
        a = _read_json(path)
        folder = path.parent
        ident = a.get("id", folder.name)
        if ident != folder.name:
            raise ConfigError(f"{path}: id {ident!r} differs from its folder name {folder.name!r}")
        for key in ("files", "points"):
            if key not in a:
                raise ConfigError(f"{path}: missing {key!r}")
        kind = a.get("kind", "code")
        if kind not in ("code", "notebook"):
            raise ConfigError(f"{path}: 'kind' must be 'code' or 'notebook', got {kind!r}")
        assignment = Assignment(
            ident, a.get("title", ident), folder, list(a["files"]), list(a.get("extra_files", [])),
            dict(a["points"]), dict(course.limits, **a.get("limits", {})), a.get("notebook"),
            _module(path, a.get("module", DEFAULT_MODULE)), kind,
            _exercises(path, a) if kind == "notebook" else [], a.get("stage"))
        if kind == "notebook":
            _check_unit(path, assignment)
        course.assignments[ident] = assignment
    return course


def _in_order(assignments) -> list:
    def key(a):
        digits = "".join(ch for ch in a.id if ch.isdigit())
        return (int(digits) if digits else 0, a.id)

    return sorted(assignments, key=key)


def _exercises(path, raw) -> list:
    found, seen = [], set()
    for number, e in enumerate(raw.get("exercises", []), 1):
        where = f"{path}: exercise {number}"
        if not isinstance(e, dict):
            raise ConfigError(f"{where}: expected an object, got {e!r}")
        ident = e.get("id")
        if not isinstance(ident, str) or not _EXERCISE_ID.match(ident) or ident in seen:
            raise ConfigError(f"{where}: 'id' must be a new \"NN.k\" string, got {ident!r}")
        seen.add(ident)
        names = e.get("names", [e["name"]] if "name" in e else [])
        if isinstance(names, str):
            names = [names]
        kind = e.get("kind")
        if kind not in EXERCISE_KINDS:
            raise ConfigError(f"{where} ({ident}): 'kind' must be one of {', '.join(EXERCISE_KINDS)}, "
                              f"got {kind!r}")
        if kind != "open" and (not names or not all(isinstance(n, str) and n.isidentifier()
                                                    for n in names)):
            raise ConfigError(f"{where} ({ident}): 'name' (or 'names') must name the answer in "
                              f"the notebook, got {names!r}")
        points, hidden = e.get("points", 0), e.get("hidden", 0)
        if not all(isinstance(v, int) and v >= 0 for v in (points, hidden)) or \
                (kind == "open") != (points == 0 and hidden == 0):
            raise ConfigError(f"{where} ({ident}): 'points' and 'hidden' are whole numbers, positive "
                              f"points for an auto-scored exercise and 0 for an open question")
        found.append(Exercise(ident, tuple(names), kind, points, hidden, str(e.get("hint", "")),
                              str(e.get("title", ""))))
    return found


def _check_unit(path, a) -> None:
    if not re.fullmatch(r"u\d{2}", a.id):
        raise ConfigError(f"{path}: a notebook unit's id is 'u' and its two-digit unit number, "
                          f"got {a.id!r}")
    if not isinstance(a.notebook, str) or a.files != [a.notebook]:
        raise ConfigError(f"{path}: a notebook unit names its lecture notebook in 'notebook' and "
                          f"as its only entry of 'files'")
    wrong = [e.id for e in a.exercises if not e.id.startswith(a.unit + ".")]
    if wrong or not a.exercises:
        raise ConfigError(f"{path}: exercise ids must start with the unit number {a.unit} "
                          f"(got {', '.join(wrong) or 'no exercises'})")
    for key, total in (("public", sum(e.points for e in a.exercises)),
                       ("hidden", sum(e.hidden for e in a.exercises))):
        if a.points.get(key, 0) != total:
            raise ConfigError(f"{path}: the exercises' {key} points add up to {total}, "
                              f"'points' says {a.points.get(key, 0)}")


def _module(path, name) -> str:
    if not isinstance(name, str) or not all(part.isidentifier() for part in name.split(".")):
        raise ConfigError(f"{path}: 'module' must be a dotted module name, got {name!r}")
    return name


def assignment_kind(folder) -> str:
    """``"code"`` or ``"notebook"``, from an ``assignment.json`` alone."""
    try:
        raw = json.loads((Path(folder) / "assignment.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "code"
    return "notebook" if raw.get("kind") == "notebook" else "code"


def assignment_module(folder) -> str:
    """The module an assignment's probes receive, from its ``assignment.json`` alone (the
    grader bundle has no ``course.json``)."""
    path = Path(folder) / "assignment.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return DEFAULT_MODULE
    return _module(path, raw.get("module", DEFAULT_MODULE))


def excluded(rel: str, patterns) -> bool:
    """Whether a project-relative POSIX path falls under one of the exclude patterns."""
    parts = rel.split("/")
    for pattern in patterns:
        if "/" in pattern:
            anchored = pattern.lstrip("/")
            if any(fnmatch.fnmatchcase("/".join(parts[:k]), anchored)
                   for k in range(1, len(parts) + 1)):
                return True
        elif any(fnmatch.fnmatchcase(part, pattern) for part in parts):
            return True
    return False
