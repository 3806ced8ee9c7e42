"""Tests of ``minisegnet.gradcheck``: ``rel_error`` and the central-difference checkers.

References: CS231n's formula for ``rel_error`` written out here, and functions whose
gradients are known in closed form (sum(x**2) -> 2x, linear maps -> their transpose).
"""

from __future__ import annotations

import numpy as np
import pytest

from minisegnet.gradcheck import numerical_gradient, numerical_gradient_array, rel_error


# ------------------------------------------------------------------ rel_error
def test_rel_error_of_equal_arrays_is_zero(rng):
    x = rng.standard_normal((3, 4))
    assert rel_error(x, x.copy()) == 0.0
    assert rel_error(np.zeros(5), np.zeros(5)) == 0.0  # 0 / max(1e-8, 0) = 0


def test_rel_error_matches_cs231n_formula(rng):
    """max over elements of |x - y| / max(1e-8, |x| + |y|)."""
    x = rng.standard_normal((4, 5))
    y = x + 1e-3 * rng.standard_normal((4, 5))
    expected = np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y)))
    assert rel_error(x, y) == pytest.approx(expected, rel=1e-12)
    assert rel_error(y, x) == pytest.approx(expected, rel=1e-12)  # symmetric


def test_rel_error_known_values():
    assert rel_error(np.array([1.0]), np.array([3.0])) == pytest.approx(0.5)
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, -2.0])) == pytest.approx(1.0)
    # the 1e-8 floor: two tiny numbers of opposite sign
    assert rel_error(np.array([1e-10]), np.array([-1e-10])) == pytest.approx(2e-10 / 1e-8)


def test_rel_error_returns_a_python_float(rng):
    r = rel_error(rng.standard_normal(3), rng.standard_normal(3))
    assert isinstance(r, float)


# ------------------------------------------------------------------ numerical_gradient
def test_numerical_gradient_of_sum_of_squares_is_2x(rng):
    x = rng.standard_normal((3, 4))
    x0 = x.copy()
    g = numerical_gradient(lambda v: np.sum(v**2), x)
    assert g.shape == x.shape
    np.testing.assert_allclose(g, 2 * x0, rtol=1e-8, atol=1e-10)
    np.testing.assert_array_equal(x, x0)  # restored exactly


def test_numerical_gradient_of_linear_function_and_step(rng):
    """f(x) = <a, x> has gradient a; central differences are exact up to rounding for any h."""
    a = rng.standard_normal((2, 3, 2))
    x = rng.standard_normal((2, 3, 2))
    for h in (1e-3, 1e-5):
        g = numerical_gradient(lambda v: float(np.sum(a * v)), x, h=h)
        np.testing.assert_allclose(g, a, rtol=1e-7, atol=1e-9)


def test_numerical_gradient_of_cubic_central_error_is_h_squared():
    """d/dx x^3 at x=1 with h=1e-2: central differences give 3 + h^2 (the O(h^2) term)."""
    x = np.array([1.0])
    g = numerical_gradient(lambda v: float(np.sum(v**3)), x, h=1e-2)
    assert g[0] == pytest.approx(3.0 + 1e-4, rel=1e-9)


# ------------------------------------------------------------------ numerical_gradient_array
def test_numerical_gradient_array_of_linear_map_is_transpose(rng):
    """f(x) = x @ M: the gradient of sum(f(x) * dout) is dout @ M.T."""
    M = rng.standard_normal((4, 3))
    x = rng.standard_normal((5, 4))
    x0 = x.copy()
    dout = rng.standard_normal((5, 3))
    g = numerical_gradient_array(lambda v: v @ M, x, dout)
    np.testing.assert_allclose(g, dout @ M.T, rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(x, x0)


def test_numerical_gradient_array_of_elementwise_square(rng):
    x = rng.standard_normal((2, 3))
    dout = rng.standard_normal((2, 3))
    g = numerical_gradient_array(lambda v: v**2, x, dout)
    np.testing.assert_allclose(g, 2 * x * dout, rtol=1e-7, atol=1e-9)


def test_numerical_gradient_array_with_function_returning_a_new_array(rng):
    x = rng.standard_normal((3, 3))
    dout = rng.standard_normal((3, 3))
    g = numerical_gradient_array(lambda v: v.copy() * 3.0, x, dout)
    np.testing.assert_allclose(g, 3.0 * dout, rtol=1e-7, atol=1e-9)


def test_numerical_gradient_array_with_function_returning_a_view_of_x(rng):
    """f(x) = x (or any f whose result aliases x or a reused buffer): f(x + h) must be
    copied before x is perturbed again, as CS231n's eval_numerical_gradient_array does."""
    x = rng.standard_normal((3, 3))
    dout = rng.standard_normal((3, 3))
    g = numerical_gradient_array(lambda v: v, x, dout)
    np.testing.assert_allclose(g, dout, rtol=1e-7, atol=1e-9)


def test_numerical_gradient_array_with_function_reusing_an_output_buffer(rng):
    """A forward that writes into one preallocated output buffer (returns the same object)."""
    x = rng.standard_normal((2, 3))
    dout = rng.standard_normal((2, 3))
    buf = np.empty_like(x)

    def f(v):
        np.multiply(v, 2.0, out=buf)
        return buf

    g = numerical_gradient_array(f, x, dout)
    np.testing.assert_allclose(g, 2.0 * dout, rtol=1e-7, atol=1e-9)
