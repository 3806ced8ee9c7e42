"""Tier agreement of the resampling family: max pooling, max unpooling, adaptive max pooling
and bilinear resizing.

The fast tier (Numba kernels, ``functional/_fast/pooling.py`` and ``_fast/interpolate.py``)
and the reference tier (the vectorised window scan and ``bincount`` of
``functional/pooling.py``, the matrix products of ``functional/interpolate.py``) must give
the same values, the same indices and the same gradients. Each tier is also checked against the naive
loops of ``tests/reference_resample.py`` in ``test_pooling.py`` (run that file with
``--impl=reference`` for the reference tier); here the cases are chosen so that every branch
of both is reached: windows overlapping on both axes, on the rows only, on the columns only,
disjoint windows, odd sizes that leave pixels unused, stride > 1, padding, ties, ``-inf`` and
NaN inputs, and planes above the fast tier's parallel threshold, plus random geometries;
for bilinear resizing growing and shrinking, ``size`` and ``scale_factor``, both
``align_corners``, one-pixel sides. (Adaptive average pooling, nearest and bed-of-nails
unpooling and bilinear sampling have one tier.)
"""

import numpy as np
import pytest

from minisegnet import backend
from minisegnet import functional as F
from minisegnet.functional import interpolate, pooling

pytest.importorskip("numba")

# shape, kernel, stride, padding: the branches named in the docstring, one by one
CASES = [
    ((2, 3, 9, 8), (3, 3), (1, 1), (1, 1)),      # overlapping on both axes, padded
    ((2, 3, 9, 8), (3, 2), (2, 2), (1, 0)),      # overlapping on the rows only
    ((2, 3, 8, 9), (2, 3), (2, 2), (0, 1)),      # overlapping on the columns only
    ((1, 2, 7, 7), (2, 2), (2, 2), (0, 0)),      # disjoint, odd size: last row and column unused
    ((2, 2, 10, 7), (2, 2), (3, 3), (1, 1)),     # stride > kernel: gaps between windows
    ((2, 1, 5, 11), (1, 4), (3, 1), (0, 2)),     # 1-row windows, padding on one axis
    ((1, 1, 1, 1), (1, 1), (1, 1), (0, 0)),      # one pixel
    ((2, 8, 256, 260), (3, 3), (2, 2), (1, 1)),  # 1 064 960 values: the parallel fast drivers
]


def _random_cases(count=24, seed=12):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        kernel = tuple(int(v) for v in rng.integers(1, 5, 2))
        stride = tuple(int(v) for v in rng.integers(1, 5, 2))
        padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
        size = tuple(int(k + rng.integers(0, 9)) for k in kernel)
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4))) + size
        cases.append((shape, kernel, stride, padding))
    return cases


def _inputs(shape, seed):
    """Random normal, ties (values in {0, 1, 2}), and normal with -inf and NaN entries."""
    rng = np.random.default_rng(seed)
    normal = rng.standard_normal(shape)
    ties = rng.integers(0, 3, shape).astype(np.float64)
    special = normal.copy()
    special[rng.random(shape) < 0.3] = -np.inf
    special[rng.random(shape) < 0.05] = np.nan
    return {"normal": normal, "ties": ties, "special": special}


def _pool_and_unpool(x, dy, dz, kernel, stride, padding):
    """Max pool, its backward, then max unpool of the pooled values and its backward."""
    y, indices, cache = F.max_pool2d_forward(x, kernel, stride, padding, return_indices=True)
    dx = F.max_pool2d_backward(dy, cache)
    z, unpool_cache = F.max_unpool2d_forward(y, indices, kernel, stride, padding,
                                             output_size=x.shape[2:])
    dy_unpool = F.max_unpool2d_backward(dz, unpool_cache)
    return {"y": y, "indices": indices, "dx": dx, "z": z, "dy_unpool": dy_unpool}


def _assert_tiers_agree(ref, fast, dtype):
    for name in ref:
        assert fast[name].dtype == ref[name].dtype, name
        if name == "dx" and dtype == np.float32:  # sums of float32 in another order
            np.testing.assert_allclose(fast[name], ref[name], rtol=1e-6, atol=1e-6, err_msg=name)
        else:
            np.testing.assert_array_equal(fast[name], ref[name], err_msg=name)


