"""A1 public tests: im2col and col2im, PyTorch's unfold/fold layout."""

import numpy as np
import pytest

LAYOUT = ("rows are (c, i, j) in row-major order, row (c*kH + i)*kW + j; columns are output "
          "positions p*W_out + q, exactly torch.nn.functional.unfold")


@pytest.mark.points(2)
def test_im2col_lecture_example(check):
    """im2col: the lecture's 4x4 input and 3x3 kernel"""
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    check("im2col", x=x, kernel_size=3, hint=LAYOUT)


@pytest.mark.points(2)
def test_im2col_channels_and_rectangular_kernel(check, data):
    """im2col: a batch of 2, 3 channels, a 2x3 kernel"""
    x = data.uniform((2, 3, 5, 6), seed=11)
    check("im2col", x=x, kernel_size=(2, 3),
          hint="kernel_size=(kH, kW): kH runs along rows, kW along columns; " + LAYOUT)


@pytest.mark.points(2)
def test_im2col_stride_and_padding(check, data):
    """im2col: stride 2, zero padding 1"""
    x = data.uniform((1, 2, 5, 5), seed=12)
    check("im2col", x=x, kernel_size=3, stride=2, padding=1,
          hint="pad with zeros on all four sides first; window (p, q) starts at row p*stride "
               "and column q*stride of the padded input")


@pytest.mark.points(2)
def test_im2col_dilation(check, data):
    """im2col: dilation 2 with rectangular stride and padding"""
    x = data.uniform((1, 1, 8, 9), seed=13)
    check("im2col", x=x, kernel_size=3, stride=(1, 2), padding=(1, 2), dilation=2,
          hint="tap (i, j) of window (p, q) reads row p*s + i*d and column q*s + j*d of the "
               "padded input; the output size uses the dilated kernel d*(k-1) + 1")


@pytest.mark.points(3)
def test_col2im_overlaps_add_up(check):
    """col2im: overlapping patches add up (col2im of ones counts the windows)"""
    cols = np.ones((1, 9, 4))
    check("col2im", cols=cols, output_size=(4, 4), kernel_size=3,
          hint="every pixel must receive the SUM over all windows that contain it: use += "
               "(a plain = keeps only the last window)")


@pytest.mark.points(2)
def test_col2im_stride_padding_dilation(check, data):
    """col2im: the adjoint of im2col with stride, padding and dilation"""
    cols = data.uniform((2, 2 * 3 * 2, 16), seed=14)
    check("col2im", cols=cols, output_size=(7, 8), kernel_size=(3, 2), stride=2, padding=1,
          dilation=(1, 2),
          hint="col2im is the adjoint of im2col: <im2col(x), c> == <x, col2im(c)>; values that "
               "land in the padding are dropped")
