"""The permutohedral lattice: its two implementations agree, its transpose is the adjoint,
and it approximates the exact Gaussian kernel.

* Numba kernels (CPU) vs the array-op twin (the path CuPy arrays take, run here on NumPy
  with ``np.add.at``): equal to rounding, serial and parallel drivers both;
* ``⟨u, B v⟩ = ⟨Bᵀ u, v⟩`` with ``Bᵀ`` the reverse-order blur, to 1e-12 (float64);
* the normalised lattice kernel against the exact one (written in this file) on a crop of a
  real photograph: within 15 % (Frobenius), the error level of Krähenbühl's lattice.
"""

from __future__ import annotations

import numpy as np
import pytest

from minisegnet.crf import _lattice_kernels as K
from minisegnet.crf import lattice, mean_field_backward, mean_field_forward, meanfield

from ._util import photo, random_case


def _features(image, sxy, srgb=None):
    """Features written here: (x/sxy, y/sxy[, rgb/srgb]), x the column."""
    h, w = image.shape[:2]
    y, x = np.mgrid[0:h, 0:w]
    cols = [x.ravel() / sxy, y.ravel() / sxy]
    if srgb is not None:
        cols += [image[..., c].ravel() / srgb for c in range(3)]
    return np.stack(cols, 1).astype(np.float64)


def _lattice_matrix(feats, reverse=False):
    """The lattice operator as a dense matrix (filtering the identity)."""
    n = feats.shape[0]
    return lattice.lattice_filter(np.eye(n), feats, reverse=reverse)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_labels", [3, 24])  # 24 x 48 x 40 pixels: the parallel driver
@pytest.mark.parametrize("reverse", [False, True])
def test_numba_filter_equals_array_twin(dtype, n_labels, reverse):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)
    feats = _features(image, 5.0, 20.0)
    offsets, weights, neighbours = lattice.build_lattice(feats)
    values = rng.random((feats.shape[0], n_labels)).astype(dtype)
    scale = (0.5 + rng.random(feats.shape[0])).astype(dtype)
    base = rng.random(values.shape).astype(dtype)
    numba_lat = lattice._Lattice(offsets, weights, neighbours, dtype, np, vectorised=False)
    array_lat = lattice._Lattice(offsets, weights, neighbours, dtype, np, vectorised=True)
    out_numba, out_array = np.empty_like(values), np.empty_like(values)
    numba_lat.filter(values, scale, scale, 0.7, base, -1.0, out_numba, reverse)
    array_lat.filter(values, scale, scale, 0.7, base, -1.0, out_array, reverse)
    assert (values.size >= K.PARALLEL_MIN_SIZE) == (n_labels == 24)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(out_numba, out_array, rtol=0, atol=tol * np.abs(out_array).max())


def test_reverse_blur_is_the_adjoint():
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)
    feats = _features(image, 2.0, 30.0)
    forward = _lattice_matrix(feats)
    backward = _lattice_matrix(feats, reverse=True)
    np.testing.assert_allclose(backward, forward.T, rtol=0, atol=1e-12 * np.abs(forward).max())
    assert np.abs(forward - forward.T).max() > 1e-3 * np.abs(forward).max()  # really not symmetric


@pytest.mark.parametrize("sxy, srgb", [(3.0, None), (80.0, 13.0)])
def test_normalised_lattice_kernel_approximates_exact_gaussian(sxy, srgb):
    image = photo("chelsea")[100:130, 200:240]
    feats = _features(image, sxy, srgb)
    approx = _lattice_matrix(feats)
    d2 = ((feats[:, None, :] - feats[None, :, :]) ** 2).sum(-1)
    exact = np.exp(-0.5 * d2)

    def normalised(k):
        s = 1 / np.sqrt(k.sum(1))
        return s[:, None] * k * s[None, :]

    err = np.linalg.norm(normalised(approx) - normalised(exact)) / np.linalg.norm(normalised(exact))
    assert err < 0.15, err
    # the lattice kernel is a Gaussian of nearly the right width: log K vs |Δf|² has slope ≈ -1/2
    mask = (exact > 1e-2) & (approx > 0)
    slope = np.polyfit(d2[mask], np.log(approx[mask]), 1)[0]
    assert -0.6 < slope < -0.45, slope


