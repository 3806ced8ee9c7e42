"""ReLU. Lesson: ``lessons/02-fully-convolutional.md``."""

from __future__ import annotations

from typing import NamedTuple

from .._checks import check_array, check_shape

__all__ = ["relu_forward", "relu_backward"]


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
    if getattr(cache, "kind", None) != "relu":
        raise TypeError(f"{fn}: cache must be the cache returned by relu_forward")
    check_array(fn, "dy", dy)
    check_shape(fn, "dy", dy, cache.positive.shape)
    return dy * cache.positive
