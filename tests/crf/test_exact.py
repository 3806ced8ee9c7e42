"""method="exact" against the loop reference (``reference_crf.py``) on tiny images.

float64 must agree to 1e-10 (scale-normalised): the two compute the same sums in a different
order. float32 against the float64 reference to 1e-5. Runs on NumPy, or on CuPy with
``--device=gpu``.
"""

from __future__ import annotations

import numpy as np
import pytest

from minisegnet import backend
from minisegnet.crf import mean_field_forward
from minisegnet.crf.exact import ExactKernel

from ._util import R, random_case

CASES = [  # (h, w, L, params)
    (4, 5, 3, {}),
    (5, 6, 2, dict(n_iter=3, sxy_gaussian=1.5, compat_gaussian=2.0, sxy_bilateral=4.0, srgb=40.0,
                   compat_bilateral=5.0)),
    (3, 7, 4, dict(n_iter=8, sxy_gaussian=0.7, compat_gaussian=-1.0, sxy_bilateral=2.0, srgb=25.0,
                   compat_bilateral=3.0)),
    (6, 4, 3, dict(n_iter=1, compat_gaussian=0.0)),
]


@pytest.mark.parametrize("h, w, n_labels, params", CASES)
def test_exact_matches_loop_reference(h, w, n_labels, params, rng, to_dev):
    unary, image = random_case(rng, h, w, n_labels)
    q, _ = mean_field_forward(to_dev(unary), to_dev(image), method="exact", **params)
    expected = R.mean_field_loop(unary, image, **params)
    assert backend.device_of(q) == backend.device_of(to_dev(unary))
    np.testing.assert_allclose(backend.to_numpy(q), expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("normalization, exclude_self", [("none", True), ("none", False),
                                                          ("symmetric", True)])
def test_exact_paper_form_matches_loop_reference(normalization, exclude_self, rng, to_dev):
    unary, image = random_case(rng, 4, 6, 3)
    params = dict(n_iter=4, sxy_gaussian=1.0, compat_gaussian=0.3, sxy_bilateral=3.0, srgb=60.0,
                  compat_bilateral=0.2)
    q, _ = mean_field_forward(to_dev(unary), to_dev(image), method="exact",
                              normalization=normalization, exclude_self=exclude_self, **params)
    expected = R.mean_field_loop(unary, image, normalization=normalization,
                                 exclude_self=exclude_self, **params)
    np.testing.assert_allclose(backend.to_numpy(q), expected, rtol=0, atol=1e-10)


def test_exact_float32_close_to_float64_reference(rng, to_dev):
    unary, image = random_case(rng, 5, 5, 3)
    q, _ = mean_field_forward(to_dev(unary.astype(np.float32)), to_dev(image), method="exact")
    assert q.dtype == np.float32
    np.testing.assert_allclose(backend.to_numpy(q), R.mean_field_loop(unary, image), rtol=0, atol=1e-5)


def test_blocked_rows_equal_dense_matrix(rng, to_dev):
    """Small blocks recomputed every time give the same product as the stored matrix."""
    feats = rng.random((57, 5)) * 3
    values = rng.random((57, 4))
    dense = ExactKernel(to_dev(feats))
    blocked = ExactKernel(to_dev(feats), block_entries=57 * 5, dense_bytes=0)
    assert dense.dense is not None and blocked.dense is None and blocked.block == 5
    np.testing.assert_allclose(backend.to_numpy(blocked.apply(to_dev(values))),
                               backend.to_numpy(dense.apply(to_dev(values))), rtol=1e-12, atol=0)


def test_normalised_kernel_is_symmetric_with_unit_row_sums_for_uniform_density(to_dev):
    """On a regular grid with a bandwidth far above the image (K ≈ all ones), D K D ≈ 1/N."""
    feats = np.stack(np.meshgrid(np.arange(6.0), np.arange(5.0)), -1).reshape(-1, 2) / 1e4
    k = ExactKernel(to_dev(feats))
    dense = backend.to_numpy(k.dense)
    np.testing.assert_allclose(dense, dense.T, rtol=0, atol=1e-15)
    np.testing.assert_allclose(dense, 1.0 / 30, rtol=1e-6)
