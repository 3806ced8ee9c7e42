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


def outside(xp, a, k: int):
    """``(a < 0) | (a >= k)`` element-wise for an integer array and ``k >= 1``, without
    comparing against a bound the dtype cannot hold (``uint8 >= 300`` is all False)."""
    info = np.iinfo(a.dtype)
    out = a >= k if k <= info.max else xp.zeros(a.shape, dtype=bool)
    return out | (a < 0) if info.min < 0 else out


def within(a, k: int) -> bool:
    """Whether every entry of the integer array ``a`` is in ``[0, k)`` (True when empty)."""
    return a.size == 0 or (int(a.min()) >= 0 and int(a.max()) < k)


def check_confusion_labels(fn: str, xp, pred, target, k: int, ignore_index) -> None:
    """The label rules of ``confusion_matrix`` on flat ``pred``, ``target``; raises or returns.

    Target labels must be in ``[0, K)`` or ``ignore_index``; predicted labels in ``[0, K)``,
    or ``ignore_index`` where the target is ignored. The error is decided here, for both
    tiers, so that it never depends on how the pixels were split: a bad target label
    first (the first in flat order), then a bad predicted label (likewise), then a
    prediction of ``ignore_index`` on counted pixels. (Two reductions per array when every
    label is in ``[0, K)``; masks only otherwise.)
    """
    if within(target, k) and within(pred, k):
        return
    ignored = (equal_scalar(xp, target, ignore_index) if ignore_index is not None
               else xp.zeros(target.shape, dtype=bool))
    bad = outside(xp, target, k) & ~ignored
    if bool(bad.any()):
        also = f" or the ignore_index {ignore_index}" if ignore_index is not None else ""
        raise ValueError(f"{fn}: target labels must be in [0, {k}){also}, got label "
                         f"{int(target[bad][0])}")
    if within(pred, k):
        return
    out = outside(xp, pred, k)
    names_ignore = (equal_scalar(xp, pred, ignore_index) if ignore_index is not None
                    else xp.zeros(pred.shape, dtype=bool))
    bad = out & ~names_ignore
    if bool(bad.any()):
        also = (f" (or the ignore_index {ignore_index} where the target is ignored)"
                if ignore_index is not None else "")
        raise ValueError(f"{fn}: pred labels must be in [0, {k}){also}, got label "
                         f"{int(pred[bad][0])}")
    on_counted = int((out & ~ignored).sum())
    if on_counted:
        raise ValueError(
            f"{fn}: pred holds the ignore_index {ignore_index} at {on_counted} pixels whose "
            f"target is a class in [0, {k}); a prediction must name a class there")
