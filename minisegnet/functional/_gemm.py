"""The GEMM layout shared by the convolution family (``conv.py``, ``deform.py``).

A batch ``(N, C, H, W)`` is convolved as one matrix product when its channels are the rows
and every pixel of the batch a column: ``(C, N·H·W)``. These helpers move arrays in and out
of that layout and add a bias. Lesson: ``lessons/03-conv-as-matrix.md``.
"""

from __future__ import annotations

from ..backend import get_array_module


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
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y
