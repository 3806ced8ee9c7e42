"""Streaming evaluation over a whole data set: add confusion matrices batch by batch.

The confusion matrix is a sum over pixels, so the matrix of a data set is the sum of the
matrices of its batches; every metric is computed once, from the total, at the end. (Averaging
per-batch mIoUs instead gives a different, batch-size dependent number.) Lesson:
``lessons/01-task-and-measures.md``.
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import check_int
from ..backend import to_numpy
from ._common import check_optional_int
from .confusion import (
    class_accuracy,
    class_frequency,
    confusion_matrix,
    frequency_weighted_iou,
    iou,
    mean_accuracy,
    mean_iou,
    pixel_accuracy,
)

__all__ = ["SegmentationMeter", "format_class_table"]


class SegmentationMeter:
    """Accumulates the confusion matrix of a data set; metrics on demand.

    ``meter = SegmentationMeter(K, ignore_index=255)``; ``meter.update(pred, target)`` per
    batch (integer label maps of one shape, any leading dims, NumPy or CuPy);
    ``meter.compute()`` for the metrics of everything seen; ``meter.reset()`` to start
    again. The running ``(K, K)`` int64 matrix lives on the host (NumPy): a batch's matrix
    is counted on the batch's device and copied over (``K²`` numbers), so batches from the
    CPU and the GPU can be mixed and the results print and plot directly.
    Lesson 01 (``lessons/01-task-and-measures.md``).
    """

    def __init__(self, num_classes, ignore_index=255, class_names=None):
        fn = "SegmentationMeter"
        self.num_classes = check_int(fn, "num_classes", num_classes, minimum=1)
        self.ignore_index = check_optional_int(fn, "ignore_index", ignore_index)
        self.class_names = _check_names(fn, class_names, self.num_classes)
        self.reset()

    def reset(self) -> None:
        """Forget everything seen: the matrix back to zeros."""
        self._cm = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)
        self.num_updates = 0

    def update(self, pred, target) -> None:
        """Add one batch: ``cm += confusion_matrix(pred, target, K, ignore_index)``.

        pred, target: integer label maps of one shape (e.g. ``(N, H, W)``). A bad batch
        raises (see ``confusion_matrix``) and leaves the meter as it was.
        """
        batch = confusion_matrix(pred, target, self.num_classes, self.ignore_index)
        self._cm += to_numpy(batch)
        self.num_updates += 1

    @property
    def confusion_matrix(self):
        """A copy of the running ``(K, K)`` int64 matrix (rows target, columns prediction)."""
        return self._cm.copy()

    def compute(self) -> dict:
        """The metrics of everything seen since the last reset.

        Returns a dict: ``confusion_matrix`` ``(K, K)`` int64; ``pixel_accuracy``,
        ``mean_accuracy``, ``mean_iou``, ``frequency_weighted_iou`` floats; per class,
        ``(K,)`` float64: ``class_accuracy``, ``iou`` (NaN where undefined, see
        ``confusion.iou``), ``class_frequency`` (share of target pixels); ``num_pixels``
        (counted pixels, int). All NumPy. Before any pixel is counted the scalars are NaN.
        """
        cm = self._cm.copy()
        return {
            "confusion_matrix": cm,
            "pixel_accuracy": pixel_accuracy(cm),
            "mean_accuracy": mean_accuracy(cm),
            "iou": iou(cm),
            "mean_iou": mean_iou(cm),
            "frequency_weighted_iou": frequency_weighted_iou(cm),
            "class_accuracy": class_accuracy(cm),
            "class_frequency": class_frequency(cm),
            "num_pixels": int(cm.sum()),
        }

    def table(self, class_names=None, digits: int = 1) -> str:
        """A printable per-class table (pixels %, accuracy %, IoU %) and the summary lines.

        class_names: ``K`` strings (default: the meter's, else the class ids).
        """
        names = _check_names("SegmentationMeter.table", class_names, self.num_classes)
        return format_class_table(self.compute(), names or self.class_names, digits)

    def plot_confusion_matrix(self, class_names=None, normalize="true", ax=None):
        """``plots.plot_confusion_matrix`` of the running matrix; returns ``(fig, ax)``."""
        from .plots import plot_confusion_matrix  # matplotlib is lazy

        return plot_confusion_matrix(self._cm, class_names or self.class_names, normalize, ax)

    def plot_iou(self, class_names=None, ax=None):
        """``plots.plot_class_iou`` of the current per-class IoU; returns ``(fig, ax)``."""
        from .plots import plot_class_iou

        return plot_class_iou(iou(self._cm), class_names or self.class_names, ax)

    def __repr__(self) -> str:
        return (
            f"SegmentationMeter(num_classes={self.num_classes}, ignore_index={self.ignore_index}, "
            f"updates={self.num_updates}, pixels={int(self._cm.sum())})"
        )


def _check_names(fn, names, k):
    if names is None:
        return None
    names = list(names)
    if len(names) != k or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{fn}: class_names must be {k} strings, got {names!r}")
    return names


def _pct(value: float, digits: int) -> str:
    return "-" if math.isnan(value) else f"{100 * value:.{digits}f}"


def format_class_table(results: dict, class_names=None, digits: int = 1) -> str:
    """Per-class rows (id, name, pixels %, accuracy %, IoU %) then the summary metrics.

    results: a ``SegmentationMeter.compute()`` dict. ``-`` marks an undefined value (a class
    absent from the target has no accuracy; absent from both, no IoU).
    """
    k = len(results["iou"])
    names = class_names or [str(c) for c in range(k)]
    rows = [("id", "class", "pixels %", "acc %", "IoU %")]
    freq = to_numpy(results["class_frequency"])
    acc = to_numpy(results["class_accuracy"])
    ious = to_numpy(results["iou"])
    for c in range(k):
        rows.append((str(c), names[c], _pct(float(freq[c]), digits), _pct(float(acc[c]), digits),
                     _pct(float(ious[c]), digits)))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]

    def line(r):
        return "  ".join(v.ljust(w) if i == 1 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths)))

    out = [line(rows[0]), "  ".join("-" * w for w in widths)] + [line(r) for r in rows[1:]]
    out.append("")
    for key, label in (("pixel_accuracy", "pixel accuracy"), ("mean_accuracy", "mean accuracy"),
                       ("mean_iou", "mean IoU"), ("frequency_weighted_iou", "freq. weighted IoU")):
        out.append(f"{label + ':':<20} {_pct(results[key], digits)}")
    out.append(f"{'pixels counted:':<20} {results['num_pixels']}")
    return "\n".join(out)
