"""Lecture notebooks of the student edition: rendered on the solution, and what each needs.

Every lecture notebook ships with its outputs (figures, printed results), so a student can
read the unit complete on the first day. The release runs each notebook top to bottom in a
fresh kernel on a *solved edition*: the files the student edition ships, with every graded
region filled in (and nothing of what ``course.json`` excludes, so the fast tier of a graded
function is absent exactly as for students). In that copy the first line of each solution
region (its BEGIN marker) is replaced by a call that records the region's assignment and
function, with the line numbers unchanged; so the same run also tells which assignments'
code the notebook executes: its "needs", which the lessons index and the student README
show. Outputs of cells tagged ``exercise``, ``solution`` or ``check`` are not shipped (the
student writes those, and a check's points are the student's own).

Rendering takes minutes, so results are cached per user (``~/.cache/minisegnet/rendered``,
or ``$XDG_CACHE_HOME``), keyed by every byte the run depends on: the solved edition, the
notebook, the Python version and the versions of the packages that draw and compute.

Needs ``nbclient``, ``nbformat`` and ``ipykernel`` (the ``dev`` extra).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

from .markers import instrument_source

__all__ = ["RenderError", "render_notebooks", "merge_outputs", "user_cache_dir",
           "NO_OUTPUT_TAGS", "HITS_MARK"]

NO_OUTPUT_TAGS = ("exercise", "solution", "check")
HITS_MARK = "@@minisegnet-hits@@"
HITS_MODULE = "_course_hits"
HIT_STATEMENT = ('__import__("{package}.' + HITS_MODULE + '", fromlist=["hit"])'
                 '.hit("{{tag}}", "{{function}}")')
_VERSIONED = ("numpy", "scipy", "numba", "matplotlib", "ipykernel", "nbclient", "nbformat")
_CELL_TIMEOUT = 600


class RenderError(RuntimeError):
    """A lecture notebook does not run on the solution; the message names it and the cell."""


def user_cache_dir() -> Path:
    """The per-user cache folder of minisegnet (``$XDG_CACHE_HOME/minisegnet`` or
    ``~/.cache/minisegnet``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "minisegnet"


def _solved_tree(source: Path, shipped, course, tree: Path) -> None:
    """The shipped files with every region filled in and its BEGIN line a hit call."""
    tags = {a.tag for a in course.assignments.values()}
    packages = set()
    for rel in shipped:
        target = tree / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        data = (source / rel).read_bytes()
        if rel.endswith(".py") and rel.count("/") >= 1:
            text = data.decode("utf-8")
            package = rel.split("/")[0]
            instrumented = instrument_source(text, rel, tags,
                                             HIT_STATEMENT.format(package=package))
            if instrumented != text:
                packages.add(package)
                data = instrumented.encode("utf-8")
        target.write_bytes(data)
    for package in sorted(packages):
        (tree / package / f"{HITS_MODULE}.py").write_text(
            '"""Written by the release: which solution regions ran (never shipped)."""\n'
            "HITS = set()\n\n\n"
            "def hit(tag, function):\n"
            "    HITS.add((tag, function))\n", encoding="utf-8")


def _digest_tree(tree: Path, packages) -> str:
    """What every notebook's run depends on, besides the notebook itself: the library (not
    its course machinery, which notebooks never run), the notebooks' folder and versions."""
    h = hashlib.sha256()
    for path in sorted(tree.rglob("*")):
        rel = path.relative_to(tree).parts
        if (path.is_file() and "__pycache__" not in rel and path.suffix not in (".md", ".ipynb")
                and (rel[0] in packages and rel[1:2] != ("course",) or rel[0] == "notebooks")):
            h.update(path.relative_to(tree).as_posix().encode() + b"\0")
            h.update(hashlib.sha256(path.read_bytes()).digest())
    h.update(sys.version.encode())
    for name in _VERSIONED:
        try:
            h.update(f"{name}={metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{name}=-".encode())
    return h.hexdigest()


def _final_cell(package: str) -> str:
    return (f"import sys as _msn_sys, json as _msn_json\n"
            f"_msn_hits = _msn_sys.modules.get('{package}.{HITS_MODULE}')\n"
            f"_msn_pkg = _msn_sys.modules.get('{package}')\n"
            f"print('{HITS_MARK}' + _msn_json.dumps({{'hits': sorted(_msn_hits.HITS) if _msn_hits "
            f"else [], 'file': getattr(_msn_pkg, '__file__', None)}}))\n")


def _scrub(node, tree: str):
    """Outputs without the temporary folder's path (and never the instructor's paths)."""
    if isinstance(node, str):
        return node.replace(tree + os.sep, "").replace(tree, ".")
    if isinstance(node, list):
        return [_scrub(v, tree) for v in node]
    if isinstance(node, dict):
        return {k: _scrub(v, tree) for k, v in node.items()}
    return node


def _run_one(tree: Path, rel: str, env: dict, package: str, log=print) -> dict:
    import nbclient
    import nbformat
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.reads((tree / rel).read_text(encoding="utf-8"), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(_final_cell(package)))
    client = nbclient.NotebookClient(nb, timeout=_CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str((tree / rel).parent)}})
    started = time.monotonic()
    try:
        client.execute(env=env, stderr=subprocess.DEVNULL)   # the kernel's own chatter
    except CellExecutionError as e:
        text = str(e)
        raise RenderError(f"{rel} does not run on the solution:\n{text[-3000:]}") from None
    except Exception as e:  # a kernel that died or timed out
        raise RenderError(f"{rel}: the kernel failed ({type(e).__name__}: {e})") from None
    last = nb.cells.pop()
    printed = "".join(o.get("text", "") for o in last.get("outputs", []))
    if HITS_MARK not in printed:
        raise RenderError(f"{rel}: could not read which solution regions ran:\n{printed[-2000:]}")
    report = json.loads(printed.split(HITS_MARK, 1)[1].strip().splitlines()[0])
    where = report.get("file")
    if where is not None and not Path(where).resolve().is_relative_to(tree.resolve()):
        raise RenderError(f"{rel}: the kernel imported {package} from {where}, not from the "
                          f"solved edition (is something on PYTHONPATH?)")
    hits = sorted({tuple(h) for h in report["hits"]})
    body = _scrub(json.loads(json.dumps(nb)), str(tree))
    for cell in body["cells"]:
        cell.get("metadata", {}).pop("execution", None)
    log(f"release: rendered {rel} in {time.monotonic() - started:.0f} s")
    return {"notebook": json.dumps(body, indent=1, ensure_ascii=False) + "\n",
            "needs": sorted({tag for tag, _ in hits}, key=_tag_key),
            "functions": [f"{tag}:{function}" for tag, function in hits]}


