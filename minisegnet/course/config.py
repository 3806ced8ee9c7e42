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
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Course", "Assignment", "load_course", "excluded", "ConfigError", "DEFAULT_MODULE",
           "assignment_module"]

DEFAULT_MODULE = "minisegnet.functional"


class ConfigError(ValueError):
    """A missing or inconsistent configuration file."""


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

    @property
    def tag(self) -> str:
        return self.id.upper()


@dataclass
class Course:
    root: Path
    exclude: list
    project_tests: list
    requirements: list
    limits: dict
    assignments: dict = field(default_factory=dict)
    render: list = field(default_factory=lambda: ["notebooks/*.ipynb"])

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
        course.assignments[ident] = Assignment(
            ident, a.get("title", ident), folder, list(a["files"]), list(a.get("extra_files", [])),
            dict(a["points"]), dict(course.limits, **a.get("limits", {})), a.get("notebook"),
            _module(path, a.get("module", DEFAULT_MODULE)))
    return course


def _module(path, name) -> str:
    if not isinstance(name, str) or not all(part.isidentifier() for part in name.split(".")):
        raise ConfigError(f"{path}: 'module' must be a dotted module name, got {name!r}")
    return name


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
