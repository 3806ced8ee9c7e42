"""The fast tier of max pooling and max unpooling: Numba loops over the ``N·C`` planes (CPU).

Never graded. Each function computes exactly what its reference tier in
``minisegnet.functional.pooling`` computes (``_max_pool_scan``, ``_gradient_to_winners``,
``_unpool`` and the gather of ``max_unpool2d_backward``), and
``tests/functional/test_resample_tiers.py`` checks that the two tiers agree. The ops reach this
module through ``backend.fast_tier(xp, __name__, cpu_only=True)``: it imports ``numba`` at its
top, so it loads only when a fast kernel is wanted, and the student edition, which leaves it
out, runs the reference tier.

Why it is faster: the reference scan makes ``kH·kW`` passes over whole arrays (a ``where``
per kernel offset); a compiled loop visits each window once, in cache order, on every
thread. The backward pass adds ``dy`` into its own plane of dx, so planes split over threads
without races and the flat indices of the reference tier's ``bincount`` are never built.

Serial and parallel drivers are separate functions on purpose: Numba's disk cache is keyed
by function, so one function compiled twice with different ``parallel`` flags would load
whichever variant was cached first for both.
"""

from __future__ import annotations

import numba
import numpy as np

# Below this many values the kernels run on one thread. A parallel call waits for its
# slowest thread: on an idle machine a thread team pays from about 1<<16 values, but on a
# busy one a descheduled worker costs milliseconds per call (training MiniPSPNet ran 2x
# slower with parallel 64x64 resizes), so only large arrays, where that is noise, use it.
PARALLEL_MIN_SIZE = 1 << 20


# Each kernel works on one ``(n, c)`` plane, passed as views (``x[plane]``): inside a
# ``prange`` loop Numba indexes a 1-D or 2-D view about 10× faster than ``x[plane, ...]``.

# ---------------------------------------------------------------- max pooling


@numba.njit(cache=True)
def _pool_plane(x, kernel, stride, padding, y, indices):
    """Max and argmax of every window of one plane x (H, W): first maximum, row-major."""
    h, w = x.shape
    for p in range(y.shape[0]):
        top = p * stride[0] - padding[0]
        rows = (max(top, 0), min(top + kernel[0], h))  # the window clipped to the image
        for q in range(y.shape[1]):
            left = q * stride[1] - padding[1]
            cols = (max(left, 0), min(left + kernel[1], w))
            best = x[rows[0], cols[0]]
            best_index = rows[0] * w + cols[0]
            for row in range(rows[0], rows[1]):
                for col in range(cols[0], cols[1]):
                    if x[row, col] > best:  # strict: the first maximum stays
                        best = x[row, col]
                        best_index = row * w + col
            y[p, q] = best
            indices[p, q] = best_index


@numba.njit(cache=True)
def _pool_serial(x, kernel, stride, padding, y, indices):
    for plane in range(x.shape[0]):
        _pool_plane(x[plane], kernel, stride, padding, y[plane], indices[plane])


@numba.njit(cache=True, parallel=True)
def _pool_parallel(x, kernel, stride, padding, y, indices):
    for plane in numba.prange(x.shape[0]):
        _pool_plane(x[plane], kernel, stride, padding, y[plane], indices[plane])


def max_pool2d(x, kernel, stride, padding, out):
    """``(y, indices)`` of ``pooling._max_pool_scan``: x (N, C, H, W) NumPy; the size
    arguments checked ``(h, w)`` pairs, ``out`` the output's ``(H_out, W_out)``."""
    n, c, h, w = x.shape
    out = tuple(out)
    y = np.empty((n * c,) + out, dtype=x.dtype)
    indices = np.empty((n * c,) + out, dtype=np.int64)
    driver = _pool_parallel if x.size >= PARALLEL_MIN_SIZE else _pool_serial
    driver(np.ascontiguousarray(x).reshape(n * c, h, w), tuple(kernel), tuple(stride),
           tuple(padding), y, indices)
    return y.reshape((n, c) + out), indices.reshape((n, c) + out)


@numba.njit(cache=True)
def _add_plane(dy, indices, dx):
    for k in range(dy.shape[0]):
        dx[indices[k]] += dy[k]


@numba.njit(cache=True)
def _add_serial(dy, indices, dx):
    for plane in range(dy.shape[0]):
        _add_plane(dy[plane], indices[plane], dx[plane])


@numba.njit(cache=True, parallel=True)
def _add_parallel(dy, indices, dx):
    for plane in numba.prange(dy.shape[0]):
        _add_plane(dy[plane], indices[plane], dx[plane])


def max_pool2d_backward(dy, indices, x_shape, dtype):
    """``pooling._gradient_to_winners``: ``dx[n, c].flat[indices[n, c, p, q]] += dy[n, c, p, q]``."""
    n, c, h, w = x_shape
    dx = np.zeros((n * c, h * w), dtype=dtype)
    driver = _add_parallel if dx.size >= PARALLEL_MIN_SIZE else _add_serial
    driver(np.ascontiguousarray(dy).reshape(n * c, -1),
           np.ascontiguousarray(indices).reshape(n * c, -1), dx)
    return dx.reshape(x_shape)


# ---------------------------------------------------------------- max unpooling


@numba.njit(cache=True)
def _put_plane(x, indices, y):
    for k in range(x.shape[0]):
        y[indices[k]] = x[k]


@numba.njit(cache=True)
def _put_serial(x, indices, y):
    for plane in range(x.shape[0]):
        _put_plane(x[plane], indices[plane], y[plane])


@numba.njit(cache=True, parallel=True)
def _put_parallel(x, indices, y):
    for plane in numba.prange(x.shape[0]):
        _put_plane(x[plane], indices[plane], y[plane])


def max_unpool2d(x, indices, y_shape):
    """``pooling._unpool``: zeros of ``y_shape`` with ``y[n, c].flat[indices[n, c]] = x[n, c]``."""
    n, c = x.shape[:2]
    y = np.zeros((n * c, y_shape[2] * y_shape[3]), dtype=x.dtype)
    driver = _put_parallel if y.size >= PARALLEL_MIN_SIZE else _put_serial
    driver(np.ascontiguousarray(x).reshape(n * c, -1),
           np.ascontiguousarray(indices).reshape(n * c, -1), y)
    return y.reshape(y_shape)


@numba.njit(cache=True)
def _take_plane(dy, indices, dx):
    for k in range(dx.shape[0]):
        dx[k] = dy[indices[k]]


@numba.njit(cache=True)
def _take_serial(dy, indices, dx):
    for plane in range(dx.shape[0]):
        _take_plane(dy[plane], indices[plane], dx[plane])


@numba.njit(cache=True, parallel=True)
def _take_parallel(dy, indices, dx):
    for plane in numba.prange(dx.shape[0]):
        _take_plane(dy[plane], indices[plane], dx[plane])


def max_unpool2d_backward(dy, indices):
    """The gather of ``pooling.max_unpool2d_backward``: ``dx[n, c, p, q] = dy[n, c].flat[i]``
    with ``i = indices[n, c, p, q]``."""
    n, c = dy.shape[:2]
    dx = np.empty((n * c, indices[0, 0].size), dtype=dy.dtype)
    driver = _take_parallel if dy.size >= PARALLEL_MIN_SIZE else _take_serial
    driver(np.ascontiguousarray(dy).reshape(n * c, -1),
           np.ascontiguousarray(indices).reshape(n * c, -1), dx)
    return dx.reshape(indices.shape)
