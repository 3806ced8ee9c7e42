"""The fast tier of bilinear resizing: two-tap Numba loops instead of matrix products (CPU).

Never graded. The reference tier (``minisegnet.functional.interpolate``) computes
``y[n, c] = A_h · x[n, c] · A_wᵀ`` with dense interpolation matrices, two matrix products
whose inner dimension is the input size. But each row of ``A`` has at most two non-zeros,
at neighbouring columns ``first`` and ``first + 1``, so every output is
``w0 · x[first] + w1 · x[first + 1]`` along each axis: two multiply-adds instead of an
inner product over the whole input side. On the benchmark's 33 → 257 upsampling this is
about 4× less time than the GEMMs, and it does not depend on a BLAS thread team (which
stalls badly on a loaded machine). Backward applies the transposes the same way: each
``dy`` adds its two weighted shares to its two source rows, then columns.

``tests/functional/test_resample_tiers.py`` checks that the two tiers agree. The ops
reach this module through ``backend.fast_tier(xp, __name__, cpu_only=True)``; it imports
``numba`` at its top. Serial and parallel drivers are separate functions: Numba's disk cache
is keyed by function (see ``_fast/pooling.py``).
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from ..interpolate import interpolation_matrix

# Below this many output values the kernels run on one thread. A parallel call waits for its
# slowest thread: on an idle machine a thread team pays from about 1<<16 values, but on a
# busy one a descheduled worker costs milliseconds per call (training MiniPSPNet ran 2x
# slower with parallel 64x64 resizes), so only large arrays, where that is noise, use it.
PARALLEL_MIN_SIZE = 1 << 20


class Taps(NamedTuple):
    """Row ``i`` of an interpolation matrix as ``w0[i]·x[first[i]] + w1[i]·x[second[i]]``."""

    first: object    # (out,) int64
    second: object   # (out,) int64: first + 1, or first at the last pixel (with w1 = 0)
    w0: object       # (out,) weights, the matrix's dtype
    w1: object


def taps(matrix) -> Taps:
    """The two taps of every row of a ``(out, in)`` interpolation matrix.

    Raises ``ValueError`` if a row has non-zeros anywhere but two neighbouring columns
    (the matrix is not a linear interpolation's, so the kernels below do not apply).
    """
    rows, size = matrix.shape
    first = np.argmax(matrix != 0, axis=1).astype(np.int64)
    second = np.minimum(first + 1, size - 1)
    at = np.arange(rows)
    w0 = matrix[at, first]
    w1 = np.where(second > first, matrix[at, second], 0).astype(matrix.dtype)
    rebuilt = np.zeros_like(matrix)
    rebuilt[at, first] = w0
    rebuilt[at, second] += w1
    if not np.array_equal(rebuilt, matrix):
        raise ValueError("taps: the matrix has more than two neighbouring non-zeros in a row")
    return Taps(first, second, w0, w1)


# ---------------------------------------------------------------- forward


@numba.njit(cache=True)
def _resize_plane(x, th, tw, y, rows):
    """One plane: x (H, W) → rows (H, W_out) along the columns, then y (H_out, W_out)."""
    for h in range(x.shape[0]):
        source, row = x[h], rows[h]
        for j in range(row.shape[0]):
            row[j] = tw.w0[j] * source[tw.first[j]] + tw.w1[j] * source[tw.second[j]]
    for i in range(y.shape[0]):
        a, b, out = rows[th.first[i]], rows[th.second[i]], y[i]
        u, v = th.w0[i], th.w1[i]
        for j in range(out.shape[0]):
            out[j] = u * a[j] + v * b[j]


@numba.njit(cache=True)
def _resize_serial(x, th, tw, y):
    rows = np.empty((x.shape[1], y.shape[2]), dtype=y.dtype)
    for plane in range(x.shape[0]):
        _resize_plane(x[plane], th, tw, y[plane], rows)


@numba.njit(cache=True, parallel=True)
def _resize_parallel(x, th, tw, y):
    for plane in numba.prange(x.shape[0]):
        rows = np.empty((x.shape[1], y.shape[2]), dtype=y.dtype)
        _resize_plane(x[plane], th, tw, y[plane], rows)


def bilinear(x, out, align_corners, scales):
    """``bilinear_upsample_forward``'s work on the fast tier: returns ``(y, a_h, a_w)``.

    x: (N, C, H, W) NumPy; out: ``(H_out, W_out)``; scales: the per-axis scale factors or
    ``None`` (as ``interpolation_matrix`` takes them). The matrices go into the op's cache,
    so that either tier can run the backward pass.
    """
    n, c, h, w = x.shape
    a_h = interpolation_matrix(h, out[0], align_corners, scales[0], np, x.dtype)
    a_w = interpolation_matrix(w, out[1], align_corners, scales[1], np, x.dtype)
    y = np.empty((n * c,) + tuple(out), dtype=x.dtype)
    driver = _resize_parallel if y.size >= PARALLEL_MIN_SIZE else _resize_serial
    driver(np.ascontiguousarray(x).reshape(n * c, h, w), taps(a_h), taps(a_w), y)
    return y.reshape((n, c) + tuple(out)), a_h, a_w


# ---------------------------------------------------------------- backward


@numba.njit(cache=True)
def _adjoint_plane(dy, th, tw, dx, rows):
    """One plane: dy (H_out, W_out) → rows (H, W_out) = A_hᵀ dy, then dx (H, W) = rows A_w."""
    rows[:] = 0
    for i in range(dy.shape[0]):
        a, b, d = rows[th.first[i]], rows[th.second[i]], dy[i]
        u, v = th.w0[i], th.w1[i]
        for j in range(d.shape[0]):
            a[j] += u * d[j]
            b[j] += v * d[j]
    dx[:] = 0
    for h in range(dx.shape[0]):
        row, out = rows[h], dx[h]
        for j in range(row.shape[0]):
            out[tw.first[j]] += tw.w0[j] * row[j]
            out[tw.second[j]] += tw.w1[j] * row[j]


@numba.njit(cache=True)
def _adjoint_serial(dy, th, tw, dx):
    rows = np.empty((dx.shape[1], dy.shape[2]), dtype=dx.dtype)
    for plane in range(dy.shape[0]):
        _adjoint_plane(dy[plane], th, tw, dx[plane], rows)


@numba.njit(cache=True, parallel=True)
def _adjoint_parallel(dy, th, tw, dx):
    for plane in numba.prange(dy.shape[0]):
        rows = np.empty((dx.shape[1], dy.shape[2]), dtype=dx.dtype)
        _adjoint_plane(dy[plane], th, tw, dx[plane], rows)


def bilinear_backward(dy, a_h, a_w):
    """``bilinear_upsample_backward`` on the fast tier: ``dx[n, c] = A_hᵀ · dy[n, c] · A_w``.

    dy: (N, C, H_out, W_out) NumPy; a_h (H_out, H), a_w (W_out, W) from the cache.
    Returns dx: (N, C, H, W) in the dtype of ``dy @ a_h`` (as the reference tier).
    """
    n, c, h_out, w_out = dy.shape
    h, w = a_h.shape[1], a_w.shape[1]
    dx = np.empty((n * c, h, w), dtype=np.result_type(dy.dtype, a_h.dtype))
    driver = _adjoint_parallel if dy.size >= PARALLEL_MIN_SIZE else _adjoint_serial
    driver(np.ascontiguousarray(dy).reshape(n * c, h_out, w_out), taps(a_h), taps(a_w), dx)
    return dx.reshape(n, c, h, w)
