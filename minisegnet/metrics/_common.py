"""Argument checks shared by the metrics (on top of ``minisegnet._checks``).

Every message names the function, the argument, what was expected and what was given.
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import check_array, check_int, check_same_device
from ..backend import get_array_module, to_numpy


def check_optional_int(fn: str, name: str, value) -> int | None:
    """``None`` or an integer."""
    return None if value is None else check_int(fn, name, value)


def check_label_array(fn: str, name: str, a):
    """A NumPy/CuPy array of integer labels (``bool`` and floats are a ``TypeError``)."""
    check_array(fn, name, a, floating=False)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{fn}: {name} must hold integer labels, got dtype {a.dtype}")
    return a


def check_pair(fn: str, pred, target, pred_name: str = "pred", target_name: str = "target"):
    """Two integer label arrays of one shape, on one device; returns ``xp``."""
    check_label_array(fn, pred_name, pred)
    check_label_array(fn, target_name, target)
    check_same_device(fn, **{pred_name: pred, target_name: target})
    if tuple(pred.shape) != tuple(target.shape):
        raise ValueError(
            f"{fn}: {pred_name} and {target_name} must have the same shape, got "
            f"{pred_name} {tuple(pred.shape)} and {target_name} {tuple(target.shape)}"
        )
    return get_array_module(pred, target)


def check_confusion(fn: str, cm):
    """A square ``(K, K)`` array of non-negative counts (integers or floats); returns it."""
    check_array(fn, "cm", cm, 2, "(K, K)", floating=False)
    if cm.dtype.kind not in "iuf":
        raise TypeError(f"{fn}: cm must hold counts (integers or floats), got dtype {cm.dtype}")
    if cm.shape[0] != cm.shape[1] or cm.shape[0] < 1:
        raise ValueError(f"{fn}: cm must be square (K, K) with K >= 1, got shape {tuple(cm.shape)}")
    xp = get_array_module(cm)
    if cm.dtype.kind == "f" and not bool(xp.isfinite(cm).all()):
        raise ValueError(f"{fn}: cm contains NaN or inf")
    if cm.dtype.kind != "u" and cm.size and bool((cm < 0).any()):
        raise ValueError(f"{fn}: cm must hold non-negative counts, got a negative entry")
    return cm


def as_float(x) -> float:
    """A NumPy/CuPy scalar or 0-d array as a Python ``float`` (copies from the GPU)."""
    return float(to_numpy(x))


def nanmean(xp, values) -> float:
    """Mean over the non-NaN entries as a Python float; NaN (no warning) when there are none."""
    keep = ~xp.isnan(values)
    count = int(keep.sum())
    if count == 0:
        return math.nan
    return as_float(values[keep].sum()) / count


def clamped_index(xp, labels, top):
    """``labels`` as ``intp`` indices with negative labels and labels above ``top`` set to ``top``.

    Negative labels are read as unsigned (so they are huge) and clamped with everything above
    ``top``: one ``minimum`` instead of two comparisons and a ``where``.
    """
    if labels.dtype.kind == "i":
        labels = labels.view(labels.dtype.str.replace("i", "u"))
    if top < np.iinfo(labels.dtype).max:
        labels = xp.minimum(labels, top)
    return labels.astype(xp.intp)



def bincount(xp, x, minlength: int, weights=None):
    """``xp.bincount(x, weights, minlength)`` that also takes an empty ``x`` on CuPy.

    (``cupy.bincount`` sizes its output from ``x.max()``, which an empty array has not.)
    """
    if x.size == 0:
        return xp.zeros(minlength, dtype=xp.float64 if weights is not None else xp.int64)
    return xp.bincount(x, weights=weights, minlength=minlength)


def equal_scalar(xp, a, value: int):
    """``a == value`` element-wise; all False when ``value`` does not fit ``a``'s integer dtype
    (so ``uint8 == -1`` neither wraps around nor raises, on NumPy or CuPy)."""
    info = np.iinfo(a.dtype)
    if not info.min <= value <= info.max:
        return xp.zeros(a.shape, dtype=bool)
    return a == value
