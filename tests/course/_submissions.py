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
    return {name: {rel: (v.encode() if isinstance(v, str) else v) for rel, v in files.items()}
            for name, files in subs.items()}


def write(root, subs: dict) -> None:
    for name, files in subs.items():
        folder = root / name
        folder.mkdir(parents=True)
        for rel, content in files.items():
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