def test_calibration_recovers_the_kernel_scale():
    """c·K_lattice·1 ≈ K·1 (exact), so "none" and exclude_self can use the lattice."""
    image = photo("coffee")[50:90, 100:150]
    for sxy, srgb in [(3.0, None), (10.0, 20.0)]:
        feats = _features(image, sxy, srgb)
        k1_lattice = lattice.lattice_filter(np.ones((feats.shape[0], 1)), feats)[:, 0]
        c = lattice.calibrate(feats, k1_lattice)
        d2 = ((feats[:, None, :] - feats[None, :, :]) ** 2).sum(-1)
        k1 = np.exp(-0.5 * d2).sum(1)
        assert abs(np.median(c * k1_lattice / k1) - 1) < 0.1


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("options", [{}, dict(normalization="none", exclude_self=True,
                                              compat_gaussian=0.05, compat_bilateral=0.01)])
def test_mean_field_numba_path_equals_array_path(dtype, options, monkeypatch):
    """The whole forward and backward, Numba vs the array ops CuPy arrays take."""
    rng = np.random.default_rng(3)
    unary, image = random_case(rng, 24, 30, 5, dtype)
    dq = rng.standard_normal(unary.shape).astype(dtype)
    q1, c1 = mean_field_forward(unary, image, method="lattice", **options)
    g1 = mean_field_backward(dq, c1)
    monkeypatch.setattr(meanfield, "_FORCE_ARRAY_OPS", True)
    q2, c2 = mean_field_forward(unary, image, method="lattice", **options)
    assert not c2.use_numba and c1.use_numba
    g2 = mean_field_backward(dq, c2)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(q1, q2, rtol=0, atol=tol)
    np.testing.assert_allclose(g1, g2, rtol=0, atol=tol * np.abs(g2).max())


def test_build_finds_every_simplex_vertex_once():
    """Barycentric weights are a partition of unity and vertex rows are valid."""
    rng = np.random.default_rng(4)
    feats = rng.random((500, 5)) * 4
    offsets, weights, neighbours = lattice.build_lattice(feats)
    m = neighbours.shape[1] - 1
    np.testing.assert_allclose(weights.sum(1), 1.0, atol=1e-12)
    assert weights.min() >= -1e-12
    assert offsets.min() >= 1 and offsets.max() == m
    assert all(len(set(row)) == 6 for row in offsets.tolist())
    assert neighbours.min() >= 0 and neighbours.max() <= m and (neighbours[:, 0] == 0).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("size, n_labels", [((24, 30), 5), ((60, 70), 8)])  # serial, threaded
@pytest.mark.parametrize("options", [{}, dict(normalization="none", exclude_self=True,
                                              compat_gaussian=0.05, compat_bilateral=0.01)])
def test_fused_update_equals_the_kernel_by_kernel_update(dtype, size, n_labels, options,
                                                         monkeypatch):
    """Both kernels in one pass (lattice.fused_update) = filter, filter, softmax."""
    rng = np.random.default_rng(6)
    image = np.ascontiguousarray(photo("coffee")[100:100 + size[0], 200:200 + size[1]])
    unary = (3 * rng.random((n_labels,) + size)).astype(dtype)
    q1, cache = mean_field_forward(unary, image, method="lattice", **options)
    assert all(k.fusable for _, k in cache.kernels)
    monkeypatch.setattr(lattice.LatticeKernel, "fusable", property(lambda self: False))
    q2, _ = mean_field_forward(unary, image, method="lattice", **options)
    tol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(q1, q2, rtol=0, atol=tol)
