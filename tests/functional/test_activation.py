"""Tests of ``F.relu_forward/backward``.

Independent references: an element-by-element loop (``tests/reference_resample.py``),
central finite differences away from 0 (``tests/reference.py``) and ``torch.relu`` (the
gradient at exactly 0 is 0, as in PyTorch).
"""

from __future__ import annotations

import numpy as np
import pytest

from minisegnet import backend
from minisegnet import functional as F

try:  # `python -m pytest` from the repository root
    from tests import reference as R
    from tests import reference_resample as RR
except ImportError:  # plain `pytest`: tests/ itself is on sys.path
    import reference as R
    import reference_resample as RR


def _np(a):
    return None if a is None else backend.to_numpy(a)


def _with_zeros(shape, seed=0):
    """Random normal values with some exact zeros (and a negative zero) mixed in."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    x.reshape(-1)[::5] = 0.0
    x.reshape(-1)[-1] = -0.0
    return x


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 1, 1, 1), (3, 2, 7, 1)])
def test_relu_matches_loop(shape, to_dev):
    """y = max(x, 0); dx = dy where x > 0, else 0 (also at x == 0 and x == -0.0)."""
    x = _with_zeros(shape)
    y, cache = F.relu_forward(to_dev(x))
    np.testing.assert_array_equal(_np(y), RR.relu_naive(x))
    dy = np.random.default_rng(1).standard_normal(shape)
    dx = _np(F.relu_backward(to_dev(dy), cache))
    expected = np.where(x > 0, dy, 0.0)
    np.testing.assert_array_equal(dx, expected)
    assert np.all(dx[x == 0] == 0)


def test_relu_gradient_is_zero_at_zero(to_dev):
    x = np.array([-1.0, -0.0, 0.0, 1e-300, 2.0]).reshape(1, 1, 1, 5)
    y, cache = F.relu_forward(to_dev(x))
    np.testing.assert_array_equal(_np(y), [[[[0, 0, 0, 1e-300, 2]]]])
    dx = F.relu_backward(to_dev(np.full(x.shape, 3.0)), cache)
    np.testing.assert_array_equal(_np(dx), [[[[0, 0, 0, 3, 3]]]])


def test_relu_backward_matches_finite_differences(to_dev):
    """Inputs kept at least 0.1 away from the kink."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 3, 4))
    x = np.sign(x) * (0.1 + np.abs(x))
    _, cache = F.relu_forward(to_dev(x))
    dy = rng.standard_normal(x.shape)
    dx = F.relu_backward(to_dev(dy), cache)
    num = R.num_grad_array(lambda v: _np(F.relu_forward(to_dev(v))[0]), x, dy)
    R.assert_close(_np(dx), num, 1e-6)
    assert R.rel_error(_np(dx), num) < 1e-6


def test_relu_matches_torch(to_dev):
    torch = pytest.importorskip("torch")
    x = _with_zeros((2, 3, 4, 4), seed=3)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.relu(xt)
    dy = np.random.default_rng(4).standard_normal(x.shape)
    yt.backward(torch.tensor(dy))
    y, cache = F.relu_forward(to_dev(x))
    np.testing.assert_array_equal(_np(y), yt.detach().numpy())
    np.testing.assert_array_equal(_np(F.relu_backward(to_dev(dy), cache)), xt.grad.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_preserves_dtype_and_array_type(dtype, to_dev):
    x = _with_zeros((2, 2, 3, 3), seed=5).astype(dtype)
    xd = to_dev(x)
    y, cache = F.relu_forward(xd)
    assert y.dtype == dtype and type(y) is type(xd)
    np.testing.assert_array_equal(_np(y), np.maximum(x, 0))
    dy = np.random.default_rng(6).standard_normal(x.shape).astype(dtype)
    dx = F.relu_backward(to_dev(dy), cache)
    assert dx.dtype == dtype and type(dx) is type(xd)
    np.testing.assert_array_equal(_np(dx), np.where(x > 0, dy, 0).astype(dtype))


def test_relu_leaves_inputs_alone_and_backward_fresh(to_dev):
    """Not in place: x is unchanged by the forward, dy by the backward; writing into dx
    does not change a second backward's result."""
    x = _with_zeros((1, 2, 3, 3), seed=7)
    xd = to_dev(x)
    y, cache = F.relu_forward(xd)
    np.testing.assert_array_equal(_np(xd), x)
    dy = np.random.default_rng(8).standard_normal(x.shape)
    dyd = to_dev(dy)
    dx1 = F.relu_backward(dyd, cache)
    ref = _np(dx1).copy()
    dx1[...] = 5.0
    np.testing.assert_array_equal(_np(F.relu_backward(dyd, cache)), ref)
    np.testing.assert_array_equal(_np(dyd), dy)


def test_relu_integer_x_is_type_error():
    with pytest.raises(TypeError, match=r"\bx\b"):
        F.relu_forward(np.arange(16).reshape(1, 1, 4, 4))


def test_relu_backward_dy_wrong_shape():
    _, cache = F.relu_forward(np.zeros((1, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"\bdy\b"):
        F.relu_backward(np.zeros((1, 2, 3, 4)), cache)
