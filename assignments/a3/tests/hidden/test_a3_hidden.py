"""A3 hidden tests: the same functions on other, random shapes and parameters."""

import numpy as np
import pytest

SEEDS = [3101, 3102, 3103]


def _ints(data, seed, count=12):
    return [int(v) for v in data.integers((count,), seed, 0, 1 << 20)]


@pytest.mark.points(3)
@pytest.mark.parametrize("seed", SEEDS)
def test_adaptive_pool_matrix_random(check, data, seed):
    """adaptive_pool_matrix on random sizes and bin counts"""
    r = _ints(data, seed)
    for k in range(3):
        check("adaptive_pool_matrix", size=1 + r[2 * k] % 13, bins=1 + r[2 * k + 1] % 9)


@pytest.mark.points(5)
@pytest.mark.parametrize("seed", SEEDS)
def test_adaptive_avg_pool2d_random(check, data, seed):
    """adaptive_avg_pool2d forward and backward on random shapes"""
    r = _ints(data, seed)
    n, c = 1 + r[0] % 2, 1 + r[1] % 3
    size = (1 + r[2] % 9, 1 + r[3] % 9)
    out = (1 + r[4] % 7, 1 + r[5] % 7)
    dtype = np.float32 if r[6] % 2 else np.float64
    x = data.uniform((n, c) + size, seed + 1, dtype=dtype)
    dy = data.uniform((n, c) + out, seed + 2, dtype=dtype)
    check("adaptive_avg_pool2d", x=x, output_size=out, dy=dy)


@pytest.mark.points(2)
@pytest.mark.parametrize("seed", SEEDS)
def test_adaptive_max_pool2d_random(check, data, seed):
    """adaptive_max_pool2d (your _bin_edges) on random shapes"""
    r = _ints(data, seed)
    size = (1 + r[0] % 9, 1 + r[1] % 9)
    out = (1 + r[2] % 7, 1 + r[3] % 7)
    x = data.distinct((1 + r[4] % 2, 1 + r[5] % 3) + size, seed + 1)
    dy = data.uniform(x.shape[:2] + out, seed + 2)
    check("adaptive_max_pool2d", x=x, output_size=out, dy=dy)


@pytest.mark.points(5)
@pytest.mark.parametrize("seed", SEEDS)
def test_pyramid_pooling_random(check, data, seed):
    """PyramidPooling forward and backward on random shapes, bins and options"""
    r = _ints(data, seed)
    bins = [(1, 2, 3, 6), (1, 3), (2, 4, 5), (1,)][r[0] % 4]
    c = len(bins) * (1 + r[1] % 3) + r[2] % len(bins)
    size = (2 + r[3] % 8, 2 + r[4] % 8)
    reduction = bool(r[5] % 3)
    pooling = "max" if r[6] % 4 == 0 else "avg"
    x = data.uniform((2 + r[7] % 2, c) + size, seed + 1)
    branch = c // len(bins) if reduction else c
    dy = data.uniform((x.shape[0], c + len(bins) * branch) + size, seed + 2)
    check("pyramid_pooling", x=x, bins=bins, dy=dy, reduction=reduction, pooling=pooling,
          align_corners=bool(r[8] % 2))
