"""A2 public tests: max pooling that remembers its argmax, forward and backward."""

import numpy as np
import pytest

INDICES = ("indices point into the flattened H*W plane of each (n, c) of the UNPADDED input: "
           "row * W + col, as torch.nn.functional.max_pool2d(..., return_indices=True)")


@pytest.mark.points(2)
def test_max_pool2d_forward_indices(check, data):
    """max_pool2d: 2x2 windows, values and PyTorch's indices"""
    x = data.distinct((1, 2, 4, 6), seed=211)
    check("max_pool2d", x=x, kernel_size=2, hint=INDICES)


@pytest.mark.points(2)
def test_max_pool2d_ties_go_to_the_first_maximum(check, data):
    """max_pool2d: ties go to the first maximum in row-major order"""
    x = data.integers((2, 1, 4, 4), seed=212, low=0, high=3).astype(np.float64)
    check("max_pool2d", x=x, kernel_size=2,
          hint="scan each window row by row and replace the best only on a strictly larger "
               "value (> not >=), as PyTorch does")


@pytest.mark.points(2)
def test_max_pool2d_pads_with_minus_infinity(check, data):
    """max_pool2d: padding never wins (all inputs negative)"""
    x = data.uniform((1, 2, 5, 5), seed=213, low=-2.0, high=-1.0)
    check("max_pool2d", x=x, kernel_size=3, stride=2, padding=1,
          hint="pad with -inf, not 0: with negative inputs a zero pad would win; " + INDICES)


@pytest.mark.points(2)
def test_max_pool2d_backward_overlapping_windows(check, data):
    """max_pool2d backward: a pixel that wins several windows gets the sum"""
    x = data.distinct((1, 1, 5, 5), seed=214)
    dy = data.uniform((1, 1, 3, 3), seed=215)
    check("max_pool2d", x=x, kernel_size=3, stride=1, dy=dy,
          hint="with overlapping windows one pixel can be the max of several: dx there is the "
               "SUM of their dy (+= / np.add.at / bincount; dx[idx] = dy keeps only one)")


@pytest.mark.points(2)
def test_max_pool2d_backward_windows_overlapping_on_one_axis(check, data):
    """max_pool2d backward: 3x2 windows, stride 2: rows overlap, columns do not"""
    x = data.distinct((2, 2, 7, 6), seed=219)
    dy = data.uniform((2, 2, 3, 3), seed=220)
    check("max_pool2d", x=x, kernel_size=(3, 2), stride=(2, 2), dy=dy,
          hint="windows overlap when the kernel is larger than the stride on EITHER axis (here "
               "the rows: kernel 3, stride 2), so a pixel can win two windows and must get the "
               "sum of their dy; a shortcut for disjoint windows needs stride >= kernel on both")


@pytest.mark.points(1)
def test_max_pool2d_default_stride_and_pair_return(check, data):
    """max_pool2d: stride defaults to kernel_size; without indices it returns (y, cache)"""
    x = data.uniform((2, 2, 6, 6), seed=216)
    check("max_pool2d_plain", x=x, kernel_size=3,
          hint="stride=None means stride=kernel_size (disjoint 3x3 windows here)")


@pytest.mark.points(2)
def test_max_pool2d_rectangular_float32(check, data):
    """max_pool2d: rectangular kernel, stride and padding in float32, with backward"""
    x = data.distinct((2, 3, 6, 7), seed=217, dtype=np.float32)
    dy = data.uniform((2, 3, 7, 4), seed=218, dtype=np.float32)
    check("max_pool2d", x=x, kernel_size=(2, 3), stride=(1, 2), padding=1, dy=dy,
          hint="keep (h, w) pairs apart, keep float32, indices are int64")
