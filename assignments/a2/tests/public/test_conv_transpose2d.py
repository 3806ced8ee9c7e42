"""A2 public tests: the transposed convolution, forward and backward."""

import numpy as np
import pytest

OUT_SIZE = "H_out = (H - 1)s - 2p + d(k - 1) + output_padding + 1, likewise W_out"


@pytest.mark.points(2)
def test_conv_transpose2d_lecture_example(check):
    """conv_transpose2d: the lecture's 2x2 -> 4x4 (3x3 kernel, stride 2, padding 1)"""
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    w = np.arange(1, 10, dtype=np.float64).reshape(1, 1, 3, 3)
    check("conv_transpose2d", x=x, w=w, stride=2, padding=1, output_padding=1,
          hint="every input pixel adds x * w into the output at (h*s - p + i*d, v*s - p + j*d); "
               + OUT_SIZE)


@pytest.mark.points(2)
def test_conv_transpose2d_overlaps_add_up(check):
    """conv_transpose2d: overlapping contributions are summed"""
    x = np.ones((1, 1, 3, 3))
    w = np.ones((1, 1, 3, 3))
    check("conv_transpose2d", x=x, w=w,
          hint="where the stamped kernels overlap the output is their SUM: use += (with = only "
               "the last contribution survives)")


@pytest.mark.points(2)
def test_conv_transpose2d_weight_layout_and_bias(check, data):
    """conv_transpose2d: weights are (C_in, C_out, kH, kW); bias per output channel"""
    x = data.uniform((2, 3, 4, 4), seed=201)
    w = data.uniform((3, 2, 3, 3), seed=202)
    b = data.uniform((2,), seed=203)
    check("conv_transpose2d", x=x, w=w, b=b,
          hint="PyTorch's transposed-conv weight is (C_in, C_out, kH, kW), the transpose of "
               "conv2d's (C_out, C_in, kH, kW); add b[o] to every pixel of output channel o")


@pytest.mark.points(2)
def test_conv_transpose2d_output_size(check, data):
    """conv_transpose2d: stride, padding, output_padding and dilation per axis"""
    x = data.uniform((1, 2, 3, 4), seed=204)
    w = data.uniform((2, 2, 3, 2), seed=205)
    check("conv_transpose2d", x=x, w=w, stride=(2, 3), padding=(1, 0), output_padding=(1, 2),
          dilation=(2, 1), hint=OUT_SIZE)


@pytest.mark.points(3)
def test_conv_transpose2d_backward(check, data):
    """conv_transpose2d backward: dx, dw and db"""
    x = data.uniform((2, 3, 3, 4), seed=206)
    w = data.uniform((3, 2, 3, 3), seed=207)
    b = data.uniform((2,), seed=208)
    dy = data.uniform((2, 2, 6, 8), seed=209)
    check("conv_transpose2d", x=x, w=w, b=b, dy=dy, stride=2, padding=1, output_padding=1,
          hint="dx is a plain convolution of dy with the same w (conv2d's forward pass); "
               "dw[c, o, i, j] = sum of x[n, c, h, v] * dy[n, o, h*s - p + i*d, v*s - p + j*d]")
