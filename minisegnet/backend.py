"""Array-module dispatch: every op takes NumPy or CuPy arrays and answers in kind.

The rule of the package (Chainer's): an op never asks a global switch which library to
use; it calls ``xp = get_array_module(*inputs)`` once and writes the rest with ``xp``.
CuPy is imported lazily, only when a CuPy array is actually seen or a GPU is asked for,
so the package imports and runs on machines without CuPy or a GPU.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "get_array_module",
    "is_cupy_array",
    "to_numpy",
    "to_device",
    "device_of",
    "gpu_available",
    "scatter_add",
]


def is_cupy_array(a) -> bool:
    """True for a ``cupy.ndarray``, decided without importing CuPy."""
    return type(a).__module__.split(".")[0] == "cupy"


def _cupy():
    import cupy  # noqa: PLC0415  (lazy on purpose: CuPy is an optional extra)

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
        import cupyx  # noqa: PLC0415

        cupyx.scatter_add(target, indices, values)
    else:
        np.add.at(target, indices, values)
