"""Numba kernels for the CPU loops that vectorise badly.

This module imports ``numba`` at its top, so the ops import *it* lazily, on their CPU path
only. Each kernel has a vectorised NumPy/CuPy twin in the op's own module: the twin runs
on CuPy arrays and is tested against the kernel on the CPU.

Serial and parallel drivers are separate functions on purpose: Numba's disk cache is keyed
by function, so one function compiled twice with different ``parallel`` flags would load
whichever variant was cached first for both.
"""

from __future__ import annotations

import numba

# Below this many input values a thread team costs more than it saves.
PARALLEL_MIN_SIZE = 1 << 16


@numba.njit(cache=True)
def _max_pool_plane(x, image, channel, kernel_size, stride, padding, y, indices):
    """Max and argmax of every window of one ``(image, channel)`` plane."""
    ### BEGIN SOLUTION A2
    h, w = x.shape[2], x.shape[3]
    for p in range(y.shape[2]):
        top = p * stride[0] - padding[0]
        rows = (max(top, 0), min(top + kernel_size[0], h))  # window clipped to the image
        for q in range(y.shape[3]):
            left = q * stride[1] - padding[1]
            cols = (max(left, 0), min(left + kernel_size[1], w))
            best = x[image, channel, rows[0], cols[0]]
            best_index = rows[0] * w + cols[0]
            for row in range(rows[0], rows[1]):
                for col in range(cols[0], cols[1]):
                    value = x[image, channel, row, col]
                    if value > best:  # strict: the first maximum in row-major order stays
                        best = value
                        best_index = row * w + col
            y[image, channel, p, q] = best
            indices[image, channel, p, q] = best_index
    ### END SOLUTION A2


@numba.njit(cache=True)
def max_pool_serial(x, kernel_size, stride, padding, y, indices):
    """Max pooling of every plane, one after another (small inputs)."""
    ### BEGIN SOLUTION A2
    for plane in range(x.shape[0] * x.shape[1]):
        _max_pool_plane(x, plane // x.shape[1], plane % x.shape[1], kernel_size, stride, padding,
                        y, indices)
    ### END SOLUTION A2


@numba.njit(cache=True, parallel=True)
def max_pool_parallel(x, kernel_size, stride, padding, y, indices):
    """Max pooling with the ``N·C`` planes split over threads (large inputs)."""
    ### BEGIN SOLUTION A2
    for plane in numba.prange(x.shape[0] * x.shape[1]):
        _max_pool_plane(x, plane // x.shape[1], plane % x.shape[1], kernel_size, stride, padding,
                        y, indices)
    ### END SOLUTION A2
