"""What the worker may read: the Landlock read rules, and solutions it must not find.

The worker may read the system libraries and the standard library, list every package
folder (``site-packages``, ``.pth`` paths, editable checkouts), and read only the folders of
its dependencies (``DEPENDENCIES``) and package metadata there. So a ``minisegnet``
installed next to NumPy (``pip install .`` of the instructor's repository) or an editable
checkout of the solution is visible by name but unreadable. ``importable_solutions`` finds
such copies for the worker's interpreter; ``solution_exposure`` says which of them the
worker could still read on this machine (all of them without Landlock), so that ``grade``
can refuse.
"""

from __future__ import annotations

import functools
import glob
import importlib.util
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

__all__ = ["DEPENDENCIES", "SYSTEM_READ", "beneath", "import_roots", "read_rules",
           "importable_solutions", "solution_exposure"]

DEPENDENCIES = ("numpy", "scipy", "numba", "llvmlite")
SYSTEM_READ = ("/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin",
               "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
               "/proc", "/sys/devices/system/cpu", "/dev/urandom", "/dev/zero")


def _stdlib_dirs() -> set:
    return {os.path.realpath(sysconfig.get_path(k)) for k in ("stdlib", "platstdlib")
            if sysconfig.get_path(k)}


def beneath(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


@functools.cache
def import_roots() -> tuple:
    """Folders this interpreter imports from that are not the standard library: its
    ``site-packages``, anything a ``.pth`` file or this process added, and the usual system
    package folders. The worker may list these, never read them wholesale."""
    import site

    stdlib = _stdlib_dirs()
    entries = list(sys.path)
    try:
        entries += site.getsitepackages() + [site.getusersitepackages()]
    except AttributeError:
        pass
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:
        entries += glob.glob(os.path.join(prefix, "lib", "python3*", "site-packages"))
        entries += glob.glob(os.path.join(prefix, "lib64", "python3*", "site-packages"))
    for pattern in ("/usr/lib/python3*/site-packages", "/usr/lib/python3*/dist-packages",
                    "/usr/local/lib/python3*/site-packages", "/usr/local/lib/python3*/dist-packages",
                    "/usr/lib/python3/dist-packages"):
        entries += glob.glob(pattern)
    roots = set()
    for entry in entries:
        if not entry:
            continue
        real = os.path.realpath(entry)
        if not os.path.isdir(real):
            continue
        in_stdlib = any(beneath(real, s) for s in stdlib)
        if not in_stdlib or os.path.basename(real) in ("site-packages", "dist-packages"):
            roots.add(real)
    return tuple(sorted(roots))


def _dependency_dirs(roots) -> list:
    found = set()
    for name in DEPENDENCIES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.origin:
            continue
        folder = os.path.dirname(os.path.realpath(spec.origin))
        found.add(folder)
        site_dir = os.path.dirname(folder)
        found.update(os.path.realpath(p) for p in glob.glob(os.path.join(site_dir, name + ".libs")))
    for root in roots:
        try:
            entries = list(os.scandir(root))
        except OSError:
            continue
        found.update(os.path.realpath(e.path) for e in entries if e.name.endswith(".dist-info"))
    return sorted(found)


@functools.cache
def read_rules(hide: tuple = ()) -> tuple:
    """The worker's Landlock read rules: ``((path, "read" | "list"), ...)``. The system
    libraries and the standard library minus every package folder; each package folder
    may only be listed; the dependency folders (``DEPENDENCIES``) and package metadata may
    be read. A ``minisegnet`` in ``site-packages``, an editable checkout, the grader's own
    folders and ``hide`` are in none of them."""
    roots = import_roots()
    excluded = set(roots) | {os.path.realpath(h) for h in hide}
    rules = []

    def grant(path):
        real = os.path.realpath(path)
        if real in excluded or not os.path.exists(real):
            return
        below = [e for e in excluded if e.startswith(real.rstrip("/") + "/")]
        if not below or not os.path.isdir(real):
            rules.append((real, "read"))
            return
        rules.append((real, "list"))
        try:
            children = sorted(os.scandir(real), key=lambda e: e.name)
        except OSError:
            return
        for child in children:
            if child.is_symlink():
                target = os.path.realpath(child.path)
                if not any(beneath(target, e) or beneath(e, target) for e in excluded):
                    rules.append((target, "read"))
            elif child.is_dir(follow_symlinks=False):
                grant(child.path)
            elif child.path not in excluded:
                rules.append((child.path, "read"))

    for path in list(SYSTEM_READ) + sorted(_stdlib_dirs()):
        grant(path)
    rules += [(d, "read") for d in _dependency_dirs(roots)]
    rules += [(r, "list") for r in roots]
    seen, unique = set(), []
    for rule in rules:
        if rule not in seen:
            seen.add(rule)
            unique.append(rule)
    return tuple(unique)


_FIND_PACKAGES = r"""
import json, os, sys
found = []
for entry in sys.path:
    if entry and os.path.isfile(os.path.join(entry, "minisegnet", "__init__.py")):
        found.append(os.path.join(entry, "minisegnet"))
for finder in sys.meta_path:
    try:
        spec = finder.find_spec("minisegnet", None)
    except Exception:
        continue
    if spec is not None:
        found += list(spec.submodule_search_locations or [])
        if spec.origin and os.path.isfile(spec.origin):
            found.append(os.path.dirname(spec.origin))
print(json.dumps(sorted({os.path.realpath(f) for f in found})))
"""


def importable_solutions(python=None) -> list:
    """``minisegnet`` packages that ``python -I`` (the worker's interpreter) can find
    outside the grader bundle and that hold solution markers (``pip install .`` of the
    instructor's repository, an editable install, a ``.pth`` path)."""
    from .markers import is_marker_like

    try:
        done = subprocess.run([python or sys.executable, "-I", "-c", _FIND_PACKAGES], cwd="/",
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, timeout=60, env={"PATH": os.defpath})
        places = json.loads(done.stdout.decode("utf-8") or "[]")
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return []
    solutions = []
    for place in places:
        marked = False
        for count, path in enumerate(sorted(Path(place).rglob("*.py"))):
            if count > 2000 or "course" in path.relative_to(place).parts:
                continue
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if any(is_marker_like(line) for line in text.splitlines()):
                marked = True
                break
        if marked:
            solutions.append(place)
    return solutions


def solution_exposure(landlock=True, python=None) -> tuple[list, list]:
    """``(readable, hidden)``: the outside solution packages the worker could read (the
    grader must refuse to grade) and those Landlock keeps from it."""
    from ._worker import landlock_abi

    places = importable_solutions(python)
    if not landlock or landlock_abi() < 1:
        return places, []
    granted = [p for p, kind in read_rules() if kind == "read"]
    readable = [p for p in places if any(beneath(p, g) for g in granted)]
    return readable, [p for p in places if p not in readable]
