"""Properties of mean_field_forward, and the lattice against the exact kernel on real photos.

Thresholds: MAP labels of "lattice" vs "exact" agree on >= 97 % of the pixels on average over
nine 40 x 50 crops of three scikit-image photographs (noisy unaries), >= 95 % on every crop;
marginals differ by < 0.05 on average. Properties hold to 1e-12 (float64) / 1e-6 (float32).
"""

from __future__ import annotations

import numpy as np
import pytest

from minisegnet import backend
from minisegnet.crf import mean_field_backward, mean_field_forward

from ._util import crops, noisy_unary, random_case, softmax_neg

METHODS = ["exact", "lattice"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_marginals_sum_to_one_in_the_input_dtype_and_library(method, dtype, rng, to_dev):
    unary, image = random_case(rng, 12, 15, 4, dtype, spread=4.0)
    q, cache = mean_field_forward(to_dev(unary), to_dev(image), method=method)
    assert q.shape == unary.shape and q.dtype == dtype
    assert backend.device_of(q) == backend.device_of(to_dev(unary)) and q.flags.c_contiguous
    q = backend.to_numpy(q)
    tol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(q.sum(0), 1.0, rtol=0, atol=tol)
    assert q.min() >= 0 and cache.method == method


@pytest.mark.parametrize("method", METHODS)
def test_zero_pairwise_weights_give_softmax_of_minus_unary(method, rng, to_dev):
    unary, image = random_case(rng, 9, 11, 3)
    q, _ = mean_field_forward(to_dev(unary), to_dev(image), n_iter=5, compat_gaussian=0.0,
                              compat_bilateral=0.0, method=method)
    np.testing.assert_allclose(backend.to_numpy(q), softmax_neg(unary), rtol=0, atol=1e-14)


@pytest.mark.parametrize("method", METHODS)
def test_no_iterations_give_softmax_of_minus_unary(method, rng, to_dev):
    unary, image = random_case(rng, 9, 11, 3)
    q, cache = mean_field_forward(to_dev(unary), to_dev(image), n_iter=0, method=method)
    np.testing.assert_allclose(backend.to_numpy(q), softmax_neg(unary), rtol=0, atol=1e-14)
    dq = np.random.default_rng(1).standard_normal(unary.shape)
    s = softmax_neg(unary)
    expected = -s * (dq - (s * dq).sum(0, keepdims=True))  # d softmax(-U) / dU, by hand
    np.testing.assert_allclose(backend.to_numpy(mean_field_backward(to_dev(dq), cache)), expected,
                               rtol=0, atol=1e-14)


@pytest.mark.parametrize("method, size", [("exact", (20, 20)), ("lattice", (48, 64))])
def test_strong_smoothness_removes_isolated_noise_on_a_constant_image(method, size, to_dev):
    rng = np.random.default_rng(5)
    h, w = size
    image = np.full((h, w, 3), 120, dtype=np.uint8)
    truth = np.zeros((h, w), dtype=int)
    truth[:, w // 2:] = 1  # two halves
    noisy = truth.copy()
    flip = rng.random((h, w)) < 0.08  # isolated wrong pixels
    noisy[flip] = 1 - noisy[flip]
    prob = np.where(np.arange(2)[:, None, None] == noisy[None], 0.7, 0.3)
    unary = -np.log(prob)
    q, _ = mean_field_forward(to_dev(unary), to_dev(image), sxy_gaussian=3.0, compat_gaussian=10.0,
                              compat_bilateral=0.0, method=method)
    refined = backend.to_numpy(q).argmax(0)
    assert (noisy != truth).mean() > 0.05
    border = np.abs(np.arange(w) - w // 2 + 0.5) > 3  # away from the true edge
    assert (refined != truth)[:, border].mean() == 0


def test_auto_picks_exact_for_tiny_images_and_lattice_otherwise(rng):
    small = random_case(rng, 50, 50, 2)
    large = random_case(rng, 50, 51, 2)
    assert mean_field_forward(*small)[1].method == "exact"
    assert mean_field_forward(*large)[1].method == "lattice"


def test_lattice_matches_exact_on_crops_of_real_photographs():
    rng = np.random.default_rng(11)
    agreements, gaps, report = [], [], []
    for name, image in crops(seed=0):
        unary = noisy_unary(image, 5, rng)
        q_exact, _ = mean_field_forward(unary, image, method="exact")
        q_fast, _ = mean_field_forward(unary, image, method="lattice")
        agree = float((q_exact.argmax(0) == q_fast.argmax(0)).mean())
        gap = float(np.abs(q_exact - q_fast).mean())
        changed = float((q_exact.argmax(0) != unary.argmin(0)).mean())
        agreements.append(agree)
        gaps.append(gap)
        report.append(f"{name}: MAP agreement {agree:.3f}, mean |ΔQ| {gap:.4f}, "
                      f"CRF changed {changed:.0%} of the unary's labels")
    print("\n".join(report))
    assert min(agreements) >= 0.95, report
    assert np.mean(agreements) >= 0.97, report
    assert np.mean(gaps) < 0.05, report


def test_paper_form_on_the_lattice_approximates_the_exact_one():
    """normalization="none" + exclude_self (calibrated lattice) vs the exact paper form."""
    rng = np.random.default_rng(12)
    agreements = []
    for _, image in crops(seed=1, per_photo=1):
        unary = noisy_unary(image, 4, rng)
        params = dict(compat_gaussian=0.2, compat_bilateral=0.02, normalization="none",
                      exclude_self=True)
        q_exact, _ = mean_field_forward(unary, image, method="exact", **params)
        q_fast, _ = mean_field_forward(unary, image, method="lattice", **params)
        agreements.append(float((q_exact.argmax(0) == q_fast.argmax(0)).mean()))
    assert min(agreements) >= 0.9, agreements


@pytest.mark.parametrize("method", METHODS)
def test_saved_history_and_recomputation_give_the_same_gradient(method, rng, to_dev):
    unary, image = random_case(rng, 14, 13, 3)
    dq = rng.standard_normal(unary.shape)
    _, c1 = mean_field_forward(to_dev(unary), to_dev(image), method=method, save_history=True)
    _, c2 = mean_field_forward(to_dev(unary), to_dev(image), method=method, save_history=False)
    assert c1.history is not None and len(c1.history) == 6 and c2.history is None
    g1 = backend.to_numpy(mean_field_backward(to_dev(dq), c1))
    g2 = backend.to_numpy(mean_field_backward(to_dev(dq), c2))
    np.testing.assert_allclose(g1, g2, rtol=0, atol=1e-14)


def test_input_arrays_are_left_untouched(rng):
    unary, image = random_case(rng, 10, 60, 3)
    u0, i0 = unary.copy(), image.copy()
    q, cache = mean_field_forward(unary, image, method="lattice")
    mean_field_backward(np.ones_like(q), cache)
    np.testing.assert_array_equal(unary, u0)
    np.testing.assert_array_equal(image, i0)
