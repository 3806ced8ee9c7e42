"""Array-module dispatch: every op takes NumPy or CuPy arrays and answers in kind.

The rule of the package (Chainer's): an op never asks a global switch which library to
use; it calls ``xp = get_array_module(*inputs)`` once and writes the rest with ``xp``.
CuPy is imported lazily, only when a CuPy array is actually seen or a GPU is asked for,
so the package imports and runs on machines without CuPy or a GPU.

Two tiers. Every op family has a *reference tier*: the readable implementation, written
with ``xp`` only, that reads like the formula in its docstring (what the lessons explain and
what students write in the assignments). Where it pays, a family also has a *fast tier* in a
private module (``functional/_fast/``, ``metrics/_fast.py``, ``crf/_meanfield_kernels.py``,
``crf/_lattice_kernels.py``): Numba kernels, chunked counters, Winograd convolution. It is
never graded and is tested against the reference tier. One setting, here, chooses:

* ``"auto"`` (default): the fast tier wherever it exists for the inputs' device and is
  faster for their size;
* ``"reference"``: the reference tier everywhere (``pytest --impl=reference``);
* ``"fast"``: the fast tier wherever it exists for the device, whatever the size (tests
  use it to compare tiers on small inputs).

Set it with ``set_impl``, for a block with ``with use_impl("reference"): ...``, or for a
whole process with the environment variable ``MINISEGNET_IMPL``. An op asks
``fast = fast_tier(xp, "minisegnet.functional._fast.pooling", ...)`` and calls ``fast`` when it
is not ``None``, its reference tier otherwise.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import os

import numpy as np

__all__ = [
    "get_array_module",
    "is_cupy_array",
    "to_numpy",
    "to_device",
    "device_of",
    "gpu_available",
    "scatter_add",
    "IMPLS",
    "get_impl",
    "set_impl",
    "use_impl",
    "fast_tier",
]

IMPLS = ("auto", "reference", "fast")


def _checked_impl(impl, where):
    if impl not in IMPLS:
        raise ValueError(f"{where}: impl must be one of {', '.join(map(repr, IMPLS))}, got {impl!r}")
    return impl


# A context variable, not a module global: ``use_impl`` blocks nest and are per thread.
_DEFAULT_IMPL = _checked_impl(os.environ.get("MINISEGNET_IMPL", "auto"), "MINISEGNET_IMPL")
_IMPL = contextvars.ContextVar("minisegnet_impl", default=_DEFAULT_IMPL)


def get_impl() -> str:
    """The current tier setting: ``"auto"``, ``"reference"`` or ``"fast"``."""
    return _IMPL.get()


def set_impl(impl: str) -> None:
    """Choose the tier from now on (in this thread or context): see the module docstring."""
    _IMPL.set(_checked_impl(impl, "set_impl"))


@contextlib.contextmanager
def use_impl(impl: str):
    """``with use_impl("reference"):`` runs the block on that tier, then restores the old one."""
    token = _IMPL.set(_checked_impl(impl, "use_impl"))
    try:
        yield
    finally:
        _IMPL.reset(token)


def fast_tier(xp, module: str, *, cpu_only: bool = False, worthwhile: bool = True):
    """The fast-tier module an op should call now, or ``None`` for its reference tier.

    xp: the inputs' array module. module: the fast tier's absolute module name, e.g.
    ``"minisegnet.functional._fast.pooling"``; it is imported on first use, so Numba loads
    only when a fast kernel is wanted, and where it is not shipped (the student edition
    leaves out the fast tier of graded functions) the answer is ``None``. ``cpu_only``: the
    fast tier is for NumPy arrays only (Numba kernels), so CuPy arrays take the reference
    tier. ``worthwhile``: the op's own judgement that the fast tier pays for inputs of this
    size; ``"auto"`` respects it, ``"fast"`` ignores it, ``"reference"`` never takes it.
    """
    impl = _IMPL.get()
    if impl == "reference" or (cpu_only and xp is not np) or (impl == "auto" and not worthwhile):
        return None
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def is_cupy_array(a) -> bool:
    """True for a ``cupy.ndarray``, decided without importing CuPy."""
    return type(a).__module__.split(".")[0] == "cupy"


def _cupy():
    import cupy  # lazy on purpose: CuPy is an optional extra

    return cupy


def get_array_module(*arrays):
    """Return ``numpy`` or ``cupy``, chosen from the arrays given (``None`` entries skipped).

    Mixing NumPy and CuPy arrays in one call is a ``TypeError``: a silent host/device copy
    would hide a slow path, so the caller must move the arrays explicitly (``to_device``).
    """
    kinds = {is_cupy_array(a) for a in arrays if a is not None and not np.isscalar(a)}
    if len(kinds) > 1:
        raise TypeError(
            "NumPy and CuPy arrays mixed in one call; move them to one device first "
            "with minisegnet.backend.to_device(a, 'cpu' | 'gpu')"
        )
    return _cupy() if kinds == {True} else np


def device_of(a) -> str:
    """``"gpu"`` for a CuPy array, ``"cpu"`` otherwise."""
    return "gpu" if is_cupy_array(a) else "cpu"


def to_numpy(a):
    """A NumPy copy (or the array itself) of a NumPy or CuPy array."""
    return a.get() if is_cupy_array(a) else np.asarray(a)


def to_device(a, device: str):
    """Move ``a`` to ``device`` (``"cpu"`` → NumPy, ``"gpu"`` → CuPy); no copy if already there."""
    if device == "cpu":
        return to_numpy(a)
    if device == "gpu":
        return a if is_cupy_array(a) else _cupy().asarray(a)
    raise ValueError(f"to_device: device must be 'cpu' or 'gpu', got {device!r}")


def gpu_available() -> bool:
    """Whether CuPy imports and sees at least one CUDA device. Never raises."""
    try:
        return _cupy().cuda.runtime.getDeviceCount() > 0
    except Exception:  # ImportError, CUDARuntimeError, driver errors: all mean "no"
        return False


def scatter_add(target, indices, values) -> None:
    """``target[indices] += values`` with repeated indices summed (``np.add.at``), in place."""
    if is_cupy_array(target):
        import cupyx

        cupyx.scatter_add(target, indices, values)
    else:
        np.add.at(target, indices, values)
