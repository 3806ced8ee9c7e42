"""Flat-array helpers shared by the fast tier's Numba kernels (``conv_kernels.py``,
``winograd_kernels.py``).

The kernels index flat (1-D, C-contiguous) arrays with unsigned integers: with a signed index
Numba adds a negative-index wrap-around test to every access, and the loops no longer
vectorise (a contiguous copy ran 14-21× slower; the Winograd input transform and its adjoint
1.4-3×). Every index the kernels compute is non-negative by construction; the tests compare
them with the array code and the reference tier, and ``NUMBA_BOUNDSCHECK=1`` (with a fresh
``NUMBA_CACHE_DIR``) runs them with bounds checks.

Imports ``numba`` at its top, like the kernel modules that use it.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["u", "fill", "copy", "add"]


@numba.njit(cache=True, nogil=True, inline="always")
def u(index):
    """``index`` as an unsigned integer, for indexing without the wrap-around test."""
    return np.uint64(index)


@numba.njit(cache=True, nogil=True, inline="always")
def fill(target, at, count, value):
    """``target[at + q] = value`` for ``q < count``."""
    for q in range(count):
        target[u(at + q)] = value


@numba.njit(cache=True, nogil=True, inline="always")
def copy(target, at, source, start, count, step):
    """``target[at + q] = source[start + q·step]`` for ``q < count``."""
    for q in range(count):
        target[u(at + q)] = source[u(start + q * step)]


@numba.njit(cache=True, nogil=True, inline="always")
def add(target, at, source, start, count):
    """``target[at + q] += source[start + q]`` for ``q < count``."""
    for q in range(count):
        target[u(at + q)] += source[u(start + q)]
