"""ReLU and softmax. Lesson: ``lessons/02-fully-convolutional.md``."""

from __future__ import annotations

from typing import NamedTuple

from .._checks import check_array, check_cache, check_shape
from ..backend import get_array_module

__all__ = ["relu_forward", "relu_backward", "softmax"]


class _ReluCache(NamedTuple):
    kind: str
    positive: object  # boolean mask x > 0


def relu_forward(x):
    """``y = max(x, 0)``. x: any shape, float; returns ``(y, cache)``, y shaped like x."""
    check_array("relu_forward", "x", x)
    positive = x > 0
    return x * positive, _ReluCache("relu", positive)


def relu_backward(dy, cache):
    """``dx = dy · [x > 0]`` (gradient 0 at ``x = 0``, as PyTorch). dy shaped like x."""
    fn = "relu_backward"
    check_cache(fn, cache, "relu")
    check_array(fn, "dy", dy)
    check_shape(fn, "dy", dy, cache.positive.shape)
    return dy * cache.positive


def softmax(logits, axis=1):
    """``p = exp(z - max z) / Σ exp(z - max z)`` along ``axis`` (numerically stable).

    logits: any shape, float (the class axis of ``(N, K, H, W)`` scores is ``axis=1``);
    returns probabilities of the same shape and dtype, summing to 1 along ``axis``.
    Lesson: ``lessons/02-fully-convolutional.md`` (per-pixel classification).
    """
    check_array("softmax", "logits", logits)
    xp = get_array_module(logits)
    shifted = logits - logits.max(axis=axis, keepdims=True)
    e = xp.exp(shifted)
    return e / e.sum(axis=axis, keepdims=True)
