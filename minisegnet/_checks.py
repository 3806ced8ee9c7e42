"""Argument checks that raise the contract's clear errors, before any computation.

Every message names the function, the argument, what was expected and what was given,
e.g. ``conv2d_forward: x must have 4 dims (N, C, H, W), got shape (3, 32, 32)``.
"""

from __future__ import annotations

import numbers

import numpy as np

from .backend import get_array_module, is_cupy_array

FLOAT_DTYPES = (np.float32, np.float64)


def check_array(fn: str, name: str, a, ndim: int | None = None, layout: str = "", floating=True):
    """Check that ``a`` is a NumPy/CuPy array with ``ndim`` dims and (optionally) a float dtype."""
    if not (isinstance(a, np.ndarray) or is_cupy_array(a)):
        raise TypeError(f"{fn}: {name} must be a NumPy or CuPy array, got {type(a).__name__}")
    if ndim is not None and a.ndim != ndim:
        shape_text = f" {layout}" if layout else ""
        raise ValueError(
            f"{fn}: {name} must have {ndim} dims{shape_text}, got shape {tuple(a.shape)}"
        )
    if floating and a.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{fn}: {name} must be float32 or float64, got dtype {a.dtype}")
    return a


def check_same_device(fn: str, **arrays) -> None:
    """All given arrays (``None`` skipped) are NumPy arrays, or all are CuPy arrays."""
    present = {name: a for name, a in arrays.items() if a is not None}
    try:
        get_array_module(*present.values())
    except TypeError:
        kinds = ", ".join(f"{n}: {'CuPy' if is_cupy_array(a) else 'NumPy'}" for n, a in present.items())
        raise TypeError(f"{fn}: NumPy and CuPy arrays mixed ({kinds}); use one device") from None


def check_same_kind(fn: str, **arrays) -> None:
    """All given arrays on one device (NumPy or CuPy) and of one float dtype."""
    check_same_device(fn, **arrays)
    present = {name: a for name, a in arrays.items() if a is not None}
    dtypes = {a.dtype for a in present.values()}
    if len(dtypes) > 1:
        listing = ", ".join(f"{n}: {a.dtype}" for n, a in present.items())
        raise TypeError(f"{fn}: float32 and float64 arrays mixed ({listing}); use one dtype")


def is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def pair(fn: str, name: str, value, minimum: int | None = None) -> tuple[int, int]:
    """An ``int`` or ``(h, w)`` pair of ints as a pair, each at least ``minimum``."""
    if is_int(value):
        result = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(map(is_int, value)):
        result = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{fn}: {name} must be an int or a pair of ints, got {value!r}")
    if minimum is not None and min(result) < minimum:
        raise ValueError(f"{fn}: {name} must be >= {minimum}, got {value!r}")
    return result


def check_shape(fn: str, name: str, a, expected: tuple) -> None:
    """``a.shape`` equals ``expected`` exactly."""
    if tuple(a.shape) != tuple(expected):
        raise ValueError(f"{fn}: {name} must have shape {tuple(expected)}, got {tuple(a.shape)}")


def check_finite_array(fn: str, name: str, a) -> None:
    """No NaN or inf anywhere in ``a`` (NumPy or CuPy)."""
    xp = get_array_module(a)
    if not bool(xp.isfinite(a).all()):
        raise ValueError(f"{fn}: {name} must be finite, got NaN or inf values")


def check_number(fn: str, name: str, value, positive: bool = False) -> float:
    """A finite real number (not a bool), optionally ``> 0``; returned as a float."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not np.isfinite(value):
        raise TypeError(f"{fn}: {name} must be a finite real number, got {value!r}")
    if positive and not value > 0:
        raise ValueError(f"{fn}: {name} must be > 0, got {value!r}")
    return float(value)


def check_int(fn: str, name: str, value, minimum: int | None = None) -> int:
    """An ``int`` (not a bool), at least ``minimum``."""
    if not is_int(value):
        raise TypeError(f"{fn}: {name} must be an int, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{fn}: {name} must be >= {minimum}, got {value!r}")
    return int(value)


def check_cache(fn: str, cache, kind: str, forward: str | None = None) -> None:
    """``cache`` is what the matching forward returned (its ``kind`` field says which op)."""
    if getattr(cache, "kind", None) != kind:
        raise TypeError(f"{fn}: cache must be the cache returned by {forward or kind + '_forward'}")


def check_choice(fn: str, name: str, value, choices) -> None:
    """``value`` is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        listing = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{fn}: {name} must be one of {listing}, got {value!r}")
