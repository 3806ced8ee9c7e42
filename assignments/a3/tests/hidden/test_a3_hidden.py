"""A3 hidden tests: the same functions on other, random shapes and parameters."""

import numpy as np
import pytest

SEEDS = [3101, 3102, 3103]


def _ints(data, seed, count=12):
    return [int(v) for v in data.integers((count,), seed, 0, 1 << 20)]


# Adaptive pooling: every kind of bin layout drawn by a chosen size (the seed only draws data):
# bins dividing the size, overlapping bins (size not a multiple), more bins than pixels.
MATRIX_CASES = [
    [(12, 4), (9, 1), (8, 8)],       # dividing: equal bins, one global bin, one pixel per bin
    [(13, 5), (11, 3), (10, 4)],     # overlapping neighbours
    [(3, 8), (1, 4), (5, 7)],        # more bins than pixels: pixels repeat
]


@pytest.mark.points(2)
@pytest.mark.parametrize("case", range(len(MATRIX_CASES)))
def test_adaptive_pool_matrix_cases(check, case):
    """adaptive_pool_matrix: dividing bins, overlapping bins, more bins than pixels"""
    for size, bins in MATRIX_CASES[case]:
        check("adaptive_pool_matrix", size=size, bins=bins)


# (N, C), input (H, W), output (oh, ow), dtype
AVG_CASES = [
    ((2, 3), (8, 6), (4, 3), np.float64),    # dividing on both axes
    ((1, 2), (7, 9), (3, 4), np.float32),    # overlapping on both axes
    ((2, 2), (3, 9), (5, 1), np.float64),    # more bins than rows; one global column bin
]


@pytest.mark.points(5)
@pytest.mark.parametrize("case", range(len(AVG_CASES)))
def test_adaptive_avg_pool2d_cases(check, data, case):
    """adaptive_avg_pool2d forward and backward: dividing, overlapping, more bins than pixels"""
    (n, c), size, out, dtype = AVG_CASES[case]
    seed = 3110 + case
    x = data.uniform((n, c) + size, seed, dtype=dtype)
    dy = data.uniform((n, c) + out, seed + 1, dtype=dtype)
    check("adaptive_avg_pool2d", x=x, output_size=out, dy=dy)


MAX_CASES = [((1, 2), (7, 5), (3, 2)), ((2, 1), (4, 6), (6, 4)), ((1, 3), (9, 2), (2, 5))]


@pytest.mark.points(2)
@pytest.mark.parametrize("case", range(len(MAX_CASES)))
def test_adaptive_max_pool2d_cases(check, data, case):
    """adaptive_max_pool2d (your _bin_edges): overlapping bins, more bins than pixels"""
    (n, c), size, out = MAX_CASES[case]
    seed = 3130 + case
    x = data.distinct((n, c) + size, seed)
    dy = data.uniform((n, c) + out, seed + 1)
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
