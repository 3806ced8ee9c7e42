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
pixels, no loop over pixels or classes. That is the reference tier, below; the fast tier
(``metrics/_fast.py``, chosen by ``minisegnet.backend``) counts the same codes in cache-sized
chunks. Lesson: ``lessons/01-task-and-measures.md``.
"""

from __future__ import annotations

import math

from .._checks import check_int
from ..backend import fast_tier, get_array_module
from ._common import (
    as_float,
    bincount,
    check_confusion,
    check_confusion_labels,
    check_optional_int,
    check_pair,
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

# Inputs of at least this many pixels take the fast tier (``metrics/_fast.py``: a chunked
# counter that never builds the masked copies) where it is shipped; smaller ones gain nothing.
_FAST_PIXELS = 1 << 16


def confusion_matrix(pred, target, num_classes, ignore_index=255):
    """Confusion matrix of a label map against its target: ``cm[i, j] = #{target = i, pred = j}``.

    ``cm = bincount(target · K + pred)`` over the pixels whose target is not ``ignore_index``.

    pred, target: integer arrays of one shape, any number of dims (e.g. ``(N, H, W)``).
    num_classes: ``K >= 1``. ignore_index: int or ``None``; target pixels equal to it are
    not counted (it may also be a class id, e.g. 0 for "unlabelled"). Target labels must be
    in ``[0, K)`` or ``ignore_index``; predicted labels must be in ``[0, K)``, except that
    ``pred`` may also hold ``ignore_index`` where the target is ignored (a common way to copy
    the ignore mask onto a prediction). A bad label is a ``ValueError`` naming it.
    Returns ``cm``: ``(K, K)`` int64, rows = target class, columns = predicted class, on
    the inputs' device. Lesson 01 (``lessons/01-task-and-measures.md``).
    """
    fn = "confusion_matrix"
    xp = check_pair(fn, pred, target)
    k = check_int(fn, "num_classes", num_classes, minimum=1)
    ignore_index = check_optional_int(fn, "ignore_index", ignore_index)
    pred, target = pred.reshape(-1), target.reshape(-1)
    fast = fast_tier(xp, "minisegnet.metrics._fast", cpu_only=True,
                     worthwhile=pred.size >= _FAST_PIXELS)
    if fast is not None:
        return fast.confusion_matrix(pred, target, k, ignore_index, fn)
    check_confusion_labels(fn, xp, pred, target, k, ignore_index)
    ### BEGIN SOLUTION A3
    if ignore_index is not None:
        counted = target != ignore_index
        pred, target = pred[counted], target[counted]
    target, pred = target.astype(xp.int64), pred.astype(xp.int64)  # uint8 codes would wrap
    return bincount(xp, target * k + pred, k * k).reshape(k, k)
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
