"""The confusion matrix of a segmentation, and the accuracy / IoU family read off it.

``cm[i, j]`` counts the pixels whose target class is ``i`` and predicted class is ``j``
(rows = truth, columns = prediction, as torchmetrics and scikit-learn). Everything else is
arithmetic on its diagonal, row sums (target pixels per class) and column sums (predicted
pixels per class):

* pixel accuracy ``Σ_c cm[c, c] / Σ cm``: misleading when one class covers most pixels;
* class accuracy (recall) ``cm[c, c] / Σ_j cm[c, j]`` and its mean over present classes;
* IoU ``cm[c, c] / (Σ_j cm[c, j] + Σ_i cm[i, c] - cm[c, c])``, its mean (mIoU) and the
  frequency-weighted IoU ``Σ_c (Σ_j cm[c, j] / Σ cm) · IoU_c``.

The matrix is one ``bincount`` of the pair code ``target · K + pred``: one pass over the
pixels, no loop over pixels or classes. Lesson: ``lessons/01-task-and-measures.md``.
"""

from __future__ import annotations

import math

from .._checks import check_int
from ..backend import get_array_module
from ._common import (
    as_float,
    bincount,
    check_confusion,
    check_optional_int,
    check_pair,
    equal_scalar,
    nanmean,
)

__all__ = [
    "confusion_matrix",
    "pixel_accuracy",
    "class_accuracy",
    "mean_accuracy",
    "iou",
    "mean_iou",
    "frequency_weighted_iou",
    "class_frequency",
]

# Pixels per bincount on the CPU. The pair codes of a chunk (2 MiB of int64) stay in cache
# instead of making a fresh array as big as the whole batch: the count then runs at about
# the speed of a bare ``np.bincount`` on pre-masked arrays, checks and ignore handling
# included. CuPy takes the whole array in one go (one kernel per step).
_CHUNK = 1 << 18

# Largest table (rows x (K + 1) bins) for which ignored target pixels are counted in their
# own rows (row ``ignore_index``) and thrown away afterwards, instead of being masked.
_DUMP_ROWS_LIMIT = 1 << 16


def confusion_matrix(pred, target, num_classes, ignore_index=255):
    """Confusion matrix of a label map against its target: ``cm[i, j] = #{target = i, pred = j}``.

    ``cm = bincount(target · K + pred)`` over the pixels whose target is not ``ignore_index``.

    pred, target: integer arrays of one shape, any number of dims (e.g. ``(N, H, W)``).
    num_classes: ``K >= 1``. ignore_index: int or ``None``; target pixels equal to it are
    not counted. Target labels must be in ``[0, K)`` or ``ignore_index``; predicted labels
    must be in ``[0, K)``, except that ``pred`` may also hold ``ignore_index`` where the
    target is ignored (a common way to copy the ignore mask onto a prediction).
    Returns ``cm``: ``(K, K)`` int64, rows = target class, columns = predicted class, on
    the inputs' device. Lesson 01 (``lessons/01-task-and-measures.md``).
    """
    fn = "confusion_matrix"
    xp = check_pair(fn, pred, target)
    k = check_int(fn, "num_classes", num_classes, minimum=1)
    ign = check_optional_int(fn, "ignore_index", ignore_index)
    return _confusion(xp, pred.reshape(-1), target.reshape(-1), k, ign, fn)


def _confusion(xp, pred, target, k, ign, fn):
    """``confusion_matrix`` on flat, checked arrays: chunked on the CPU, whole on the GPU.

    The labels are checked chunk by chunk just before each chunk is counted, and the
    counts are summed into a local table that is returned only when every chunk passed:
    a bad label raises and nothing is returned or kept.
    """
    ### BEGIN SOLUTION A3
    total = xp.zeros((k, k), dtype=xp.int64)
    n = pred.size
    if n == 0:
        return total
    ### END SOLUTION A3
    chunk = _CHUNK if xp.__name__ == "numpy" else n
    buf = xp.empty(min(chunk, n), dtype=xp.int64) if xp.__name__ == "numpy" else None
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        total += _count_chunk(xp, pred[start:stop], target[start:stop], k, ign, buf, fn)
    return total


