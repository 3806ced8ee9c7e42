"""A3 public tests: adaptive average pooling, its bins, forward and backward."""

import numpy as np
import pytest

EDGES = ("PyTorch's adaptive bins: bin i covers [floor(i*size/bins), ceil((i+1)*size/bins)); "
         "with size 7 and 3 bins that is [0, 3), [2, 5), [4, 7): neighbouring bins overlap. "
         "Rounding both ends down (or using size // bins as a fixed width) is the classic mistake")
GROWING = ("more bins than pixels (5 -> 6): every bin is still at least one pixel wide, so some "
           "pixels are repeated: [floor(i*5/6), ceil((i+1)*5/6))")


@pytest.mark.points(2)
def test_adaptive_pool_matrix_divisible(check):
    """adaptive_pool_matrix: 6 pixels into 1, 2, 3 and 6 bins (PSPNet's pyramid)"""
    for bins in (1, 2, 3, 6):
        check("adaptive_pool_matrix", size=6, bins=bins,
              hint="P[i, j] = 1 / (end_i - start_i) for start_i <= j < end_i, else 0")


@pytest.mark.points(2)
def test_adaptive_pool_matrix_overlapping_bins(check):
    """adaptive_pool_matrix: 7 -> 3 and 10 -> 6, where bins overlap"""
    check("adaptive_pool_matrix", size=7, bins=3, hint=EDGES)
    check("adaptive_pool_matrix", size=10, bins=6, hint=EDGES)


@pytest.mark.points(2)
def test_adaptive_pool_matrix_more_bins_than_pixels(check):
    """adaptive_pool_matrix: 5 -> 6 and 2 -> 3, where pixels repeat"""
    check("adaptive_pool_matrix", size=5, bins=6, hint=GROWING)
    check("adaptive_pool_matrix", size=2, bins=3, hint=GROWING)


@pytest.mark.points(2)
def test_bin_edges_through_adaptive_max_pool(check, data):
    """_bin_edges: adaptive max pooling 7x5 -> 3x6 uses your bin edges"""
    x = data.distinct((1, 2, 7, 5), seed=311)
    dy = data.uniform((1, 2, 3, 6), seed=312)
    check("adaptive_max_pool2d", x=x, output_size=(3, 6), dy=dy,
          hint="adaptive_max_pool2d_forward takes its windows from _bin_edges; " + EDGES)


@pytest.mark.points(2)
def test_adaptive_avg_pool2d_forward(check, data):
    """adaptive_avg_pool2d: 6x6 -> 1, 2, 3, 6 and 7x9 -> 3x4"""
    x = data.uniform((2, 3, 6, 6), seed=313)
    for size in (1, 2, 3, 6):
        check("adaptive_avg_pool2d", x=x, output_size=size,
              hint="an int output_size means a square (size, size) grid; y = P_h x P_w^T")
    x = data.uniform((1, 2, 7, 9), seed=314)
    check("adaptive_avg_pool2d", x=x, output_size=(3, 4), hint=EDGES)


@pytest.mark.points(2)
def test_adaptive_avg_pool2d_backward(check, data):
    """adaptive_avg_pool2d backward: overlapping bins add their gradients"""
    x = data.uniform((2, 2, 7, 5), seed=315)
    dy = data.uniform((2, 2, 3, 6), seed=316)
    check("adaptive_avg_pool2d", x=x, output_size=(3, 6), dy=dy,
          hint="dx = P_h^T dy P_w: a pixel in two overlapping bins gets both bins' share, "
               "each divided by that bin's size")


@pytest.mark.points(2)
def test_adaptive_avg_pool2d_float32(check, data):
    """adaptive_avg_pool2d: float32 stays float32, forward and backward"""
    x = data.uniform((1, 3, 5, 8), seed=317, dtype=np.float32)
    dy = data.uniform((1, 3, 2, 3), seed=318, dtype=np.float32)
    check("adaptive_avg_pool2d", x=x, output_size=(2, 3), dy=dy,
          hint="build the pooling matrices in x's dtype (adaptive_pool_matrix(..., dtype=x.dtype))")
