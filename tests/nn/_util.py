"""Shared helpers of the ``nn`` tests: finite-difference checks of whole modules.

The numerical gradients come from ``tests/reference.py``'s ``num_grad_array`` (central
differences written in the tests, not the library's own checker), in float64.
"""

from __future__ import annotations

import numpy as np

try:  # `python -m pytest` from the repository root
    from tests.reference import num_grad_array
except ImportError:  # plain `pytest`: tests/ itself is on sys.path
    from reference import num_grad_array

# Central differences in float64 with h = 1e-5 agree with a correct backward to ~1e-9;
# 1e-6 leaves room for rounding while any indexing or formula error is far above it.
TOL = 1e-6


def scaled_error(actual, expected, floor=1e-3) -> float:
    """``max |actual - expected| / max(max |expected|, floor)``: robust to entries that are ~0.

    The ``floor`` matters for gradients that are zero in theory, such as a conv bias
    followed by BatchNorm in training mode (BN removes any per-channel constant): central
    differences then give rounding noise (~1e-11), which is compared absolutely.
    """
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}"
    scale = max(float(np.max(np.abs(expected), initial=0.0)), floor)
    return float(np.max(np.abs(actual - expected), initial=0.0)) / scale


def check_module_gradients(module, x, seed=0, tol=TOL):
    """Compare ``module.backward`` with central differences of ``Σ module(x) · dy``.

    Checks the input gradient and the gradient of EVERY parameter. ``module`` and ``x``
    must be float64. Returns the largest error found (for messages).
    """
    assert x.dtype == np.float64
    y = module.forward(x)
    dy = np.random.default_rng(seed).standard_normal(y.shape)
    module.zero_grad(set_to_none=True)
    dx = module.backward(dy)

    worst = 0.0
    num_dx = num_grad_array(lambda xx: module.forward(xx), x, dy)
    err = scaled_error(dx, num_dx)
    assert err < tol, f"{type(module).__name__}: input gradient error {err:.2e}"
    worst = max(worst, err)
    for name, p in module.named_parameters():
        num = num_grad_array(lambda _: module.forward(x), p.data, dy)
        assert p.grad is not None, f"{name}: no gradient after backward"
        err = scaled_error(p.grad, num)
        assert err < tol, f"{type(module).__name__}: gradient of {name}: error {err:.2e}"
        worst = max(worst, err)
    return worst


def randn(rng, *shape):
    """A float64 standard-normal array."""
    return rng.standard_normal(shape)
