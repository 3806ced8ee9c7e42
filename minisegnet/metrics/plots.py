"""Figures of the metrics: a row-normalised confusion matrix and per-class IoU bars.

matplotlib is imported inside the functions, so ``minisegnet.metrics`` imports without it
and a headless caller (tests, the grader) can pick the Agg backend first. Each function draws
into ``ax`` if given, else into a new figure, and returns ``(fig, ax)``.
Lesson: ``lessons/01-task-and-measures.md``.
"""

from __future__ import annotations

import numpy as np

from ..backend import to_numpy
from ._common import check_confusion

__all__ = ["plot_confusion_matrix", "plot_class_iou"]


def _axes(ax, size):
    import matplotlib.pyplot as plt  # lazy on purpose

    if ax is None:
        fig, ax = plt.subplots(figsize=size)
    else:
        fig = ax.figure
    return fig, ax


def normalize_confusion(cm, normalize="true"):
    """``cm`` as fractions: ``"true"`` divides each row by its sum (per-class recall on the
    diagonal), ``"pred"`` each column, ``"all"`` by the total, ``None`` leaves counts.

    cm: ``(K, K)``. Returns a ``(K, K)`` float64 NumPy array; empty rows/columns give 0.
    """
    cm = to_numpy(check_confusion("normalize_confusion", cm)).astype(np.float64)
    if normalize is None or normalize == "none":
        return cm
    if normalize == "true":
        den = cm.sum(axis=1, keepdims=True)
    elif normalize == "pred":
        den = cm.sum(axis=0, keepdims=True)
    elif normalize == "all":
        den = np.full((1, 1), cm.sum())
    else:
        raise ValueError(
            f"normalize_confusion: normalize must be 'true', 'pred', 'all' or None, got {normalize!r}"
        )
    return np.divide(cm, den, out=np.zeros_like(cm), where=den > 0)


def plot_confusion_matrix(cm, class_names=None, normalize="true", ax=None, annotate=None):
    """Image of the (row-normalised) confusion matrix, truth on the y axis.

    cm: ``(K, K)`` (rows target, columns prediction), NumPy or CuPy. normalize: as
    ``normalize_confusion``. annotate: write the values in the cells (default when
    ``K <= 12``). Returns ``(fig, ax)``. Lesson 01 (``lessons/01-task-and-measures.md``).
    """
    values = normalize_confusion(cm, normalize)
    k = values.shape[0]
    names = list(class_names) if class_names is not None else [str(c) for c in range(k)]
    if len(names) != k:
        raise ValueError(f"plot_confusion_matrix: class_names must have {k} entries, got {len(names)}")
    fig, ax = _axes(ax, (1.5 + 0.45 * k, 1.0 + 0.4 * k))
    normalized = normalize not in (None, "none")
    image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=1.0 if normalized else None)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(k), names, rotation=60, ha="right")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("target class")
    title = {"true": "confusion matrix (rows sum to 1)", "pred": "confusion matrix (columns sum to 1)",
             "all": "confusion matrix (fractions of all pixels)"}
    ax.set_title(title.get(normalize, "confusion matrix (pixel counts)"))
    if annotate if annotate is not None else k <= 12:
        top = values.max() if values.size else 0.0
        for i in range(k):
            for j in range(k):
                text = f"{values[i, j]:.2f}" if normalized else f"{int(values[i, j])}"
                ax.text(j, i, text, ha="center", va="center", fontsize=8,
                        color="white" if values[i, j] > 0.5 * top else "black")
    return fig, ax


def plot_class_iou(iou, class_names=None, ax=None, mean=True):
    """Bar chart of per-class IoU; an undefined (NaN) class shows an empty slot marked ``n/a``.

    iou: ``(K,)`` (e.g. ``metrics.iou(cm)``), NumPy or CuPy. mean: draw the mIoU (over
    defined classes) as a dashed line. Returns ``(fig, ax)``.
    Lesson 01 (``lessons/01-task-and-measures.md``).
    """
    values = np.asarray(to_numpy(iou), dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"plot_class_iou: iou must have 1 dim (K,), got shape {values.shape}")
    k = values.shape[0]
    names = list(class_names) if class_names is not None else [str(c) for c in range(k)]
    if len(names) != k:
        raise ValueError(f"plot_class_iou: class_names must have {k} entries, got {len(names)}")
    fig, ax = _axes(ax, (1.5 + 0.4 * k, 3.5))
    defined = ~np.isnan(values)
    ax.bar(np.arange(k), np.where(defined, values, 0.0), color="tab:blue")
    for c in np.flatnonzero(~defined):
        ax.text(c, 0.02, "n/a", ha="center", va="bottom", fontsize=8, rotation=90)
    if mean and defined.any():
        m = float(values[defined].mean())
        ax.axhline(m, color="tab:red", linestyle="--", label=f"mIoU {m:.3f}")
        ax.legend(loc="upper right")
    ax.set_xticks(range(k), names, rotation=60, ha="right")
    ax.set_ylim(0.0, 1.0)
    ax.set_ylabel("IoU")
    ax.set_title("per-class IoU")
    return fig, ax
