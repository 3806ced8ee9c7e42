"""Test inputs that are the same bits on every machine and every NumPy version.

Public tests replay expected values recorded at release time, keyed by a digest of their
inputs, so the inputs must not depend on NumPy's random streams or on platform maths.
Everything here is integer hashing (SplitMix64 in ``uint64`` arithmetic) followed by exact
scaling: ``uniform`` values are multiples of ``2**-24`` (exact in float32 and float64).
"""

from __future__ import annotations

import numpy as np

__all__ = ["uniform", "integers", "distinct", "choice", "Data"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _hash(count: int, seed: int) -> np.ndarray:
    """``count`` SplitMix64 outputs for stream ``seed``."""
    with np.errstate(over="ignore"):
        state = (np.arange(1, count + 1, dtype=np.uint64) * _GOLDEN
                 + np.uint64(seed & 0xFFFFFFFF) * np.uint64(0xD1B54A32D192ED03))
        z = state
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def uniform(shape, seed: int, low: float = -1.0, high: float = 1.0, dtype=np.float64) -> np.ndarray:
    """Values in ``[low, high)`` on a grid of ``(high - low) / 2**24``."""
    shape = tuple(int(s) for s in np.atleast_1d(shape)) if not isinstance(shape, tuple) else shape
    count = int(np.prod(shape, dtype=np.int64))
    unit = (_hash(count, seed) >> np.uint64(40)).astype(np.float64) / float(1 << 24)
    return (low + (high - low) * unit).reshape(shape).astype(dtype)


def integers(shape, seed: int, low: int, high: int, dtype=np.int64) -> np.ndarray:
    """Integers in ``[low, high)``."""
    shape = tuple(shape)
    count = int(np.prod(shape, dtype=np.int64))
    span = np.uint64(high - low)
    return (low + (_hash(count, seed) % span).astype(np.int64)).reshape(shape).astype(dtype)


def distinct(shape, seed: int, dtype=np.float64) -> np.ndarray:
    """A random arrangement of ``0, 1, ..., n-1`` scaled into ``[-1, 1)``: no ties."""
    shape = tuple(shape)
    count = int(np.prod(shape, dtype=np.int64))
    order = np.argsort(_hash(count, seed), kind="stable")
    values = (np.arange(count, dtype=np.float64) * 2.0 / count) - 1.0
    out = np.empty(count, dtype=np.float64)
    out[order] = values
    return out.reshape(shape).astype(dtype)


def choice(options, seed: int):
    """One of ``options``, picked by ``seed``."""
    return options[int(_hash(1, seed)[0] % np.uint64(len(options)))]


class Data:
    """The ``data`` fixture: these functions as methods."""

    uniform = staticmethod(uniform)
    integers = staticmethod(integers)
    distinct = staticmethod(distinct)
    choice = staticmethod(choice)
