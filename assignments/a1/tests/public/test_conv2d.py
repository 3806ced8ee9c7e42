"""A1 public tests: conv2d forward and backward with stride, padding and dilation."""

import numpy as np
import pytest

OUT_SIZE = "H_out = floor((H + 2p - d(k-1) - 1) / s) + 1, likewise W_out"


def _wrong_size(got, want):
    return got["y"].shape != want["y"].shape


# Hints fire on what the arrays show: a size hint only when the size is wrong; when the size
# is right and the values are not, the cause usually sits lower (im2col's windows).
SIZE = [(_wrong_size, OUT_SIZE),
        (lambda got, want: not _wrong_size(got, want),
         "the output size is right but values differ: check im2col first (padding, window start "
         "p*s, tap offset i*d); `minisegnet check a1 --all` lists the lowest-level failing "
         "function first")]


@pytest.mark.points(2)
def test_conv2d_forward_lecture_example(check):
    """conv2d: the lecture's 4x4 input and 3x3 kernel"""
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    w = np.array([[[[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]]])
    check("conv2d", x=x, w=w,
          hint="PyTorch's conv2d is a cross-correlation: the kernel is NOT flipped")


@pytest.mark.points(2)
def test_conv2d_forward_channels_and_bias(check, data):
    """conv2d: batch 2, 3 -> 4 channels, with bias"""
    x = data.uniform((2, 3, 5, 5), seed=21)
    w = data.uniform((4, 3, 3, 3), seed=22)
    b = data.uniform((4,), seed=23)
    check("conv2d", x=x, w=w, b=b,
          hint="sum over all input channels; add b[o] once to every pixel of output channel o")


@pytest.mark.points(2)
def test_conv2d_forward_stride_padding(check, data):
    """conv2d: stride 2 and padding 1 on a 7x6 input"""
    x = data.uniform((1, 2, 7, 6), seed=24)
    w = data.uniform((3, 2, 3, 3), seed=25)
    check("conv2d", x=x, w=w, stride=2, padding=1, hint=SIZE)


@pytest.mark.points(3)
def test_conv2d_forward_dilation_output_size(check, data):
    """conv2d: dilation 2 changes the output size"""
    x = data.uniform((1, 1, 9, 9), seed=26)
    w = data.uniform((2, 1, 3, 3), seed=27)
    check("conv2d", x=x, w=w, dilation=2,
          hint=[(_wrong_size, "forgetting the dilation in the output size: " + OUT_SIZE + "; a "
                              "3x3 kernel with dilation 2 covers 5x5 pixels"), SIZE[1]])
    check("conv2d", x=x, w=w, padding=2, dilation=2,
          hint=[(_wrong_size, "padding d*(k-1)/2 keeps the size ('same' convolution): "
                              + OUT_SIZE), SIZE[1]])


@pytest.mark.points(2)
def test_conv2d_forward_rectangular_everything(check, data):
    """conv2d: different (h, w) values for kernel, stride, padding and dilation"""
    x = data.uniform((2, 2, 7, 9), seed=28)
    w = data.uniform((3, 2, 2, 3), seed=29)
    check("conv2d", x=x, w=w, stride=(2, 1), padding=(1, 0), dilation=(1, 2),
          hint="keep the pairs apart: index 0 is rows (height), index 1 columns (width)")


@pytest.mark.points(3)
def test_conv2d_backward_dx_overlapping_windows(check, data):
    """conv2d backward: dx collects from every window that read a pixel"""
    x = data.uniform((1, 2, 5, 5), seed=31)
    w = data.uniform((2, 2, 3, 3), seed=32)
    dy = data.uniform((1, 2, 3, 3), seed=33)
    check("conv2d", x=x, w=w, dy=dy,
          hint="dx = C^T dy is a transposed convolution: with overlapping windows each input "
               "pixel gets the SUM of its contributions (+=, or col2im)")


@pytest.mark.points(2)
def test_conv2d_backward_dw_db(check, data):
    """conv2d backward: dw and db sum over the batch and all positions"""
    x = data.uniform((3, 2, 6, 5), seed=34)
    w = data.uniform((4, 2, 3, 2), seed=35)
    b = data.uniform((4,), seed=36)
    dy = data.uniform((3, 4, 4, 4), seed=37)
    check("conv2d", x=x, w=w, b=b, dy=dy,
          hint="dw[o, c, i, j] = sum over n, p, q of dy[n, o, p, q] * x_pad[n, c, p*s + i*d, "
               "q*s + j*d]; db[o] = dy[:, o].sum()")


@pytest.mark.points(1)
def test_conv2d_backward_no_bias(check, data):
    """conv2d backward: db is None when forward had no bias"""
    x = data.uniform((1, 1, 4, 4), seed=38)
    w = data.uniform((1, 1, 2, 2), seed=39)
    dy = data.uniform((1, 1, 3, 3), seed=40)
    check("conv2d", x=x, w=w, dy=dy, hint="return (dx, dw, None) when b was None")


@pytest.mark.points(2)
def test_conv2d_backward_stride_padding_dilation(check, data):
    """conv2d backward: stride 2, padding 2, dilation 2 (some pixels are read by no window)"""
    x = data.uniform((2, 2, 8, 7), seed=41)
    w = data.uniform((3, 2, 3, 3), seed=42)
    b = data.uniform((3,), seed=43)
    dy = data.uniform((2, 3, 4, 4), seed=44)
    check("conv2d", x=x, w=w, b=b, dy=dy, stride=2, padding=2, dilation=2,
          hint="pixels that no window reads get a zero gradient; gradient that falls on the "
               "padding is dropped")


@pytest.mark.points(2)
def test_conv2d_float32_stays_float32(check, data):
    """conv2d: float32 inputs give float32 outputs and gradients"""
    x = data.uniform((2, 2, 5, 5), seed=45, dtype=np.float32)
    w = data.uniform((3, 2, 3, 3), seed=46, dtype=np.float32)
    b = data.uniform((3,), seed=47, dtype=np.float32)
    dy = data.uniform((2, 3, 3, 3), seed=48, dtype=np.float32)
    check("conv2d", x=x, w=w, b=b, dy=dy,
          hint="create work arrays with dtype=x.dtype: np.zeros(shape) is float64")
