"""Evaluation: predictions over a data set, region metrics, boundary metrics, CRF refinement.

Region metrics (pixel accuracy, per-class IoU, mIoU) come from ``minisegnet.metrics``'
``SegmentationMeter``. Boundary metrics live here, because mIoU hardly moves when a
prediction gets its edges right (edge pixels are few):

- ``band_metrics``: pixel accuracy and mIoU counted only in a band of ``width`` pixels
  around the ground truth's label edges (the "trimap" evaluation of Kohli et al. 2009,
  used by Krähenbühl & Koltun 2011 and DeepLab to show what the dense CRF does);
- ``boundary_iou``: Cheng et al. (CVPR 2021): per class, the IoU of the *boundary regions*
  of prediction and ground truth (the pixels of each mask within ``width`` of its contour),
  accumulated over the data set and averaged over classes.

``crf_refine`` runs the dense CRF (``minisegnet.crf``) on every image's softmax output.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..backend import get_array_module, to_numpy
from ..functional import softmax_cross_entropy_forward

__all__ = [
    "predict_probabilities",
    "softmax",
    "evaluate_predictions",
    "evaluate",
    "label_edges",
    "boundary_band",
    "band_metrics",
    "boundary_iou",
    "crf_refine",
    "DEMO_CRF_PARAMS",
]

# Dense-CRF parameters of the demo, chosen by `benchmarks/bench_demo.py --crf-grid` on 40
# held-out images of the *train* split (indices 10000+, never trained on; never the
# validation images the demo reports): the best boundary-band accuracy among the settings
# that do not lower mIoU, out of sxy_bilateral 8-80, srgb 5-40, compat_bilateral 5-20,
# sxy_gaussian 1 or 3. Close to pydensecrf's defaults (80, 13, 10): the synthetic images have
# clean colour edges, so a wide, colour-sharp appearance kernel pays.
DEMO_CRF_PARAMS = dict(n_iter=5, sxy_gaussian=1.0, compat_gaussian=3.0, sxy_bilateral=80.0,
                       srgb=10.0, compat_bilateral=10.0)


def softmax(logits, axis=1):
    """Numerically stable softmax over ``axis`` (the class axis of ``(N, K, H, W)``)."""
    xp = get_array_module(logits)
    z = logits - logits.max(axis=axis, keepdims=True)
    e = xp.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def predict_probabilities(model, dataset, batch_size=32, device="cpu", with_loss=False):
    """Softmax outputs ``(N, K, H, W)`` float32 (NumPy) of ``model`` in eval mode over every
    image of ``dataset``, in order. With ``with_loss=True`` returns ``(probs, mean loss)``.
    The model's train/eval mode is restored afterwards."""
    was_training = model.training
    model.eval()
    out, losses, counts = [], [], []
    try:
        for x, y in dataset.batches(batch_size, device=device):
            logits = model.forward(x)
            if with_loss:
                loss, _ = softmax_cross_entropy_forward(logits, y, ignore_index=dataset.ignore_index)
                losses.append(float(loss))
                counts.append(int((to_numpy(y) != dataset.ignore_index).sum()))
            out.append(to_numpy(softmax(logits)).astype(np.float32))
    finally:
        model.train(was_training)
    probs = np.concatenate(out)
    if with_loss:
        return probs, float(np.dot(losses, counts) / max(1, sum(counts)))
    return probs


def evaluate_predictions(pred, dataset, band_width=3, boundary_width=2):
    """Every metric of label maps ``pred`` ``(N, H, W)`` against ``dataset.labels``.

    Returns the ``SegmentationMeter.compute()`` dict plus ``band`` (``band_metrics``) and
    ``boundary_iou`` (``boundary_iou``'s dict).
    """
    from ..metrics import SegmentationMeter  # noqa: PLC0415

    meter = SegmentationMeter(dataset.num_classes, ignore_index=dataset.ignore_index,
                              class_names=list(dataset.class_names))
    meter.update(pred, dataset.labels)
    results = meter.compute()
    results["meter"] = meter
    results["band"] = band_metrics(pred, dataset.labels, dataset.num_classes, band_width,
                                   dataset.ignore_index)
    results["boundary_iou"] = boundary_iou(pred, dataset.labels, dataset.num_classes,
                                           boundary_width, dataset.ignore_index)
    return results


def evaluate(model, dataset, batch_size=32, device="cpu", band_width=3, boundary_width=2):
    """``evaluate_predictions`` of ``model``'s arg-max predictions; the dict also holds
    ``probabilities`` ``(N, K, H, W)`` and ``pred`` ``(N, H, W)``."""
    probs = predict_probabilities(model, dataset, batch_size, device)
    pred = probs.argmax(axis=1).astype(np.uint8)
    results = evaluate_predictions(pred, dataset, band_width, boundary_width)
    results["probabilities"], results["pred"] = probs, pred
    return results


# ---------------------------------------------------------------- boundary metrics


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
    from ..metrics import confusion_matrix, iou, mean_iou, pixel_accuracy  # noqa: PLC0415

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


# ---------------------------------------------------------------- dense CRF


def crf_refine(probabilities, images, progress=False, **params):
    """Dense-CRF refinement of softmax outputs, image by image.

    probabilities: ``(N, K, H, W)``; images: ``(N, H, W, 3)`` ``uint8`` (the same images).
    ``params``: ``minisegnet.crf.mean_field_forward``'s (``n_iter``, ``sxy_gaussian``, ...;
    default ``DEMO_CRF_PARAMS``). Unary energies are ``-log p``
    (``crf.unary_from_probabilities``). Returns the marginals ``Q`` ``(N, K, H, W)`` float32.
    """
    from ..crf import mean_field_forward, unary_from_probabilities  # noqa: PLC0415

    params = {**DEMO_CRF_PARAMS, **params}
    probabilities = np.asarray(probabilities)
    images = np.asarray(images)
    if probabilities.ndim != 4 or images.shape != (probabilities.shape[0], *probabilities.shape[2:], 3):
        raise ValueError(f"crf_refine: probabilities (N, K, H, W) and images (N, H, W, 3) must "
                         f"agree, got {probabilities.shape} and {images.shape}")
    out = np.empty(probabilities.shape, np.float32)
    iterator = range(len(images))
    if progress:
        from tqdm.auto import tqdm  # noqa: PLC0415

        iterator = tqdm(iterator, desc="dense CRF", unit="img", leave=False)
    for i in iterator:
        unary = unary_from_probabilities(probabilities[i].astype(np.float32))
        q, _ = mean_field_forward(unary, np.ascontiguousarray(images[i]), save_history=False,
                                  **params)
        out[i] = to_numpy(q)
    return out