def test_the_fast_tier_is_there_to_compare():
    """Guard: under ``"fast"`` the pooling ops really reach the Numba module (else the tier
    tests below would compare the reference tier with itself)."""
    for module in (pooling.FAST, interpolate.FAST):
        with backend.use_impl("fast"):
            assert backend.fast_tier(np, module, cpu_only=True) is not None
        with backend.use_impl("reference"):
            assert backend.fast_tier(np, module, cpu_only=True) is None


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape, kernel, stride, padding", CASES + _random_cases())
def test_max_pool_and_unpool_tiers_agree(shape, kernel, stride, padding, dtype, on_both_tiers):
    out = tuple((shape[2 + a] + 2 * padding[a] - kernel[a]) // stride[a] + 1 for a in (0, 1))
    rng = np.random.default_rng(sum(shape) + sum(kernel))
    dy = rng.standard_normal(shape[:2] + out).astype(dtype)
    dz = rng.standard_normal(shape).astype(dtype)
    for x in _inputs(shape, seed=len(shape) + shape[-1]).values():
        ref, fast = on_both_tiers(_pool_and_unpool, x.astype(dtype), dy, dz, kernel, stride,
                                  padding)
        _assert_tiers_agree(ref, fast, dtype)


@pytest.mark.parametrize("shape, out", [((2, 3, 7, 5), (3, 6)), ((1, 2, 9, 9), (4, 4)),
                                        ((2, 1, 5, 8), (5, 3)), ((3, 8, 64, 60), (6, 6))])
def test_adaptive_max_pool_tiers_agree(shape, out, on_both_tiers):
    """Adaptive max pooling shares the max-pool backward (bins overlap and repeat here)."""
    x = _inputs(shape, seed=5)["ties"]
    dy = np.random.default_rng(6).standard_normal(shape[:2] + out)

    def run():
        y, indices, cache = F.adaptive_max_pool2d_forward(x, out, return_indices=True)
        return {"y": y, "indices": indices, "dx": F.adaptive_max_pool2d_backward(dy, cache)}

    ref, fast = on_both_tiers(run)
    _assert_tiers_agree(ref, fast, np.float64)


# input (N, C, H, W), keyword arguments of bilinear_upsample_forward
BILINEAR_CASES = [
    ((2, 3, 5, 4), dict(size=(11, 9))),
    ((2, 3, 5, 4), dict(size=(11, 9), align_corners=True)),
    ((1, 2, 9, 8), dict(size=(4, 3))),                          # shrinking
    ((1, 2, 9, 8), dict(size=(4, 13), align_corners=True)),     # one axis down, one up
    ((2, 1, 4, 6), dict(scale_factor=(1.5, 2.25))),
    ((2, 1, 6, 4), dict(scale_factor=(0.5, 1.75), align_corners=True)),
    ((1, 2, 1, 5), dict(size=(3, 1))),                          # one-pixel sides
    ((1, 1, 3, 3), dict(size=(1, 4), align_corners=True)),
    ((4, 16, 17, 17), dict(size=(129, 129))),                   # the parallel drivers
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape, kwargs", BILINEAR_CASES)
def test_bilinear_tiers_agree(shape, kwargs, dtype, on_both_tiers):
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal(shape).astype(dtype)

    def run():
        y, cache = F.bilinear_upsample_forward(x, **kwargs)
        dy = np.cos(np.arange(y.size)).reshape(y.shape).astype(dtype)
        return {"y": y, "dx": F.bilinear_upsample_backward(dy, cache)}

    ref, fast = on_both_tiers(run)
    tol = 1e-5 if dtype == np.float32 else 1e-12   # sums in another order
    for name in ref:
        assert fast[name].dtype == ref[name].dtype and fast[name].shape == ref[name].shape
        np.testing.assert_allclose(fast[name], ref[name], rtol=tol, atol=tol, err_msg=name)


def test_a_cache_from_either_tier_serves_both_backward_tiers():
    """The forward pass of either tier leaves the same matrices in its cache."""
    x = np.random.default_rng(3).standard_normal((2, 2, 4, 5))
    dy = np.random.default_rng(4).standard_normal((2, 2, 7, 3))
    grads = []
    for forward_impl in ("reference", "fast"):
        with backend.use_impl(forward_impl):
            _, cache = F.bilinear_upsample_forward(x, size=(7, 3))
        for backward_impl in ("reference", "fast"):
            with backend.use_impl(backward_impl):
                grads.append(F.bilinear_upsample_backward(dy, cache))
    for g in grads[1:]:
        np.testing.assert_allclose(g, grads[0], rtol=1e-12, atol=1e-12)
