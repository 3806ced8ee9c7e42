"""Unit 03, hidden tests: the write-it exercises on parameters the public tests do not use."""

import numpy as np
import pytest

CONV1D = {  # (k, n, padding, stride) drawn to reach what the public tests do not
    "small-kernels": [(1, 5, 0, 1), (4, 9, 1, 1)],                  # a 1-tap and an even kernel
    "padding-wider-than-kernel": [(3, 4, 3, 2), (2, 10, 0, 3)],     # rows all in the padding
}


@pytest.mark.exercise("03.1")
@pytest.mark.points(1)
@pytest.mark.parametrize("case", sorted(CONV1D))
def test_conv1d_matrix_other_parameters(check, data, case):
    """other kernel sizes, paddings and strides"""
    for number, (k, n, padding, stride) in enumerate(CONV1D[case]):
        check("conv1d_matrix", w=data.uniform((k,), seed=310 + 10 * number + k), n=n,
              padding=padding, stride=stride)


@pytest.mark.exercise("03.3")
@pytest.mark.points(1)
def test_im2col_loop_square_input_various(check, data):
    """square inputs, 1x1 and 4x4 kernels, stride 3"""
    check("im2col_loop", x=data.uniform((2, 2, 6, 6), seed=341), k=1, stride=1)
    check("im2col_loop", x=data.uniform((1, 1, 10, 10), seed=342), k=4, stride=3, padding=1)


@pytest.mark.exercise("03.3")
@pytest.mark.points(1)
def test_im2col_loop_everything_at_once(check, data):
    """stride, padding and dilation together on a tall input"""
    check("im2col_loop", x=data.uniform((3, 2, 11, 5), seed=343), k=2, stride=2, padding=2,
          dilation=3)
    check("im2col_loop", x=np.zeros((1, 1, 3, 3)), k=3, padding=1)
