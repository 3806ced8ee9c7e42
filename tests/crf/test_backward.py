"""mean_field_backward against float64 central differences of a random linear functional.

``f(U) = Σ dQ ⊙ Q(U)`` with a fixed random ``dQ``; its gradient by central differences
(``tests/reference.py``) must match backward to 1e-6 (scale-normalised). The step ``h`` is
chosen per case: five iterations with compat 10 can make Q a steep function of U, where the
truncation error (``∝ h²``: 5e-4, 5e-6, 7e-8 for ``h = 1e-4, 1e-5, 1e-6`` on the first
lattice case) needs ``h = 1e-6``, or a nearly saturated one, where the rounding error
(``∝ 1/h``) needs ``h = 1e-5``. The lattice is checked against its own forward (its
operator is fixed by the image, so Q is a smooth function of U). The compat gradients
(``mean_field_gradients``) likewise, with differences in the weight.
"""

from __future__ import annotations

import numpy as np
import pytest

from minisegnet import backend
from minisegnet.crf import MeanFieldGrads, mean_field_backward, mean_field_forward, mean_field_gradients

from ._util import num_grad_array, random_case

TOL = 1e-6
H = 1e-6  # for the compat gradients


def _scaled_error(actual, expected):
    return float(np.abs(actual - expected).max() / max(np.abs(expected).max(), 1e-8))


CASES = [  # method, (h, w, L), params, finite-difference step
    ("exact", (6, 7, 3), {}, 1e-6),
    ("exact", (3, 4, 2), dict(n_iter=2, compat_gaussian=-2.0, srgb=50.0, sxy_bilateral=3.0,
                              normalization="none", exclude_self=True), 1e-5),
    ("lattice", (6, 7, 3), {}, 1e-6),
    ("lattice", (5, 6, 4), dict(n_iter=3, sxy_gaussian=1.0, sxy_bilateral=4.0, srgb=30.0,
                                compat_bilateral=4.0), 1e-6),
    ("lattice", (4, 6, 2), dict(normalization="none", exclude_self=True, compat_gaussian=0.3,
                                compat_bilateral=0.1), 1e-5),
    ("lattice", (5, 5, 3), dict(exclude_self=True, compat_bilateral=3.0), 1e-6),
]


@pytest.mark.parametrize("method, shape, params, step", CASES)
def test_unary_gradient_matches_central_differences(method, shape, params, step, to_dev):
    rng = np.random.default_rng(7)
    h, w, n_labels = shape
    unary, image = random_case(rng, h, w, n_labels, spread=3.0)
    dq = rng.standard_normal(unary.shape)
    image_dev = to_dev(image)

    def forward(u):
        return backend.to_numpy(mean_field_forward(to_dev(u), image_dev, method=method, **params)[0])

    _, cache = mean_field_forward(to_dev(unary), image_dev, method=method, **params)
    grad = backend.to_numpy(mean_field_backward(to_dev(dq), cache))
    numeric = num_grad_array(forward, unary.copy(), dq, h=step)
    assert _scaled_error(grad, numeric) < TOL


@pytest.mark.parametrize("method", ["exact", "lattice"])
def test_compat_gradients_match_central_differences(method, to_dev):
    rng = np.random.default_rng(8)
    unary, image = random_case(rng, 5, 6, 3, spread=3.0)
    dq = rng.standard_normal(unary.shape)
    params = dict(compat_gaussian=1.5, compat_bilateral=2.5, n_iter=4)
    _, cache = mean_field_forward(to_dev(unary), to_dev(image), method=method, **params)
    grads = mean_field_gradients(to_dev(dq), cache)
    assert isinstance(grads, MeanFieldGrads)
    dunary, dg, db = grads
    assert isinstance(dg, float) and isinstance(db, float)
    np.testing.assert_array_equal(backend.to_numpy(dunary),
                                  backend.to_numpy(mean_field_backward(to_dev(dq), cache)))
    h = H
    for name, analytic in (("compat_gaussian", dg), ("compat_bilateral", db)):
        values = []
        for sign in (1, -1):
            p = dict(params, **{name: params[name] + sign * h})
            q = backend.to_numpy(mean_field_forward(to_dev(unary), to_dev(image), method=method, **p)[0])
            values.append(float((q * dq).sum()))
        numeric = (values[0] - values[1]) / (2 * h)
        assert abs(analytic - numeric) <= TOL * max(abs(numeric), 1e-3), (name, analytic, numeric)


def test_compat_gradient_of_a_zero_weight_is_still_computed():
    rng = np.random.default_rng(9)
    unary, image = random_case(rng, 5, 5, 3, spread=3.0)
    dq = rng.standard_normal(unary.shape)
    _, cache = mean_field_forward(unary, image, compat_gaussian=0.0, method="exact")
    dg = mean_field_gradients(dq, cache).compat_gaussian
    h = H
    qp = mean_field_forward(unary, image, compat_gaussian=h, method="exact")[0]
    qm = mean_field_forward(unary, image, compat_gaussian=-h, method="exact")[0]
    numeric = float(((qp - qm) * dq).sum()) / (2 * h)
    assert abs(dg - numeric) < TOL * max(abs(numeric), 1e-3) and abs(numeric) > 1e-6


def test_float32_gradient_close_to_float64(rng):
    unary, image = random_case(rng, 30, 40, 4, spread=3.0)
    dq = rng.standard_normal(unary.shape)
    grads = []
    for dtype in (np.float64, np.float32):
        _, cache = mean_field_forward(unary.astype(dtype), image, method="lattice")
        g = mean_field_backward(dq.astype(dtype), cache)
        assert g.dtype == dtype
        grads.append(g.astype(np.float64))
    assert _scaled_error(grads[1], grads[0]) < 1e-4
