"""Boundary metrics: how well a labelling follows the true label edges.

mIoU hardly moves when a prediction gets its edges right (edge pixels are few), so the
dense CRF's effect (lesson 09) is measured near the edges:

- ``band_metrics``: pixel accuracy and mIoU counted only in a band of ``width`` pixels
  around the ground truth's label edges (the "trimap" evaluation of Kohli et al. 2009,
  used by Krähenbühl & Koltun 2011 and DeepLab to show what the dense CRF does);
- ``boundary_iou``: Cheng et al. (CVPR 2021): per class, the IoU of the *boundary regions*
  of prediction and ground truth (the pixels of each mask within ``width`` of its contour),
  accumulated over the data set and averaged over classes.

NumPy (CPU) only: the morphology is ``scipy.ndimage``'s; CuPy inputs are copied to the host.
Lessons: ``lessons/01-task-and-measures.md``, ``lessons/09-dense-crf.md``.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..backend import to_numpy
from .confusion import confusion_matrix, iou, mean_iou, pixel_accuracy

__all__ = ["label_edges", "boundary_band", "band_metrics", "boundary_iou"]


def label_edges(labels, ignore_index=255):
    """``(N, H, W)`` (or ``(H, W)``) bool: pixels with a 4-neighbour of a different label.
    Both sides of an edge are marked; an edge to an ``ignore_index`` pixel does not count."""
    labels = np.asarray(labels)
    squeeze = labels.ndim == 2
    if squeeze:
        labels = labels[None]
    edges = np.zeros(labels.shape, bool)
    valid = labels != ignore_index
    for axis in (1, 2):
        a = np.take(labels, np.arange(labels.shape[axis] - 1), axis=axis)
        b = np.take(labels, np.arange(1, labels.shape[axis]), axis=axis)
        va = np.take(valid, np.arange(labels.shape[axis] - 1), axis=axis)
        vb = np.take(valid, np.arange(1, labels.shape[axis]), axis=axis)
        diff = (a != b) & va & vb
        sl_lo = [slice(None)] * 3
        sl_hi = [slice(None)] * 3
        sl_lo[axis], sl_hi[axis] = slice(0, -1), slice(1, None)
        edges[tuple(sl_lo)] |= diff
        edges[tuple(sl_hi)] |= diff
    return edges[0] if squeeze else edges


def _square(width, ndim):
    """A ``(1, 2w+1, 2w+1)`` (or 2-D) structuring element: chessboard distance ≤ ``width``."""
    k = np.ones((2 * width + 1, 2 * width + 1), bool)
    return k if ndim == 2 else k[None]


def boundary_band(labels, width=3, ignore_index=255):
    """Bool mask of the pixels within ``width`` pixels (chessboard distance) of a label edge
    of ``labels`` — the evaluation "trimap" band. ``ignore_index`` pixels are never in it."""
    if not isinstance(width, (int, np.integer)) or width < 0:
        raise ValueError(f"boundary_band: width must be an int >= 0, got {width!r}")
    labels = np.asarray(labels)
    edges = label_edges(labels, ignore_index)
    band = ndimage.binary_dilation(edges, structure=_square(width, labels.ndim)) if width else edges
    return band & (labels != ignore_index)


def band_metrics(pred, target, num_classes, width=3, ignore_index=255):
    """Pixel accuracy, per-class IoU and mIoU counted only in ``boundary_band(target, width)``.

    pred, target: ``(N, H, W)`` integer maps. Returns a dict with ``pixel_accuracy``,
    ``mean_iou``, ``iou`` ``(K,)``, ``width`` and ``num_pixels`` (band size).
    """
    pred, target = to_numpy(pred), to_numpy(target)
    band = boundary_band(target, width, ignore_index)
    masked = np.where(band, target, ignore_index).astype(target.dtype)
    cm = confusion_matrix(pred, masked, num_classes, ignore_index)
    return {"pixel_accuracy": pixel_accuracy(cm), "mean_iou": mean_iou(cm), "iou": iou(cm),
            "width": int(width), "num_pixels": int(band.sum())}


def boundary_iou(pred, target, num_classes, width=2, ignore_index=255):
    """Boundary IoU (Cheng, Girshick, Dollár, Berg & Kirillov, CVPR 2021), per class.

    For class ``c``: ``G`` = pixels of ``c`` in the target, ``P`` = in the prediction;
    their boundary regions ``G_w = G − erode(G, w)`` and ``P_w = P − erode(P, w)`` (the mask's
    pixels within ``w`` of its contour; the image border is not a contour);
    ``IoU_c = |G_w ∩ P_w| / |G_w ∪ P_w|``, summed over the data set. Pixels whose target is
    ``ignore_index`` are left out. Returns ``{"mean": float, "iou": (K,) (NaN for a class with
    no boundary anywhere), "width": w}``.
    """
    pred, target = np.asarray(to_numpy(pred)), np.asarray(to_numpy(target))
    if pred.shape != target.shape:
        raise ValueError(f"boundary_iou: pred and target must have one shape, got {pred.shape} "
                         f"and {target.shape}")
    if pred.ndim == 2:
        pred, target = pred[None], target[None]
    valid = target != ignore_index
    structure = _square(width, 3)
    inter = np.zeros(num_classes)
    union = np.zeros(num_classes)
    for c in range(num_classes):
        g = target == c
        p = (pred == c) & valid
        g_w = g & ~ndimage.binary_erosion(g, structure=structure, border_value=1)
        p_w = p & ~ndimage.binary_erosion(pred == c, structure=structure, border_value=1)
        inter[c] = np.count_nonzero(g_w & p_w)
        union[c] = np.count_nonzero(g_w | p_w)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(union > 0, inter / np.maximum(union, 1), np.nan)
    mean = float(np.nanmean(per_class)) if np.isfinite(per_class).any() else float("nan")
    return {"mean": mean, "iou": per_class, "width": int(width)}
