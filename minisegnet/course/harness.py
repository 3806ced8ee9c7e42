"""What assignment tests are written against: the ``student``, ``expected``, ``check`` and
``data`` fixtures, and the comparison that decides a test.

A test never imports ``minisegnet``. It builds inputs with ``data`` (the same bits on every
machine), and asks for a *probe* by name: a small function of ``assignments/aN/tests/
probes.py`` that calls the library, e.g. runs ``conv2d_forward`` and then
``conv2d_backward`` and returns ``{"y": ..., "dx": ..., "dw": ...}``. The same test then runs
in three settings:

* plain ``pytest assignments/aN`` (``assignments/conftest.py``): the probe runs in the
  pytest process on the student's own code (a normal traceback to debug with); expected
  values are the recording shipped with the student edition;
* the isolated runner (``minisegnet check``/``grade``, ``plugin.py``): the probe runs in the
  confined worker and only plain arrays come back; expected values come from the trusted
  side: the recording for public tests, the reference solution (live, in the trusted
  process) for hidden ones;
* release: in the solution edition, expected values are computed live and recorded.

``check(probe, **inputs)`` runs the probe on both sides and compares every output: same
names, same dtype, same shape, then the values (exactly for integers, ``allclose`` for
floats), and fails with a message that says where and, with ``hint=``, what usually causes
it.

A lecture unit's exercises (an assignment of kind ``"notebook"``, ``exercises.py``) use the
same fixtures: their probes receive the notebook's namespace (``Answers``: ``ns["name"]``)
instead of a library module. The student's namespace is the answer ``check(id, answer)``
was given (in the notebook), the executed notebook (``pytest assignments/uNN``, in this
process; the grader, in the confined worker); the reference is the instructor's notebook,
executed here (trusted), or its recording: public expected values ship with the edition,
hidden ones only in the grader bundle. ``check(..., secret=True)`` records a salted digest
instead of the value (an answer to a compute or predict question must not be readable from
the shipped recording) and says only whether the student's value is the right one.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from .config import assignment_kind, assignment_module
from .data import Data
from .errors import GraderError, StudentFailure
from .npzio import read_npz, write_npz

__all__ = ["student", "expected", "check", "data", "compare", "compare_secret", "configure",
           "test_key", "State", "RECORDING_NAME", "secret_digest"]

RECORDING_NAME = "expected"      # tests/public/expected.json + expected.npz
_STATE = None
_PLAIN = {}


# ---------------------------------------------------------------- arguments


def _encode_param(name, value):
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, (tuple, list)):
        return [_encode_param(name, v) for v in value]
    raise TypeError(f"probe argument {name!r}: {type(value).__name__} is neither an array nor "
                    f"a plain parameter")


def _decode_param(value):
    if isinstance(value, list):
        return tuple(_decode_param(v) for v in value)
    return value


def split_arguments(kwargs):
    """``(arrays, params)``: NumPy arrays travel as ``.npz``, the rest as JSON."""
    arrays, params = {}, {}
    for name, value in kwargs.items():
        if isinstance(value, np.ndarray):
            arrays[name] = np.asarray(value, order="C")
        else:
            params[name] = _encode_param(name, value)
    return arrays, params


def digest(probe, arrays, params) -> str:
    h = hashlib.sha256(json.dumps({"probe": probe, "params": params}, sort_keys=True).encode())
    for name in sorted(arrays):
        a = arrays[name]
        h.update(f"|{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def load_probes(path):
    path = Path(path)
    name = f"_msn_probes_{hashlib.sha1(str(path).encode()).hexdigest()[:10]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[name] = module
    return module


def _plain(value):
    if hasattr(value, "get") and type(value).__module__.split(".")[0] == "cupy":
        value = value.get()
    return np.asarray(value)


def secret_digest(key, name, value) -> np.ndarray:
    """A salted SHA-256 of an answer, as 32 ``uint8``: integers (and floats with integral
    values) of any dtype give the same digest, so ``112``, ``112.0`` and ``np.int32(112)``
    agree."""
    a = np.asarray(value)
    if a.dtype.kind in "biu" or (a.dtype.kind == "f" and np.all(np.isfinite(a))
                                 and np.all(a == np.round(a))):
        a = a.astype(np.int64)
    h = hashlib.sha256(f"{key}|{name}|{a.dtype.str}|{a.shape}|".encode())
    h.update(np.ascontiguousarray(a).tobytes())
    return np.frombuffer(h.digest(), dtype=np.uint8).copy()


def run_in_process(probes, functional, probe, arrays, params):
    """Call a probe here, on copies of the inputs; outputs as plain NumPy arrays."""
    kwargs = {k: _decode_param(v) for k, v in params.items()}
    kwargs.update({k: np.array(v, copy=True) for k, v in arrays.items()})
    result = getattr(probes, probe)(functional, **kwargs)
    return {str(k): _plain(v) for k, v in result.items() if v is not None}


# ---------------------------------------------------------------- the session state


def _is_solution_edition(module) -> bool:
    """Whether the package a module comes from still holds solution markers."""
    from .markers import is_marker_like

    top = importlib.import_module(module.__name__.split(".")[0])
    package = Path(top.__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        if "course" in path.relative_to(package).parts:
            continue
        try:
            if any(is_marker_like(line) for line in path.read_text(encoding="utf-8").splitlines()):
                return True
        except (OSError, UnicodeDecodeError):
            continue
    return False


class Recording:
    """Expected values recorded at release (``expected.json/.npz``): the public tests' (and,
    in a notebook unit's grader bundle, the hidden tests' from ``tests/hidden``)."""

    def __init__(self, *json_paths):
        self.calls, self.arrays = {}, {}
        for number, json_path in enumerate(Path(p) for p in json_paths):
            index = json.loads(json_path.read_text(encoding="utf-8"))
            arrays = read_npz(json_path.with_suffix(".npz"), max_bytes=1 << 30,
                              max_arrays=1 << 20)
            prefix = f"{number}:" if number else ""
            for key, entries in index["calls"].items():
                self.calls[key] = [dict(e, outputs={n: prefix + ref for n, ref in
                                                    e["outputs"].items()}) for e in entries]
            self.arrays.update({prefix + ref: value for ref, value in arrays.items()})

    def get(self, key, number, probe, arrays, params):
        calls = self.calls.get(key)
        if calls is None:
            return None
        if number >= len(calls):
            raise GraderError(f"{key}: no recorded expected value for call {number + 1} (the test "
                              f"makes more calls than when it was recorded: was it edited?)")
        entry = calls[number]
        if entry["probe"] != probe or entry["digest"] != digest(probe, arrays, params):
            raise GraderError(f"{key}: the inputs of call {number + 1} ({probe}) differ from the "
                              f"ones recorded at release (was this public test edited?)")
        return {name: self.arrays[ref] for name, ref in entry["outputs"].items()}


class Recorder:
    def __init__(self):
        self.calls = {}

    def add(self, key, probe, arrays, params, outputs):
        self.calls.setdefault(key, []).append((probe, digest(probe, arrays, params), outputs))

    def write(self, json_path, kind="public"):
        json_path = Path(json_path)
        index, arrays, counter = {}, {}, 0
        for key in sorted(k for k in self.calls if k.startswith(kind + "/")):
            entries = []
            for probe, dig, outputs in self.calls[key]:
                refs = {}
                for name in sorted(outputs):
                    ref = f"c{counter}.{name}"
                    arrays[ref] = outputs[name]
                    refs[name] = ref
                counter += 1
                entries.append({"probe": probe, "digest": dig, "outputs": refs})
            index[key] = entries
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps({"version": 1, "calls": index}, indent=1, sort_keys=True)
                             + "\n", encoding="utf-8")
        write_npz(json_path.with_suffix(".npz"), arrays)


class State:
    """How this pytest session runs probes and where expected values come from.

    ``worker``: a ``sandbox.Worker`` (isolated mode) or ``None`` (the student's code runs
    here). ``recording``: path of ``expected.json`` to replay, ``record``: path to record to,
    ``live``: whether the in-process ``minisegnet`` may serve as the reference.
    """

    def __init__(self, assignment_dir, worker=None, recording=None, record=None, live=None,
                 time_s=10.0, module=None, answers=None, live_root=None):
        self.assignment_dir = Path(assignment_dir).resolve()
        self.kind = assignment_kind(self.assignment_dir)
        self.module = module or assignment_module(self.assignment_dir)
        self.tests_dir = self.assignment_dir / "tests"
        self.probes = load_probes(self.tests_dir / "probes.py")
        self.worker = worker
        recordings = [p for p in (recording, self.tests_dir / "hidden" / f"{RECORDING_NAME}.json")
                      if p and Path(p).is_file()] if recording else []
        self.recording = Recording(*recordings) if recordings else None
        self.recorder = Recorder() if record else None
        self.record_path = record
        self.live = live
        self.time_s = float(time_s)
        self.outputs = {}      # test key -> what the student's code printed
        self._functional = None
        self._answers = answers          # notebook units: the student's namespace, if given
        # notebook units: the project whose notebook is the reference (the instructor's)
        self.live_root = Path(live_root) if live_root else self.assignment_dir.parents[1]
        self._reference = None

    def notebook_path(self, root) -> Path:
        raw = json.loads((self.assignment_dir / "assignment.json").read_text(encoding="utf-8"))
        return Path(root) / raw["notebook"]

    def functional(self):
        """What the student's side of a probe receives, in this process: the library module
        (assignments), or the answers namespace (notebook units: the one given, else the
        project's notebook executed here)."""
        if self._functional is None:
            if self.kind == "notebook":
                from ._worker import Answers
                from .exercises import run_notebook

                if self._answers is None:
                    self._answers, _ = run_notebook(self.notebook_path(self.live_root))
                self._functional = Answers(self._answers)
            else:
                self._functional = importlib.import_module(self.module)
        return self._functional

    def reference(self):
        """What the trusted side of a probe receives: the solution's module, or the answers
        of the instructor's notebook executed here."""
        if self.kind != "notebook":
            return self.functional()
        if self._reference is None:
            from ._worker import Answers
            from .exercises import reference_namespace

            self._reference = Answers(reference_namespace(self.notebook_path(self.live_root)))
        return self._reference

    def live_allowed(self) -> bool:
        if self.live is None:
            if self.kind == "notebook":
                from .exercises import is_solution_notebook

                self.live = is_solution_notebook(self.notebook_path(self.live_root))
            else:
                self.live = _is_solution_edition(self.functional())
        elif self.live and self.kind == "notebook":
            from .exercises import is_solution_notebook

            self.live = is_solution_notebook(self.notebook_path(self.live_root))
        return self.live

    def finish(self):
        if self.recorder is not None:
            self.recorder.write(self.record_path)
            if self.kind == "notebook":    # the grader bundle replays the hidden ones too
                self.recorder.write(Path(self.record_path).with_name(
                    f"{RECORDING_NAME}-hidden.json"), kind="hidden")
        if self.worker is not None:
            self.worker.close()


def configure(state):
    global _STATE
    _STATE = state


def _state_for(request) -> State:
    """The configured state (isolated runner), or one per assignment folder (plain pytest)."""
    if _STATE is not None:
        return _STATE
    path = Path(str(request.node.path)).resolve()
    for parent in path.parents:
        if (parent / "assignment.json").is_file():
            if parent not in _PLAIN:
                recording = parent / "tests" / "public" / f"{RECORDING_NAME}.json"
                _PLAIN[parent] = State(parent, recording=recording)
            return _PLAIN[parent]
    raise GraderError(f"{path} is not inside an assignment folder (no assignment.json)")


def test_key(node, state) -> str:
    """``public/test_x.py::test_name[param]``: the id used by manifests and recordings."""
    path = Path(str(node.path)).resolve()
    return f"{path.relative_to(state.tests_dir).as_posix()}::{node.name}"


test_key.__test__ = False  # not a test, despite the name


# ---------------------------------------------------------------- handles


class Student:
    """``student.run(probe, **inputs) -> {name: array}`` on the submission."""

    def __init__(self, state, key, time_s=None):
        self.state, self.key = state, key
        self.budget = state.time_s if time_s is None else float(time_s)

    def run(self, probe, **kwargs):
        arrays, params = split_arguments(kwargs)
        worker = self.state.worker
        if worker is None:
            if self.state.kind == "notebook":
                return _answered(self.state, probe, arrays, params)
            return run_in_process(self.state.probes, self.state.functional(), probe, arrays, params)
        if self.budget <= 0:
            raise StudentFailure("Time limit exceeded (no time left for this test).",
                                 category="timeout")
        mark = worker.output_mark()
        try:
            outputs, seconds = worker.call(probe, arrays, params, self.budget)
            self.budget -= seconds
            return outputs
        finally:
            printed = worker.output_since(mark)
            if printed:
                self.state.outputs[self.key] = self.state.outputs.get(self.key, "") + printed


def _answered(state, probe, arrays, params):
    """A probe on a notebook's answers, here: an answer that is missing or a stub is a
    ``not answered`` failure, not an error of the test."""
    from ._worker import Unanswered

    try:
        return run_in_process(state.probes, state.functional(), probe, arrays, params)
    except Unanswered as e:
        raise StudentFailure(f"Not answered yet: {e}.", category="not answered") from None
    except NotImplementedError as e:
        raise StudentFailure(f"Not answered yet: {e or 'the function raises NotImplementedError'}.",
                             category="not answered") from None


class Expected:
    """``expected.run(probe, **inputs) -> {name: array}`` from the trusted side."""

    def __init__(self, state, key):
        self.state, self.key = state, key
        self.calls = 0

    def run(self, probe, secret=False, **kwargs):
        arrays, params = split_arguments(kwargs)
        number, self.calls = self.calls, self.calls + 1
        state = self.state
        if state.recording is not None:
            found = state.recording.get(self.key, number, probe, arrays, params)
            if found is not None:
                return found
        if not state.live_allowed():
            what = "notebook" if state.kind == "notebook" else "minisegnet package"
            raise GraderError(
                f"{self.key}: no recorded expected values for this test, and the {what} here is "
                f"not the solution edition (hidden tests run only in the grader)")
        outputs = run_in_process(state.probes, state.reference(), probe, arrays, params)
        if secret:
            outputs = {name: secret_digest(self.key, name, value) for name, value in outputs.items()}
        if state.recorder is not None and (self.key.startswith("public/") or state.kind == "notebook"):
            state.recorder.add(self.key, probe, arrays, params, outputs)
        return outputs


# ---------------------------------------------------------------- comparison


def _tolerances(dtype, rtol, atol):
    if dtype == np.float32 or dtype == np.complex64:
        return (1e-4 if rtol is None else rtol), (1e-5 if atol is None else atol)
    return (1e-7 if rtol is None else rtol), (1e-9 if atol is None else atol)


def _shown(value) -> str:
    value = value.item() if hasattr(value, "item") else value
    return f"{value:.6g}" if isinstance(value, float) else repr(value)


def hint_text(hint, got: dict, want: dict) -> str:
    """The hints that apply to this failure, one ``Hint:`` line each.

    ``hint`` is a string (always shown), or a list of strings and ``(condition, text)`` pairs
    whose text is shown only when ``condition(got, want)`` is true: a hint that names a cause
    ("rows and columns swapped") fires only when the student's arrays show that cause. A
    condition that raises (say, on an array of the wrong shape) does not fire.
    """
    if not hint:
        return ""
    texts = []
    for entry in [hint] if isinstance(hint, str) else hint:
        if isinstance(entry, str):
            texts.append(entry)
            continue
        condition, text = entry
        try:
            fired = bool(condition(got, want))
        except Exception:  # a student's array may break any condition
            fired = False
        if fired:
            texts.append(text)
    return "".join(f"\nHint: {text}" for text in texts)


def compare_secret(got: dict, want: dict, key: str, what: str = "", hint=None, labels=None):
    """Fail unless every answer in ``got`` has the digest recorded in ``want``; the message
    shows the student's value, never the expected one (``labels[value]`` for a multiple
    choice whose probe returns the position of the option)."""
    _fail(_secret_difference(got, want, key, labels), got, want, what, hint)


def compare(got: dict, want: dict, what: str = "", hint=None, rtol=None, atol=None):
    """Fail (``AssertionError``) unless ``got`` matches ``want`` name by name; ``hint``: a
    string or conditional hints (``hint_text``)."""
    _fail(_difference(got, want, rtol, atol), got, want, what, hint)


def _fail(difference, got, want, what, hint):
    """Raise the first difference, with the hints that apply (evaluated only on failure)."""
    if difference is not None:
        prefix = f"{what}: " if what else ""
        raise AssertionError(f"{prefix}{difference}{hint_text(hint, got, want)}")


def _secret_difference(got, want, key, labels) -> str | None:
    for name in sorted(want):
        if name not in got:
            return f"no answer {name!r} (got {sorted(got)})"
        g = got[name]
        if type(g) is not np.ndarray:
            return f"{name!r} is a {type(g).__name__}, not a number"
        if not np.array_equal(secret_digest(key, name, g), want[name]):
            shown = _shown(g) if g.ndim == 0 else np.array2string(g, threshold=20)
            if labels is not None and g.ndim == 0 and g.dtype.kind in "iu" and 0 <= g < len(labels):
                shown = repr(labels[int(g)])
            return f"{name!r}: {shown} is not the right answer"
    return None


def _difference(got, want, rtol, atol) -> str | None:
    """The first way ``got`` differs from ``want`` (names, type, dtype, shape, values)."""
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    if missing:
        return f"no output {missing[0]!r} (got {sorted(got)})"
    if extra:
        return f"unexpected output {extra[0]!r}: it should be None or absent"
    for name in sorted(want):
        g, w = got[name], want[name]
        if type(g) is not np.ndarray:
            return f"{name!r} is a {type(g).__name__}, not an array"
        if g.dtype != w.dtype:
            return f"{name!r} has dtype {g.dtype}, expected {w.dtype} (keep the input's dtype)"
        if g.shape != w.shape:
            return f"{name!r} has shape {g.shape}, expected {w.shape}"
        if w.dtype.kind in "biu":
            bad = np.argwhere(g != w)
            if bad.size:
                index = tuple(int(i) for i in bad[0])
                return (f"{name!r} differs at {len(bad)} of {w.size} positions; first at "
                        f"{index}: got {_shown(g[index])}, expected {_shown(w[index])}")
            continue
        r, a = _tolerances(w.dtype, rtol, atol)
        scale = max(1.0, float(np.max(np.abs(w))) if w.size else 1.0)
        if not np.all(np.isfinite(g) == np.isfinite(w)):
            return (f"{name!r} has NaN or inf where the expected value is finite (or the other "
                    f"way round)")
        finite = np.isfinite(w)
        close = np.isclose(g, w, rtol=r, atol=a * scale, equal_nan=True) | (~finite & (g == w))
        if not np.all(close):
            bad = np.argwhere(~close)
            index = tuple(int(i) for i in bad[0])
            err = float(np.max(np.abs(np.where(finite, g - w, 0))))
            return (f"{name!r} differs at {len(bad)} of {w.size} positions (largest error "
                    f"{err:.3g}); first at {index}: got {_shown(g[index])}, expected "
                    f"{_shown(w[index])}")
    return None


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def student(request):
    """Runs probes on the submission: ``student.run("conv2d", x=x, w=w)``."""
    state = _state_for(request)
    marker = request.node.get_closest_marker("time_limit")
    return Student(state, test_key(request.node, state), marker.args[0] if marker else None)


@pytest.fixture
def expected(request):
    """Runs probes on the trusted side (recorded or reference values)."""
    state = _state_for(request)
    return Expected(state, test_key(request.node, state))


@pytest.fixture
def check(student, expected):
    """``check(probe, hint=..., rtol=..., atol=..., secret=False, **inputs)``: compare student
    and expected; returns the student's outputs for further checks. ``secret``: compare
    digests (the expected value is never recorded or shown)."""

    def run(probe, hint=None, rtol=None, atol=None, secret=False, **kwargs):
        want = expected.run(probe, secret=secret, **kwargs)
        got = student.run(probe, **kwargs)
        if secret:
            options = kwargs.get("options")    # a multiple choice: show the option, not its index
            compare_secret(got, want, expected.key, probe, hint,
                           labels=options if isinstance(options, (str, list, tuple)) else None)
        else:
            compare(got, want, probe, hint, rtol, atol)
        return got

    return run


@pytest.fixture
def data():
    """Deterministic inputs: ``data.uniform(shape, seed)``, ``integers``, ``distinct``, ``choice``."""
    return Data


def register_markers(config):
    config.addinivalue_line("markers", "points(n): the points a graded assignment test is worth")
    config.addinivalue_line("markers", "time_limit(seconds): this test's wall-clock budget for "
                                       "the student's code (default: the assignment's time_s)")
    config.addinivalue_line("markers", "exercise(id): the notebook exercise (\"03.1\") a test of "
                                       "a lecture unit grades")
