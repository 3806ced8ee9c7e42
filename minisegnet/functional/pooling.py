"""Max pooling that remembers its argmax, max unpooling that uses it, and adaptive pooling.

Max pooling keeps, for every output, the flat index of the winning input pixel in its
``H·W`` plane (PyTorch's ``return_indices``). Backward sends each ``dy`` to that pixel; when
windows overlap, one pixel can win several windows and its gradient is the *sum* (the
classic ``=`` instead of ``+=`` bug). Max unpooling (DeconvNet, SegNet) writes each value
back to the remembered position; its backward is a gather from the same positions.

Adaptive average pooling is linear and separable: ``y = P_h x P_wᵀ`` with a bin-averaging
matrix per axis (bins ``[floor(i·H/out), ceil((i+1)·H/out))``, as PyTorch), so backward is
``P_hᵀ dy P_w``. Lessons: ``lessons/05-unpooling-and-interpolation.md``,
``lessons/07-pspnet.md``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from .._checks import check_array, check_cache, check_same_device, check_shape, pair
from ..backend import get_array_module
from .interpolate import separable_matmul
from .shapes import pool_geometry, unpool_output_size, window

__all__ = [
    "max_pool2d_forward",
    "max_pool2d_backward",
    "max_unpool2d_forward",
    "max_unpool2d_backward",
    "adaptive_avg_pool2d_forward",
    "adaptive_avg_pool2d_backward",
    "adaptive_max_pool2d_forward",
    "adaptive_max_pool2d_backward",
    "adaptive_pool_matrix",
]


class _MaxCache(NamedTuple):
    kind: str
    flat_indices: object  # (N, C, H_out, W_out) indices into the flattened (N·C·H·W) input
    x_shape: tuple
    dtype: object
    disjoint: bool        # windows cannot overlap (stride >= kernel): every pixel wins at most once


def _plane_to_flat(xp, plane_indices, x_shape):
    """Indices into each ``(n, c)`` plane → indices into the whole flattened input."""
    n, c, h, w = x_shape
    plane_start = xp.arange(n * c, dtype=xp.int64).reshape(n, c, 1, 1) * (h * w)
    return plane_indices + plane_start


def _gradient_to_winners(dy, cache, fn):
    """``dx[winner] += dy`` for every output: one ``bincount``, so repeated winners sum."""
    check_array(fn, "dy", dy, 4, "(N, C, H_out, W_out)")
    check_shape(fn, "dy", dy, cache.flat_indices.shape)
    ### BEGIN SOLUTION A2
    xp = get_array_module(dy)
    if cache.disjoint:  # no pixel wins twice: a plain scatter is exact and faster
        dx = xp.zeros(math.prod(cache.x_shape), dtype=cache.dtype)
        dx[cache.flat_indices.ravel()] = dy.ravel()
        return dx.reshape(cache.x_shape)
    size = math.prod(cache.x_shape)
    dx = xp.bincount(cache.flat_indices.ravel(), weights=dy.ravel(), minlength=size)
    return dx.astype(cache.dtype, copy=False).reshape(cache.x_shape)
    ### END SOLUTION A2


# ---------------------------------------------------------------- max pooling


def max_pool2d_forward(x, kernel_size, stride=None, padding=0, return_indices=False):
    """2-D max pooling, as ``torch.nn.functional.max_pool2d`` (``ceil_mode=False``).

    ``y[n, c, p, q] = max_{i,j} x_pad[n, c, p·s_h + i, q·s_w + j]`` (padding is ``-inf``).

    x: (N, C, H, W); kernel_size, stride (default kernel_size), padding (``≤ kernel/2``).
    Returns ``(y, cache)``, or ``(y, indices, cache)`` with ``return_indices``: y and
    indices (int64) are (N, C, H_out, W_out), ``H_out = floor((H + 2p - k)/s) + 1``;
    ``indices`` point into the flattened ``H·W`` plane of each ``(n, c)`` of the unpadded
    input; ties go to the first maximum in row-major window order. Lesson 05.
    """
    fn = "max_pool2d_forward"
    check_array(fn, "x", x, 4, "(N, C, H, W)")
    kernel, stride, padding, out = pool_geometry(fn, x.shape[2:], kernel_size, stride, padding)
    ### BEGIN SOLUTION A2
    xp = get_array_module(x)
    if xp.__name__ == "numpy":
        best, indices = _max_pool_numba(x, kernel, stride, padding, out)
    else:
        best, indices = _max_pool_vectorised(x, kernel, stride, padding, out)
    cache = _MaxCache("max_pool2d", _plane_to_flat(xp, indices, x.shape), x.shape, x.dtype,
                      stride[0] >= kernel[0] and stride[1] >= kernel[1])
    return (best, indices, cache) if return_indices else (best, cache)
    ### END SOLUTION A2


def _max_pool_vectorised(x, kernel, stride, padding, out):
    """Max and argmax by scanning the ``kH·kW`` kernel offsets, each a strided slice.

    Runs on NumPy and CuPy; returns ``(y, indices)``, indices into each ``H·W`` plane.
    """
    ### BEGIN SOLUTION A2
    xp = get_array_module(x)
    n, c, h, w = x.shape
    padded = xp.full((n, c, h + 2 * padding[0], w + 2 * padding[1]), -xp.inf, dtype=x.dtype)
    padded[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w] = x
    best = padded[:, :, window(0, out[0], stride[0]), window(0, out[1], stride[1])].copy()
    best_shift = xp.zeros(best.shape, dtype=xp.int64)  # winner's flat offset from the corner
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            candidate = padded[:, :, window(i, out[0], stride[0]), window(j, out[1], stride[1])]
            better = candidate > best  # strict: the first maximum in row-major order stays
            best = xp.where(better, candidate, best)
            best_shift = xp.where(better, i * w + j, best_shift)
    corner_rows = xp.arange(out[0]).reshape(-1, 1) * stride[0] - padding[0]
    corner_cols = xp.arange(out[1]) * stride[1] - padding[1]
    return best, corner_rows * w + corner_cols + best_shift
    ### END SOLUTION A2


def _max_pool_numba(x, kernel, stride, padding, out):
    """The same max and argmax in one compiled pass (CPU): about 10× the vectorised speed."""
    ### BEGIN SOLUTION A2
    import numpy as np

    from . import _numba_kernels as kernels  # imports numba: CPU path only

    y = np.empty(x.shape[:2] + out, dtype=x.dtype)
    indices = np.empty(x.shape[:2] + out, dtype=np.int64)
    pool = kernels.max_pool_parallel if x.size >= kernels.PARALLEL_MIN_SIZE else kernels.max_pool_serial
    pool(np.ascontiguousarray(x), kernel, stride, padding, y, indices)
    return y, indices
    ### END SOLUTION A2


def max_pool2d_backward(dy, cache):
    """Gradient of ``max_pool2d_forward``: each ``dy`` goes to its window's argmax.

    ``dx[n, c, h, w] = Σ dy[n, c, p, q]`` over the windows ``(p, q)`` that ``(h, w)`` won:
    overlapping windows *accumulate*. dy: (N, C, H_out, W_out); returns dx: (N, C, H, W).
    """
    check_cache("max_pool2d_backward", cache, "max_pool2d")
    ### BEGIN SOLUTION A2
    return _gradient_to_winners(dy, cache, "max_pool2d_backward")
    ### END SOLUTION A2


# ---------------------------------------------------------------- max unpooling


class _UnpoolCache(NamedTuple):
    kind: str
    flat_indices: object
    y_shape: tuple


def max_unpool2d_forward(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Max unpooling, as ``torch.nn.functional.max_unpool2d``: values go back to their argmax.

    ``y[n, c].flat[indices[n, c, p, q]] = x[n, c, p, q]``, zeros elsewhere.

    x: (N, C, H, W); indices: int (N, C, H, W) from ``max_pool2d_forward``;
    output size ``(H-1)·s - 2p + k`` by default, or ``output_size`` ``(H_out, W_out)``
    (or ``(N, C, H_out, W_out)``). Returns ``(y, cache)``, y: (N, C, H_out, W_out). Lesson 05.
    """
    fn = "max_unpool2d_forward"
    check_array(fn, "x", x, 4, "(N, C, H, W)")
    check_array(fn, "indices", indices, floating=False)
    check_same_device(fn, x=x, indices=indices)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{fn}: indices must be an integer array, got dtype {indices.dtype}")
    check_shape(fn, "indices", indices, x.shape)
    kernel = pair(fn, "kernel_size", kernel_size, minimum=1)
    stride = kernel if stride is None else pair(fn, "stride", stride, minimum=1)
    padding = pair(fn, "padding", padding, minimum=0)
    size = unpool_output_size(fn, x.shape, kernel, stride, padding, output_size)
    xp = get_array_module(x)
    plane = size[0] * size[1]
    if indices.size and (int(indices.min()) < 0 or int(indices.max()) >= plane):
        raise ValueError(
            f"{fn}: indices must lie in [0, H_out*W_out) = [0, {plane}) for output size {size}, "
            f"got values in [{int(indices.min())}, {int(indices.max())}]; pass the output_size "
            f"of the pooled input")
    ### BEGIN SOLUTION A2
    y_shape = x.shape[:2] + size
    flat = _plane_to_flat(xp, indices.astype(xp.int64, copy=False), y_shape)
    y = xp.zeros(y_shape, dtype=x.dtype)
    y.reshape(-1)[flat.ravel()] = x.ravel()
    return y, _UnpoolCache("max_unpool2d", flat, y_shape)
    ### END SOLUTION A2


