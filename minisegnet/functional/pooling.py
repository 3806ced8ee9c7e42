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

Two tiers (``minisegnet.backend``): the helpers here are the *reference tier*, whole-array
NumPy/CuPy code that reads like the formulas (max pooling scans the kernel offsets, its
backward is one ``bincount``); the *fast tier* of max pooling and unpooling is a set of Numba
kernels in ``_fast/pooling.py`` (CPU, never graded), taken where ``fast_tier`` offers it.
Adaptive pooling has one tier: its matrix products already are the fast code.
"""

from __future__ import annotations

from typing import NamedTuple

from .._checks import check_array, check_cache, check_same_device, check_shape, pair
from ..backend import fast_tier, get_array_module
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


# The fast tier of max pooling and unpooling (Numba kernels, CPU only); left out of the
# student edition, where every op takes its reference tier below.
FAST = "minisegnet.functional._fast.pooling"


class _MaxCache(NamedTuple):
    kind: str
    indices: object       # (N, C, H_out, W_out) int64: each winner's position in its H·W plane
    x_shape: tuple
    dtype: object


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
    fast = fast_tier(get_array_module(x), FAST, cpu_only=True)
    if fast is not None:
        y, indices = fast.max_pool2d(x, kernel, stride, padding, out)
    else:
        y, indices = _max_pool_scan(x, kernel, stride, padding, out)
    cache = _MaxCache("max_pool2d", indices, x.shape, x.dtype)
    return (y, indices, cache) if return_indices else (y, cache)


def _max_pool_scan(x, kernel, stride, padding, out):
    """Max and argmax of every window, scanning the ``kH·kW`` kernel offsets ``(i, j)``.

    Offset ``(i, j)`` of every window at once is one strided slice of the padded input:
    ``x_pad[:, :, p·s_h + i, q·s_w + j]`` for all ``(p, q)``, at image row ``p·s_h + i - pad_h``
    and column ``q·s_w + j - pad_w``. A tap replaces the window's best so far when it lies in
    the image and is strictly larger (so the first maximum in row-major order wins), or when
    it is the window's first tap in the image. Returns ``(y, indices)``, indices ``row·W + col``.
    """
    ### BEGIN SOLUTION A2
    xp = get_array_module(x)
    n, c, h, w = x.shape
    padded = xp.full((n, c, h + 2 * padding[0], w + 2 * padding[1]), -xp.inf, dtype=x.dtype)
    padded[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w] = x
    best = xp.full((n, c) + out, -xp.inf, dtype=x.dtype)
    winner = xp.full((n, c) + out, -1, dtype=xp.int64)     # -1: no tap in the image yet
    for i in range(kernel[0]):
        rows = xp.arange(out[0]).reshape(-1, 1) * stride[0] + i - padding[0]
        for j in range(kernel[1]):
            cols = xp.arange(out[1]) * stride[1] + j - padding[1]
            tap = padded[:, :, window(i, out[0], stride[0]), window(j, out[1], stride[1])]
            inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
            better = inside & ((tap > best) | (winner < 0))
            best = xp.where(better, tap, best)
            winner = xp.where(better, rows * w + cols, winner)
    return best, winner
    ### END SOLUTION A2


def max_pool2d_backward(dy, cache):
    """Gradient of ``max_pool2d_forward``: each ``dy`` goes to its window's argmax.

    ``dx[n, c, h, w] = Σ dy[n, c, p, q]`` over the windows ``(p, q)`` that ``(h, w)`` won:
    overlapping windows *accumulate*. dy: (N, C, H_out, W_out); returns dx: (N, C, H, W).
    """
    fn = "max_pool2d_backward"
    check_cache(fn, cache, "max_pool2d")
    return _backward_to_winners(fn, dy, cache)


def _backward_to_winners(fn, dy, cache):
    """The backward pass of max and adaptive max pooling, on the fast or the reference tier."""
    check_array(fn, "dy", dy, 4, "(N, C, H_out, W_out)")
    check_shape(fn, "dy", dy, cache.indices.shape)
    fast = fast_tier(get_array_module(dy), FAST, cpu_only=True)
    if fast is not None:
        return fast.max_pool2d_backward(dy, cache.indices, cache.x_shape, cache.dtype)
    return _gradient_to_winners(dy, cache.indices, cache.x_shape, cache.dtype)


def _gradient_to_winners(dy, indices, x_shape, dtype):
    """``dx[n, c].flat[indices[n, c, p, q]] += dy[n, c, p, q]``, repeated winners summed.

    Pixel ``k`` of plane ``(n, c)`` is entry ``(n·C + c)·H·W + k`` of the flattened dx, so
    the whole sum is one ``bincount`` of those positions weighted by dy. Returns dx with
    ``x_shape`` and ``dtype``.
    """
    ### BEGIN SOLUTION A2
    xp = get_array_module(dy)
    n, c, h, w = x_shape
    plane_start = xp.arange(n * c).reshape(n, c, 1, 1) * (h * w)
    dx = xp.bincount((plane_start + indices).ravel(), weights=dy.ravel(), minlength=n * c * h * w)
    return dx.reshape(x_shape).astype(dtype, copy=False)
    ### END SOLUTION A2


# ---------------------------------------------------------------- max unpooling


class _UnpoolCache(NamedTuple):
    kind: str
    indices: object       # (N, C, H, W) int: where each x went in its H_out·W_out plane
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
    plane = size[0] * size[1]
    if indices.size and (int(indices.min()) < 0 or int(indices.max()) >= plane):
        raise ValueError(
            f"{fn}: indices must lie in [0, H_out*W_out) = [0, {plane}) for output size {size}, "
            f"got values in [{int(indices.min())}, {int(indices.max())}]; pass the output_size "
            f"of the pooled input")
    y_shape = x.shape[:2] + size
    fast = fast_tier(get_array_module(x), FAST, cpu_only=True)
    y = fast.max_unpool2d(x, indices, y_shape) if fast is not None else _unpool(x, indices, y_shape)
    return y, _UnpoolCache("max_unpool2d", indices, y_shape)


def _unpool(x, indices, y_shape):
    """Zeros of ``y_shape`` with ``y[n, c].flat[indices[n, c, p, q]] = x[n, c, p, q]``."""
    ### BEGIN SOLUTION A2
    xp = get_array_module(x)
    n, c = x.shape[:2]
    image, channel = xp.arange(n).reshape(n, 1, 1), xp.arange(c).reshape(1, c, 1)
    y = xp.zeros((n, c, y_shape[2] * y_shape[3]), dtype=x.dtype)
    y[image, channel, indices.reshape(n, c, -1)] = x.reshape(n, c, -1)
    return y.reshape(y_shape)
    ### END SOLUTION A2


def max_unpool2d_backward(dy, cache):
    """Gradient of ``max_unpool2d_forward``: a gather, ``dx[n, c, p, q] = dy[n, c].flat[i]``
    with ``i = indices[n, c, p, q]``.

    dy: (N, C, H_out, W_out); returns dx: (N, C, H, W).
    """
    fn = "max_unpool2d_backward"
    check_cache(fn, cache, "max_unpool2d")
    check_array(fn, "dy", dy, 4, "(N, C, H_out, W_out)")
    check_shape(fn, "dy", dy, cache.y_shape)
    fast = fast_tier(get_array_module(dy), FAST, cpu_only=True)
    if fast is not None:
        return fast.max_unpool2d_backward(dy, cache.indices)
    ### BEGIN SOLUTION A2
    xp = get_array_module(dy)
    n, c = dy.shape[:2]
    image, channel = xp.arange(n).reshape(n, 1, 1), xp.arange(c).reshape(1, c, 1)
    dx = dy.reshape(n, c, -1)[image, channel, cache.indices.reshape(n, c, -1)]
    return dx.reshape(cache.indices.shape)
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
    cache = _MaxCache("adaptive_max_pool2d", indices, x.shape, x.dtype)
    return (y, indices, cache) if return_indices else (y, cache)


def adaptive_max_pool2d_backward(dy, cache):
    """Gradient of ``adaptive_max_pool2d_forward``: ``dy`` to each bin's argmax, summed.

    dy: (N, C, oh, ow); returns dx: (N, C, H, W).
    """
    fn = "adaptive_max_pool2d_backward"
    check_cache(fn, cache, "adaptive_max_pool2d")
    return _backward_to_winners(fn, dy, cache)