def _tag_key(tag: str):
    digits = "".join(ch for ch in tag if ch.isdigit())
    return (int(digits) if digits else 0, tag)


def _kernel_env(tree: Path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "MINISEGNET_", "JPY_"))}
    env.update(PYTHONPATH=str(tree), PYTHONHASHSEED="0",
               NUMBA_CACHE_DIR=str(tree.parent / "numba-cache"),
               PYDEVD_DISABLE_FILE_VALIDATION="1",
               # check() cells are not rendered into the edition, and the release has already
               # run every exercise's tests on the solution: a live check would execute each
               # unit's notebook a second time inside the kernel
               MINISEGNET_CHECK="off")
    env.pop("PYTHONSTARTUP", None)
    return env


def render_notebooks(source, shipped, notebooks, course, *, cache=True, jobs=None, log=print):
    """Run ``notebooks`` (project-relative paths) on the solved edition of ``shipped``.

    Returns ``{rel: {"notebook": json text with outputs, "needs": ["A1", ...],
    "functions": ["A1:im2col", ...]}}``; raises ``RenderError`` when one does not run.
    """
    try:
        import nbclient  # noqa: F401
        import nbformat  # noqa: F401
    except ImportError as e:
        raise RenderError(f"rendering the lecture notebooks needs {e.name}: python -m pip "
                          f"install -e '.[dev]' (or release with --no-render)") from None
    source = Path(source)
    work = Path(tempfile.mkdtemp(prefix="msn-render-"))
    try:
        tree = work / "edition"
        _solved_tree(source, shipped, course, tree)
        base = _digest_tree(tree, {"minisegnet"})
        folder = user_cache_dir() / "rendered"
        results, todo = {}, []
        for rel in notebooks:
            notebook = hashlib.sha256((tree / rel).read_bytes()).hexdigest()
            key = hashlib.sha256(f"{base}|{rel}|{notebook}".encode()).hexdigest()[:40]
            path = folder / f"{key}.json"
            if cache and path.is_file():
                try:
                    results[rel] = json.loads(path.read_text(encoding="utf-8"))
                    continue
                except ValueError:
                    pass
            todo.append((rel, path))
        if todo:
            log(f"release: running {len(todo)} notebook(s) (cached: {len(results)})")
        env = _kernel_env(tree)
        package = "minisegnet"
        workers = jobs or max(1, min(2, os.cpu_count() or 1))

        def one(item):
            rel, path = item
            result = _run_one(tree, rel, env, package, log)
            if cache:
                folder.mkdir(parents=True, exist_ok=True)
                partial = path.with_suffix(f".{os.getpid()}.partial")
                partial.write_text(json.dumps(result), encoding="utf-8")
                os.replace(partial, path)
            return rel, result

        with ThreadPoolExecutor(max_workers=workers) as pool:
            for rel, result in pool.map(one, todo):
                results[rel] = result
        return {rel: results[rel] for rel in notebooks}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def merge_outputs(stripped_text: str, rendered_text: str) -> str:
    """The edition's notebook (``stripped_text``: solution cells stubbed, no outputs) with
    the rendered outputs of every code cell that is not tagged exercise or solution."""
    nb = json.loads(stripped_text)
    rendered = json.loads(rendered_text)
    cells, done = nb.get("cells", []), rendered.get("cells", [])
    if len(cells) != len(done):
        raise RenderError("the rendered notebook has a different number of cells")
    for cell, ran in zip(cells, done):
        if cell.get("cell_type") != "code":
            continue
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & set(NO_OUTPUT_TAGS):
            cell["outputs"], cell["execution_count"] = [], None
        else:
            cell["outputs"] = copy.deepcopy(ran.get("outputs", []))
            cell["execution_count"] = ran.get("execution_count")
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