def max_unpool2d_backward(dy, cache):
    """Gradient of ``max_unpool2d_forward``: a gather, ``dx = dy.flat[indices]``.

    dy: (N, C, H_out, W_out); returns dx: (N, C, H, W).
    """
    fn = "max_unpool2d_backward"
    check_cache(fn, cache, "max_unpool2d")
    check_array(fn, "dy", dy, 4, "(N, C, H_out, W_out)")
    check_shape(fn, "dy", dy, cache.y_shape)
    ### BEGIN SOLUTION A2
    return dy.reshape(-1)[cache.flat_indices]
    ### END SOLUTION A2


# ---------------------------------------------------------------- adaptive pooling


def _bin_edges(size: int, bins: int):
    """PyTorch's adaptive bins: ``[floor(i·size/bins), ceil((i+1)·size/bins))``."""
    ### BEGIN SOLUTION A3
    return [((i * size) // bins, -((-(i + 1) * size) // bins)) for i in range(bins)]
    ### END SOLUTION A3


def adaptive_pool_matrix(size: int, bins: int, xp=None, dtype="float64"):
    """The ``(bins, size)`` averaging matrix of adaptive average pooling along one axis.

    ``P[i, j] = 1 / (end_i - start_i)`` for ``start_i ≤ j < end_i``. Bins overlap when
    ``size`` is not a multiple of ``bins`` and repeat pixels when ``bins > size``.
    """
    if xp is None:
        import numpy as xp
    ### BEGIN SOLUTION A3
    matrix = xp.zeros((bins, size), dtype=dtype)
    for i, (start, end) in enumerate(_bin_edges(size, bins)):
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix
    ### END SOLUTION A3


class _AdaptiveAvgCache(NamedTuple):
    kind: str
    pool_h: object
    pool_w: object
    x_shape: tuple


def adaptive_avg_pool2d_forward(x, output_size):
    """Adaptive average pooling, as ``torch.nn.functional.adaptive_avg_pool2d``.

    ``y[n, c] = P_h · x[n, c] · P_wᵀ`` with bin-averaging matrices (``adaptive_pool_matrix``).

    x: (N, C, H, W); output_size ``(oh, ow)`` or int. Returns ``(y, cache)``,
    y: (N, C, oh, ow). Lesson 07 (PSPNet's pyramid bins 1, 2, 3, 6).
    """
    fn = "adaptive_avg_pool2d_forward"
    check_array(fn, "x", x, 4, "(N, C, H, W)")
    out = pair(fn, "output_size", output_size, minimum=1)
    ### BEGIN SOLUTION A3
    xp = get_array_module(x)
    pool_h = adaptive_pool_matrix(x.shape[2], out[0], xp, x.dtype)
    pool_w = adaptive_pool_matrix(x.shape[3], out[1], xp, x.dtype)
    y = separable_matmul(x, pool_h, pool_w)
    return y, _AdaptiveAvgCache("adaptive_avg_pool2d", pool_h, pool_w, x.shape)
    ### END SOLUTION A3


def adaptive_avg_pool2d_backward(dy, cache):
    """Gradient of ``adaptive_avg_pool2d_forward``: ``dx[n, c] = P_hᵀ · dy[n, c] · P_w``.

    dy: (N, C, oh, ow); returns dx: (N, C, H, W).
    """
    fn = "adaptive_avg_pool2d_backward"
    check_cache(fn, cache, "adaptive_avg_pool2d")
    check_array(fn, "dy", dy, 4, "(N, C, oh, ow)")
    check_shape(fn, "dy", dy, cache.x_shape[:2] + (cache.pool_h.shape[0], cache.pool_w.shape[0]))
    ### BEGIN SOLUTION A3
    return separable_matmul(dy, cache.pool_h.T, cache.pool_w.T)
    ### END SOLUTION A3


def adaptive_max_pool2d_forward(x, output_size, return_indices=False):
    """Adaptive max pooling, as ``torch.nn.functional.adaptive_max_pool2d``.

    ``y[n, c, i, j] = max x[n, c, h, w]`` over bin ``(i, j)`` (PyTorch's bin edges).

    x: (N, C, H, W); output_size ``(oh, ow)`` or int. Returns ``(y, cache)`` or
    ``(y, indices, cache)``; indices as ``max_pool2d_forward``'s. One vectorised max per bin
    (``oh·ow`` Python steps: fine for pyramid bins, slow for large outputs). Lesson 07.
    """
    fn = "adaptive_max_pool2d_forward"
    check_array(fn, "x", x, 4, "(N, C, H, W)")
    out = pair(fn, "output_size", output_size, minimum=1)
    xp = get_array_module(x)
    n, c, h, w = x.shape
    y = xp.empty((n, c) + out, dtype=x.dtype)
    indices = xp.empty((n, c) + out, dtype=xp.int64)
    for i, (top, bottom) in enumerate(_bin_edges(h, out[0])):
        for j, (left, right) in enumerate(_bin_edges(w, out[1])):
            window = x[:, :, top:bottom, left:right].reshape(n, c, -1)
            winner = xp.argmax(window, axis=2)  # first maximum, row-major: PyTorch's tie rule
            y[:, :, i, j] = xp.take_along_axis(window, winner[..., None], axis=2)[..., 0]
            width = right - left
            indices[:, :, i, j] = (top + winner // width) * w + left + winner % width
    cache = _MaxCache("adaptive_max_pool2d", _plane_to_flat(xp, indices, x.shape), x.shape, x.dtype,
                      False)
    return (y, indices, cache) if return_indices else (y, cache)


def adaptive_max_pool2d_backward(dy, cache):
    """Gradient of ``adaptive_max_pool2d_forward``: ``dy`` to each bin's argmax, summed.

    dy: (N, C, oh, ow); returns dx: (N, C, H, W).
    """
    check_cache("adaptive_max_pool2d_backward", cache, "adaptive_max_pool2d")
    return _gradient_to_winners(dy, cache, "adaptive_max_pool2d_backward")