def _bad_pred(fn, k, ign, value):
    also = f" (or the ignore_index {ign} where the target is ignored)" if ign is not None else ""
    return ValueError(f"{fn}: pred labels must be in [0, {k}){also}, got label {value}")


def _bad_target(fn, k, ign, value):
    also = f" or the ignore_index {ign}" if ign is not None else ""
    return ValueError(f"{fn}: target labels must be in [0, {k}){also}, got label {value}")


def _count_chunk(xp, p, t, k, ign, buf, fn):
    """The ``(K, K)`` counts of one chunk, its labels checked first."""
    ### BEGIN SOLUTION A3
    stride = k + 1  # column K: pred == ignore_index (allowed only on ignored target pixels)
    ign_is_class = ign is not None and 0 <= ign < k

    pmin, pmax = int(p.min()), int(p.max())
    if pmin < 0 or pmax >= k:  # rare: only a pred that copies the ignore mask gets here
        if ign is None or ign_is_class:
            raise _bad_pred(fn, k, ign, pmin if pmin < 0 else pmax)
        is_ign = equal_scalar(xp, p, ign)
        bad = ((p < 0) | (p >= k)) & ~is_ign
        if bool(bad.any()):
            raise _bad_pred(fn, k, ign, int(p[bad][0]))
        p = xp.where(is_ign, k, p.astype(xp.int64))

    tmin, tmax = int(t.min()), int(t.max())
    rows = k
    dump_rows = False
    if tmin < 0 or tmax >= k:
        if ign is None or ign_is_class:
            raise _bad_target(fn, k, ign, tmin if tmin < 0 else tmax)
        if tmin >= 0 and tmax <= ign and (ign + 1) * stride <= _DUMP_ROWS_LIMIT:
            # Typical case (ignore_index 255): count ignored pixels in row 255 and drop it;
            # any other row >= K that is not empty is a bad label, found in the table.
            rows, dump_rows = tmax + 1, True
        else:
            is_ign = equal_scalar(xp, t, ign)
            bad = ((t < 0) | (t >= k)) & ~is_ign
            if bool(bad.any()):
                raise _bad_target(fn, k, ign, int(t[bad][0]))
            t, rows = xp.where(is_ign, k, t.astype(xp.int64)), k + 1

    if buf is not None:  # NumPy: pair codes written into a cache-sized buffer
        key = buf[: p.size]
        xp.multiply(t, stride, out=key, dtype=xp.int64, casting="unsafe")
        xp.add(key, p, out=key, casting="unsafe")
    else:
        key = t.astype(xp.int64) * stride + p
    counts = bincount(xp, key, rows * stride).reshape(rows, stride)

    if dump_rows:
        extra = counts[k:].sum(axis=1)
        if ign < rows:
            extra[ign - k] = 0
        if bool(extra.any()):
            raise _bad_target(fn, k, ign, k + int(xp.flatnonzero(extra)[0]))
    if ign_is_class:
        counts[ign] = 0
    if bool(counts[:k, k].any()):
        raise ValueError(
            f"{fn}: pred holds the ignore_index {ign} at {int(counts[:k, k].sum())} pixels whose "
            f"target is a class in [0, {k}); a prediction must name a class there"
        )
    return counts[:k, :k]
    ### END SOLUTION A3


# --------------------------------------------------------------------------- from the matrix


def _ratio(xp, num, den):
    """``num / den`` element-wise in float64, NaN where ``den == 0`` (no warnings)."""
    num = num.astype(xp.float64)
    den = den.astype(xp.float64)
    safe = xp.where(den > 0, den, 1.0)
    return xp.where(den > 0, num / safe, xp.nan)


def pixel_accuracy(cm) -> float:
    """Fraction of counted pixels predicted right: ``Σ_c cm[c, c] / Σ_ij cm[i, j]``.

    cm: ``(K, K)`` confusion matrix (rows target). Returns a float; NaN for an empty matrix.
    Misleading under class imbalance (lesson 01, ``lessons/01-task-and-measures.md``).
    """
    cm = check_confusion("pixel_accuracy", cm)
    xp = get_array_module(cm)
    ### BEGIN SOLUTION A3
    total = as_float(cm.sum())
    return as_float(xp.trace(cm)) / total if total > 0 else math.nan
    ### END SOLUTION A3


