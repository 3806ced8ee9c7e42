"""The permutohedral lattice: its two filters agree, its build does not depend on the thread
count, its transpose is the adjoint, and it approximates the exact Gaussian kernel.

* the Numba filter (fast tier) vs the array-op twin (reference tier, the path CuPy arrays
  take, run here on NumPy with ``np.add.at``): equal to rounding, serial and parallel
  drivers both;
* the build over 1, 2, 3 or 7 threads' chunks: the same arrays, bit for bit;
* ``⟨u, B v⟩ = ⟨Bᵀ u, v⟩`` with ``Bᵀ`` the reverse-order blur, to 1e-12 (float64);
* the normalised lattice kernel against the exact one (written in this file) on a crop of a
  real photograph: within 15 % (Frobenius), the error level of Krähenbühl's lattice.
"""

from __future__ import annotations

import numpy as np
import pytest

from minisegnet import backend
from minisegnet.crf import _lattice_kernels as K
from minisegnet.crf import lattice

from ._util import photo


def _features(image, sxy, srgb=None):
    """Features written here: (x/sxy, y/sxy[, rgb/srgb]), x the column."""
    h, w = image.shape[:2]
    y, x = np.mgrid[0:h, 0:w]
    cols = [x.ravel() / sxy, y.ravel() / sxy]
    if srgb is not None:
        cols += [image[..., c].ravel() / srgb for c in range(3)]
    return np.stack(cols, 1).astype(np.float64)


def _lattice_matrix(feats, transpose=False):
    """The lattice operator as a dense matrix (filtering the identity)."""
    n = feats.shape[0]
    return lattice.lattice_filter(np.eye(n), feats, transpose=transpose)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_labels", [3, 24])  # 24 x 48 x 40 pixels: the parallel driver
@pytest.mark.parametrize("transpose", [False, True])
def test_numba_filter_equals_array_twin(dtype, n_labels, transpose):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)
    lat = lattice.Lattice(_features(image, 5.0, 20.0), dtype=dtype)
    values = rng.random((lat.offsets.shape[0], n_labels)).astype(dtype)
    scale_in, scale_out = (0.5 + rng.random((2, len(values)))).astype(dtype)
    outs = {}
    for impl in ("fast", "reference"):
        with backend.use_impl(impl):
            outs[impl] = lat.filter(values, coef=0.7, scale_in=scale_in, scale_out=scale_out,
                                    transpose=transpose)
    assert (values.size >= K.PARALLEL_MIN_SIZE) == (n_labels == 24)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    assert outs["fast"].dtype == outs["reference"].dtype == dtype
    np.testing.assert_allclose(outs["fast"], outs["reference"], rtol=0,
                               atol=tol * np.abs(outs["reference"]).max())


@pytest.mark.parametrize("sxy, srgb", [(3.0, None), (10.0, 15.0)])
def test_build_does_not_depend_on_the_thread_count(sxy, srgb):
    """Chunks embedded apart and merged in order number the vertices as one thread does."""
    feats = _features(photo("astronaut")[100:200, 150:250], sxy, srgb)
    assert len(feats) >= K.BUILD_PARALLEL_MIN_PIXELS  # else every build is a one-thread build
    one = K.build_lattice(feats, 1)
    for parts in (2, 3, 7):
        for a, b in zip(one, K.build_lattice(feats, parts)):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)


def test_reverse_blur_is_the_adjoint():
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)
    feats = _features(image, 2.0, 30.0)
    forward = _lattice_matrix(feats)
    backward = _lattice_matrix(feats, transpose=True)
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


def test_row_sums_equal_the_filter_of_ones():
    """``Lattice.row_sums`` (one scalar pass, float64) is the filter of a constant 1."""
    image = photo("coffee")[40:100, 80:150]
    lat = lattice.Lattice(_features(image, 6.0, 15.0), dtype=np.float64)
    ones = np.ones((lat.offsets.shape[0], 1))
    for impl in ("fast", "reference"):
        with backend.use_impl(impl):
            np.testing.assert_allclose(lat.row_sums(), lat.filter(ones)[:, 0], rtol=1e-12)
