"""Evaluation: a model's predictions over a data set, and every metric of them.

Region metrics (pixel accuracy, per-class IoU, mIoU) come from ``minisegnet.metrics``'
``SegmentationMeter``, boundary metrics from ``minisegnet.metrics.boundary``; refinement by
the dense CRF is ``minisegnet.crf.crf_refine`` (the demo chains them).
"""

from __future__ import annotations

import numpy as np

from ..backend import to_numpy
from ..functional import softmax, softmax_cross_entropy_forward
from ..metrics import SegmentationMeter, band_metrics, boundary_iou

__all__ = ["predict_probabilities", "evaluate_predictions", "evaluate"]


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
