"""Per-pixel softmax cross-entropy with an ignore label and class weights.

Lesson: ``lessons/02-fully-convolutional.md`` (a segmentation net is a classifier per pixel).
"""

from __future__ import annotations

from typing import NamedTuple

from .._checks import check_array, check_cache, check_same_device, check_same_kind, check_shape
from ..backend import get_array_module

__all__ = ["softmax_cross_entropy_forward", "softmax_cross_entropy_backward"]


class _CrossEntropyCache(NamedTuple):
    kind: str
    probabilities: object   # (N, K, H, W) softmax of the logits
    target_flat: object     # (M,) flat indices of (n, target, h, w) for the counted pixels
    pixel_weight: object    # (M,) weight of the target class / total weight
    valid_flat: object      # (M,) flat pixel indices (n·H·W + h·W + w) of the counted pixels


def _check(fn, logits, target, ignore_index, weight):
    check_array(fn, "logits", logits, 4, "(N, K, H, W)")
    check_array(fn, "target", target, 3, "(N, H, W)", floating=False)
    check_same_device(fn, logits=logits, target=target, weight=weight)
    if target.dtype.kind not in "iu":
        raise TypeError(f"{fn}: target must hold integer class labels, got dtype {target.dtype}")
    n, k, h, w = logits.shape
    check_shape(fn, "target", target, (n, h, w))
    if weight is not None:
        check_array(fn, "weight", weight, 1, "(K,)")
        check_shape(fn, "weight", weight, (k,))
        check_same_kind(fn, logits=logits, weight=weight)
    if not bool(get_array_module(logits).isfinite(logits).all()):
        raise ValueError(f"{fn}: logits contain NaN or inf")
    counted = target != ignore_index
    bad = counted & ((target < 0) | (target >= k))
    if bool(bad.any()):
        example = int(target[bad].ravel()[0])
        raise ValueError(f"{fn}: target labels must be in [0, {k}) or the ignore_index "
                         f"{ignore_index}, got label {example}")
    return counted


def softmax_cross_entropy_forward(logits, target, ignore_index=255, weight=None):
    """Mean per-pixel cross-entropy, as ``torch.nn.functional.cross_entropy(reduction="mean")``.

    ``loss = Σ_i w[t_i] · (-log softmax(z_i)[t_i]) / Σ_i w[t_i]`` over pixels ``i`` whose label
    ``t_i`` is not ``ignore_index`` (``w = 1`` without ``weight``). The log-softmax subtracts
    each pixel's max logit first, so logits of magnitude 1e4 stay finite. If every pixel is
    ignored the loss is 0 and the gradient zero (PyTorch returns NaN there).

    logits: (N, K, H, W) float; target: (N, H, W) int; weight: (K,) or None.
    Returns ``(loss, cache)``, loss a 0-d array of logits' dtype.
    """
    fn = "softmax_cross_entropy_forward"
    counted = _check(fn, logits, target, ignore_index, weight)
    xp = get_array_module(logits)
    n, k, h, w = logits.shape
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = xp.exp(shifted)
    total = exp.sum(axis=1, keepdims=True)
    probabilities = exp / total
    valid_flat = xp.nonzero(counted.reshape(-1))[0]
    labels = target.reshape(-1)[valid_flat].astype(xp.int64)
    image, pixel = valid_flat // (h * w), valid_flat % (h * w)
    target_flat = (image * k + labels) * (h * w) + pixel
    log_prob = shifted.reshape(-1)[target_flat] - xp.log(total.reshape(-1)[valid_flat])
    class_weight = xp.ones(labels.shape, dtype=logits.dtype) if weight is None else weight[labels]
    weight_sum = class_weight.sum()
    denominator = weight_sum if valid_flat.size and float(weight_sum) != 0 else 1
    pixel_weight = class_weight / denominator
    loss = 0.0 - (pixel_weight * log_prob).sum()  # 0.0 - x: an empty sum gives 0, not -0
    cache = _CrossEntropyCache("cross_entropy", probabilities, target_flat, pixel_weight, valid_flat)
    return xp.asarray(loss, dtype=logits.dtype), cache


def softmax_cross_entropy_backward(dloss, cache):
    """Gradient of ``softmax_cross_entropy_forward``.

    ``dz_i = dloss · w[t_i] / Σw · (softmax(z_i) - onehot(t_i))`` for counted pixels, 0 for
    ignored ones. dloss: a scalar (or 0-d array); returns dlogits: (N, K, H, W).
    """
    fn = "softmax_cross_entropy_backward"
    check_cache(fn, cache, "cross_entropy", "softmax_cross_entropy_forward")
    xp = get_array_module(cache.probabilities)
    if getattr(dloss, "ndim", 0) != 0:
        raise ValueError(f"{fn}: dloss must be a scalar, got shape {tuple(dloss.shape)}")
    probabilities = cache.probabilities
    n, k, h, w = probabilities.shape
    scale = xp.zeros(n * h * w, dtype=probabilities.dtype)
    scale[cache.valid_flat] = cache.pixel_weight
    scale = scale.reshape(n, 1, h, w) * float(dloss)
    dlogits = probabilities * scale
    dlogits.reshape(-1)[cache.target_flat] -= cache.pixel_weight * float(dloss)
    return dlogits
