"""Tier agreement of max pooling, max unpooling and adaptive max pooling.

The fast tier (Numba kernels, ``functional/_fast/pooling.py``) and the reference tier (the
vectorised window scan and ``bincount`` of ``functional/pooling.py``) must give the same
values, the same indices and the same gradients. Each tier is also checked against the naive
loops of ``tests/reference_resample.py`` in ``test_pooling.py`` (run that file with
``--impl=reference`` for the reference tier); here the cases are chosen so that every branch
of both is reached: windows overlapping on both axes, on the rows only, on the columns only,
disjoint windows, odd sizes that leave pixels unused, stride > 1, padding, ties, ``-inf`` and
NaN inputs, and planes above the fast tier's parallel threshold, plus random geometries.
"""

import numpy as np
import pytest

from minisegnet import backend
from minisegnet import functional as F
from minisegnet.functional import pooling

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
    ((3, 8, 64, 60), (3, 3), (2, 2), (1, 1)),    # 92 160 values: the parallel fast drivers
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
    with backend.use_impl("fast"):
        assert backend.fast_tier(np, pooling.FAST, cpu_only=True) is not None
    with backend.use_impl("reference"):
        assert backend.fast_tier(np, pooling.FAST, cpu_only=True) is None


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
