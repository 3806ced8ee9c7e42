"""What the convolution family shares (``conv.py``, ``deform.py`` and the fast tier,
``_fast/conv.py``): the GEMM layout, a bias helper and the convolution cache.

A batch ``(N, C, H, W)`` is convolved as one matrix product when its channels are the rows
and every pixel of the batch a column: ``(C, N·H·W)``. These helpers move arrays in and out
of that layout. Lesson: ``lessons/03-conv-as-matrix.md``.
"""

from __future__ import annotations

from typing import NamedTuple

from ..backend import get_array_module


class ConvCache(NamedTuple):
    """What ``conv2d_backward`` / ``conv_transpose2d_backward`` need; opaque to users."""

    kind: str            # "conv2d" or "conv_transpose2d": which backward may read it
    saved: object        # reference tier: conv2d's im2col columns (K, N·L), or the transposed
    #                      conv's x₂ (C_in, N·H·W); fast tier: whatever its backward needs
    w: object
    has_bias: bool
    x_shape: tuple
    y_shape: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    fast: object = None  # the fast-tier module that ran the forward (its backward runs too)


def to_gemm(a):
    """(N, C, H, W) → (C, N·H·W): channels as rows, every pixel of the batch as a column."""
    n, c, h, w = a.shape
    return a.transpose(1, 0, 2, 3).reshape(c, n * h * w)


def from_gemm(m, n, size):
    """(C, N·H·W) → (N, C, H, W), contiguous."""
    xp = get_array_module(m)
    return xp.ascontiguousarray(m.reshape(m.shape[0], n, *size).transpose(1, 0, 2, 3))


def weight_gradient(left, right, shape):
    """``dw₂ = left @ rightᵀ``, reshaped to ``shape``.

    Computed as ``(right @ leftᵀ)ᵀ``: the same numbers, but OpenBLAS runs the tall product
    (``K × N·L`` times ``N·L × C``) about 1.3× faster than the wide one on these shapes.
    """
    xp = get_array_module(left)
    return xp.ascontiguousarray((right @ left.T).T).reshape(shape)


def add_bias(y, b):
    """``y += b`` on the channel axis (in place; nothing when b is None); returns y."""
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y
