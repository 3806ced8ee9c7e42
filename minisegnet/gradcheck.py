"""Finite-difference gradient checks (CS231n style), for tests, notebooks and assignments.

Use float64: with ``h = 1e-5`` central differences have truncation error ``O(h²) ≈ 1e-10``
and rounding error ``≈ ε/h ≈ 1e-11`` in float64, but ``≈ 1e-2`` in float32, where a
gradient check cannot tell a bug from noise. Expected sizes of ``rel_error`` on a correct
gradient in float64: below ``1e-7`` (usually ``1e-9`` or smaller); above ``1e-3`` is a bug.
"""

from __future__ import annotations

import numpy as np

from .backend import get_array_module

__all__ = ["rel_error", "numerical_gradient", "numerical_gradient_array"]


def rel_error(x, y) -> float:
    """Largest relative error ``max |x - y| / max(1e-8, |x| + |y|)``, elementwise.

    x, y: arrays of one shape (NumPy or CuPy). Returns a Python float.
    """
    xp = get_array_module(x, y)
    x, y = xp.asarray(x, dtype=xp.float64), xp.asarray(y, dtype=xp.float64)
    if x.shape != y.shape:
        raise ValueError(f"rel_error: x and y must have one shape, got {x.shape} and {y.shape}")
    if x.size == 0:
        return 0.0
    return float(xp.max(xp.abs(x - y) / xp.maximum(1e-8, xp.abs(x) + xp.abs(y))))


def _central_differences(f, x, h):
    """Yield ``(index, f(x + h e_i), f(x - h e_i))`` for every entry of x, restoring x."""
    if x.dtype != np.float64:
        raise TypeError(f"numerical_gradient: x must be float64 for a gradient check, got {x.dtype}")
    if not x.flags.c_contiguous:
        raise ValueError("numerical_gradient: x must be C-contiguous (it is perturbed in place)")
    xp = get_array_module(x)
    flat = x.reshape(-1)  # a view: writing into it perturbs x in place
    for index in range(flat.size):
        old = flat[index].item()
        flat[index] = old + h
        plus = xp.array(f(x), copy=True)  # f may return a view of x or reuse a buffer
        flat[index] = old - h
        minus = xp.array(f(x), copy=True)
        flat[index] = old
        yield index, plus, minus


def numerical_gradient(f, x, h=1e-5):
    """Gradient of a scalar function by central differences: ``(f(x+h) - f(x-h)) / 2h``.

    f: callable taking x and returning a scalar; x: float64 array (perturbed in place and
    restored). Returns an array shaped like x. Cost: ``2·x.size`` calls of f.
    """
    xp = get_array_module(x)
    grad = xp.zeros_like(x)
    flat = grad.reshape(-1)
    for index, plus, minus in _central_differences(f, x, h):
        flat[index] = (float(plus) - float(minus)) / (2 * h)
    return grad


def numerical_gradient_array(f, x, dout, h=1e-5):
    """Gradient of ``Σ f(x) · dout`` by central differences, for array-valued f.

    f: callable taking x and returning an array shaped like dout; x: float64 array.
    Returns an array shaped like x: what ``backward(dout)`` should return for x.
    """
    xp = get_array_module(x, dout)
    grad = xp.zeros_like(x)
    flat = grad.reshape(-1)
    for index, plus, minus in _central_differences(f, x, h):
        flat[index] = float(xp.sum((plus - minus) * dout)) / (2 * h)
    return grad