def class_accuracy(cm):
    """Per-class accuracy (recall): ``acc_c = cm[c, c] / Σ_j cm[c, j]``.

    cm: ``(K, K)``. Returns ``(K,)`` float64 (same library as ``cm``), NaN for a class
    without target pixels. Lesson 01 (``lessons/01-task-and-measures.md``).
    """
    cm = check_confusion("class_accuracy", cm)
    xp = get_array_module(cm)
    ### BEGIN SOLUTION A3
    return _ratio(xp, xp.diagonal(cm), cm.sum(axis=1))
    ### END SOLUTION A3


def mean_accuracy(cm) -> float:
    """Mean class accuracy over the classes with at least one target pixel: ``mean_c acc_c``.

    cm: ``(K, K)``. Returns a float; NaN if no class has a target pixel.
    Lesson 01 (``lessons/01-task-and-measures.md``).
    """
    cm = check_confusion("mean_accuracy", cm)
    ### BEGIN SOLUTION A3
    return nanmean(get_array_module(cm), class_accuracy(cm))
    ### END SOLUTION A3


def iou(cm):
    """Per-class intersection over union: ``IoU_c = cm[c, c] / (Σ_j cm[c, j] + Σ_i cm[i, c] - cm[c, c])``.

    cm: ``(K, K)``. Returns ``(K,)`` float64 (same library as ``cm``), NaN for a class
    absent from both target and prediction (its IoU is 0/0, undefined, and must not count
    as 0 in a mean). Lesson 01 (``lessons/01-task-and-measures.md``).
    """
    cm = check_confusion("iou", cm)
    xp = get_array_module(cm)
    ### BEGIN SOLUTION A3
    diag = xp.diagonal(cm)
    return _ratio(xp, diag, cm.sum(axis=1) + cm.sum(axis=0) - diag)
    ### END SOLUTION A3


def mean_iou(cm) -> float:
    """Mean IoU over the classes whose IoU is defined: ``mIoU = mean_{c: IoU_c not NaN} IoU_c``.

    cm: ``(K, K)``. Returns a float; NaN if no class appears in target or prediction.
    Equals torchmetrics' ``MulticlassJaccardIndex(average="macro")``.
    Lesson 01 (``lessons/01-task-and-measures.md``).
    """
    cm = check_confusion("mean_iou", cm)
    ### BEGIN SOLUTION A3
    return nanmean(get_array_module(cm), iou(cm))
    ### END SOLUTION A3


def class_frequency(cm):
    """Share of the counted target pixels in each class: ``f_c = Σ_j cm[c, j] / Σ_ij cm[i, j]``.

    cm: ``(K, K)``. Returns ``(K,)`` float64 (same library); all NaN for an empty matrix.
    Lesson 01 (``lessons/01-task-and-measures.md``).
    """
    cm = check_confusion("class_frequency", cm)
    xp = get_array_module(cm)
    rows = cm.sum(axis=1)
    total = as_float(rows.sum())
    if total == 0:
        return xp.full(rows.shape, xp.nan, dtype=xp.float64)
    return rows.astype(xp.float64) / total


def frequency_weighted_iou(cm) -> float:
    """IoU weighted by each class's share of target pixels: ``FWIoU = Σ_c f_c · IoU_c``.

    ``f_c = Σ_j cm[c, j] / Σ cm``; classes without target pixels weigh 0 (FCN's
    ``fwavacc``). cm: ``(K, K)``. Returns a float; NaN for an empty matrix.
    Lesson 01 (``lessons/01-task-and-measures.md``).
    """
    cm = check_confusion("frequency_weighted_iou", cm)
    ### BEGIN SOLUTION A3
    freq = class_frequency(cm)
    present = cm.sum(axis=1) > 0
    if not bool(present.any()):
        return math.nan
    return as_float((freq[present] * iou(cm)[present]).sum())
    ### END SOLUTION A3
