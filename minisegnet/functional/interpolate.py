"""Bilinear interpolation as two small matrix products.

Bilinear upsampling is linear and *separable*: each output row mixes two input rows, each
output column two input columns. With one interpolation matrix per axis
(``A_h``: ``(H_out, H)``, ``A_w``: ``(W_out, W)``, two non-zeros per row),

    ``y[n, c] = A_h · x[n, c] · A_wᵀ``   and so   ``dx[n, c] = A_hᵀ · dy[n, c] · A_w``:

backward is the transpose, no scatter needed. Coordinates follow PyTorch's
``interpolate(mode="bilinear")`` for both ``align_corners``. Lesson:
``lessons/05-unpooling-and-interpolation.md``.

Two tiers (``minisegnet.backend``): the matrix products here are the reference tier; the
fast tier (``_fast/interpolate.py``, Numba, CPU, never graded) applies the same matrices as
two multiply-adds per output, since each row of ``A`` has only two non-zeros.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._checks import check_array, check_cache, check_shape
from ..backend import fast_tier, get_array_module
from .shapes import resize_output_size

__all__ = [
    "bilinear_upsample_forward",
    "bilinear_upsample_backward",
    "interpolation_matrix",
    "separable_matmul",
]


# The fast tier of bilinear resizing; left out of the student edition.
FAST = "minisegnet.functional._fast.interpolate"


def separable_matmul(x, a_h, a_w):
    """``y[n, c] = a_h · x[n, c] · a_wᵀ`` for a whole batch, as two GEMM-shaped products.

    x: (N, C, H, W); a_h: (H', H); a_w: (W', W); returns (N, C, H', W').
    """
    n, c, h, w = x.shape
    along_w = _matmul(x.reshape(n * c * h, w), a_w.T)            # one GEMM: (N·C·H, W')
    along_h = _matmul(a_h, along_w.reshape(n * c, h, -1))         # batched: (N·C, H', W')
    return along_h.reshape(n, c, a_h.shape[0], a_w.shape[0])


def _matmul(a, b):
    """``a @ b``; an outer product (inner dimension 1) is a broadcast multiply, which NumPy's
    matmul runs about 3× slower (it shows in adaptive pooling's 1×1 bin)."""
    return a * b if a.shape[-1] == 1 else a @ b


def _source_coordinates(in_size, out_size, align_corners, scale):
    """Where output pixel ``i`` samples the input, as PyTorch computes it (float64)."""
    ### BEGIN SOLUTION A2
    dst = np.arange(out_size, dtype=np.float64)
    if align_corners:
        ratio = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
        return dst * ratio
    ratio = 1.0 / scale if scale is not None else in_size / out_size
    return np.maximum((dst + 0.5) * ratio - 0.5, 0.0)  # half-pixel centres, clamped at 0
    ### END SOLUTION A2


def interpolation_matrix(in_size, out_size, align_corners=False, scale=None, xp=None,
                         dtype=np.float64):
    """The ``(out_size, in_size)`` matrix of 1-D linear interpolation.

    Row ``i`` holds ``1 - λ`` at ``floor(s_i)`` and ``λ`` at ``floor(s_i) + 1`` (clamped to the
    last pixel), with ``s_i`` the source coordinate: ``(i + ½)/scale - ½`` (clamped at 0)
    for ``align_corners=False`` (``scale = out/in`` unless given), ``i·(in-1)/(out-1)`` for
    ``align_corners=True``.
    """
    ### BEGIN SOLUTION A2
    source = _source_coordinates(in_size, out_size, align_corners, scale)
    left = np.minimum(np.floor(source).astype(np.int64), in_size - 1)
    right = np.minimum(left + 1, in_size - 1)
    weight_right = source - left
    matrix = np.zeros((out_size, in_size), dtype=np.float64)
    rows = np.arange(out_size)
    np.add.at(matrix, (rows, left), 1.0 - weight_right)
    np.add.at(matrix, (rows, right), weight_right)  # at the border left == right: weights sum
    xp = np if xp is None else xp
    return xp.asarray(matrix, dtype=dtype)
    ### END SOLUTION A2


class _BilinearCache(NamedTuple):
    kind: str
    a_h: object
    a_w: object
    x_shape: tuple


def bilinear_upsample_forward(x, size=None, scale_factor=None, align_corners=False):
    """Bilinear resizing, as ``torch.nn.functional.interpolate(mode="bilinear")``.

    ``y[n, c] = A_h · x[n, c] · A_wᵀ`` (``interpolation_matrix`` per axis).

    x: (N, C, H, W); exactly one of ``size`` ``(H_out, W_out)`` and ``scale_factor``
    (output ``floor(H·s)``, source coordinates from ``1/s``: PyTorch's
    ``recompute_scale_factor=False``). Returns ``(y, cache)``, y: (N, C, H_out, W_out).
    Also shrinks (without antialiasing, like PyTorch's default). Lesson 05.
    """
    fn = "bilinear_upsample_forward"
    check_array(fn, "x", x, 4, "(N, C, H, W)")
    out, scales = resize_output_size(fn, x.shape[2:], size, scale_factor)
    xp = get_array_module(x)
    fast = fast_tier(xp, FAST, cpu_only=True)
    if fast is not None:
        y, a_h, a_w = fast.bilinear(x, out, align_corners, scales)
        return y, _BilinearCache("bilinear", a_h, a_w, x.shape)
    ### BEGIN SOLUTION A2
    a_h = interpolation_matrix(x.shape[2], out[0], align_corners, scales[0], xp, x.dtype)
    a_w = interpolation_matrix(x.shape[3], out[1], align_corners, scales[1], xp, x.dtype)
    return separable_matmul(x, a_h, a_w), _BilinearCache("bilinear", a_h, a_w, x.shape)
    ### END SOLUTION A2


def bilinear_upsample_backward(dy, cache):
    """Gradient of ``bilinear_upsample_forward``: the transpose, ``dx = A_hᵀ · dy · A_w``.

    dy: (N, C, H_out, W_out); returns dx: (N, C, H, W).
    """
    fn = "bilinear_upsample_backward"
    check_cache(fn, cache, "bilinear", "bilinear_upsample_forward")
    check_array(fn, "dy", dy, 4, "(N, C, H_out, W_out)")
    check_shape(fn, "dy", dy, cache.x_shape[:2] + (cache.a_h.shape[0], cache.a_w.shape[0]))
    fast = fast_tier(get_array_module(dy), FAST, cpu_only=True)
    if fast is not None:
        return fast.bilinear_backward(dy, cache.a_h, cache.a_w)
    ### BEGIN SOLUTION A2
    return separable_matmul(dy, cache.a_h.T, cache.a_w.T)
    ### END SOLUTION A2
