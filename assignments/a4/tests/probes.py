"""Probes of A4: how the tests call your functions.

Each probe takes the ``minisegnet.functional`` module under test as ``F`` (unused here: the
CRF and the panoptic metric live in ``minisegnet.crf`` and ``minisegnet.metrics``) plus plain
arrays and parameters, calls your functions and returns their results by name. The
autograder runs probes in a separate, sandboxed process and compares what comes back
(arrays only) with the expected values; ``pytest assignments/a4`` runs them in-process.
"""

import importlib

import numpy as np


def _crf():
    return importlib.import_module("minisegnet.crf")


def _panoptic():
    return importlib.import_module("minisegnet.metrics.panoptic")


def mean_field(F, unary, image, n_iter=5, sxy_gaussian=3.0, compat_gaussian=3.0,
               sxy_bilateral=80.0, srgb=13.0, compat_bilateral=10.0, method="exact",
               normalization="symmetric", exclude_self=False, dQ=None, all_gradients=False):
    """``mean_field_forward``, then (with ``dQ``) ``mean_field_backward``: ``Q`` and
    ``dunary``; with ``all_gradients`` ``mean_field_gradients`` instead, which adds
    ``dcompat`` = (d compat_gaussian, d compat_bilateral)."""
    crf = _crf()
    image = np.asarray(image).astype(np.uint8)
    q, cache = crf.mean_field_forward(
        unary, image, n_iter=n_iter, sxy_gaussian=sxy_gaussian, compat_gaussian=compat_gaussian,
        sxy_bilateral=sxy_bilateral, srgb=srgb, compat_bilateral=compat_bilateral,
        method=method, normalization=normalization, exclude_self=exclude_self)
    out = {"Q": q}
    if dQ is not None and all_gradients:
        grads = crf.mean_field_gradients(dQ, cache)
        out.update(dunary=grads.unary, dcompat=np.array([grads.compat_gaussian,
                                                         grads.compat_bilateral], dtype=np.float64))
    elif dQ is not None:
        out["dunary"] = crf.mean_field_backward(dQ, cache)
    return out


def exact_kernel(F, features, values, normalization="symmetric", exclude_self=False):
    """``ExactKernel(features, ...).apply(values)``: the message ``K̃ · values``, and ``K·1``;
    ``blocks``: whether the kernel was too large to keep (the block-of-rows path)."""
    exact = importlib.import_module("minisegnet.crf.exact")
    kernel = exact.ExactKernel(features, normalization, exclude_self)
    return {"message": kernel.apply(values), "row_sums": np.asarray(kernel.row_sums),
            "blocks": np.array(kernel.dense is None)}


def _nan(value):
    return -1.0 if value != value else float(value)


def panoptic(F, pred, target, things, stuffs, void_label=None, crowd=None):
    """``panoptic_quality`` and ``panoptic_segment_stats`` as arrays (NaN shown as -1)."""
    pan = _panoptic()
    if crowd is not None:
        crowd = np.asarray(crowd).astype(bool)
    things, stuffs = [int(v) for v in things], [int(v) for v in stuffs]
    stats = pan.panoptic_segment_stats(pred, target, things, stuffs, void_label, crowd)
    result = pan.panoptic_quality(pred, target, things, stuffs, void_label, crowd)
    out = {"iou_sum": np.asarray(stats["iou_sum"], dtype=np.float64),
           "counts": np.stack([np.asarray(stats[k], dtype=np.int64) for k in ("tp", "fp", "fn")])}
    rows = [result, result["things"], result["stuff"]]
    out["scores"] = np.array([[_nan(r["pq"]), _nan(r["sq"]), _nan(r["rq"])] for r in rows])
    out["n"] = np.array([int(r["n"]) for r in rows], dtype=np.int64)
    cats = sorted(result["per_class"])
    out["per_class"] = np.array([[result["per_class"][c][k] for k in ("pq", "sq", "rq")]
                                 for c in cats], dtype=np.float64)
    return out


def panoptic_meter(F, preds, targets, things, stuffs, void_label=None):
    """``PanopticMeter`` over the images one at a time: the overall (pq, sq, rq) and n."""
    pan = _panoptic()
    meter = pan.PanopticMeter([int(v) for v in things], [int(v) for v in stuffs], void_label)
    for p, t in zip(preds, targets):
        meter.update(p, t)
    result = meter.compute()
    return {"scores": np.array([_nan(result["pq"]), _nan(result["sq"]), _nan(result["rq"])]),
            "n": np.array(result["n"], dtype=np.int64)}
