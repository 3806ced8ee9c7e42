"""Unit 04, public tests of the notebook's exercises (what ``check`` runs)."""

import numpy as np
import pytest

SIZE = ("the canvas has (n-1)s + k + output_padding rows; the output keeps rows p .. "
        "p + n_out - 1 with n_out = (n-1)s - 2p + k + output_padding")


@pytest.mark.exercise("04.1")
@pytest.mark.points(1)
def test_scatter_lecture_picture(check):
    """the 2x2 -> 4x4 picture: 3x3 kernel of ones, stride 2, padding 1, output_padding 1"""
    check("conv_transpose_scatter", x=np.array([[[[1.0, 2.0], [3.0, 4.0]]]]),
          w=np.ones((1, 1, 3, 3)), stride=2, padding=1, output_padding=1,
          hint="where two stamps overlap their values ADD (+=), nothing is overwritten; the "
               "padding is cropped from the top and left as well as the bottom and right")


@pytest.mark.exercise("04.1")
@pytest.mark.points(1)
def test_scatter_channels_and_overlap(check, data):
    """3 -> 2 channels, random 3x3 kernel, stride 2 (overlapping stamps), a batch of 2"""
    check("conv_transpose_scatter", x=data.uniform((2, 3, 4, 5), seed=401),
          w=data.uniform((3, 2, 3, 3), seed=402), stride=2,
          hint="the weight is (C_in, C_out, k, k): input channel c stamps w[c], a (C_out, k, k) "
               "block, onto every output channel; the kernel is not flipped")


@pytest.mark.exercise("04.1")
@pytest.mark.points(1)
def test_scatter_stride_three_padding_output_padding(check, data):
    """stride 3, 5x5 kernel, padding 2, output_padding 1, a 3x4 input"""
    check("conv_transpose_scatter", x=data.uniform((1, 2, 3, 4), seed=403),
          w=data.uniform((2, 3, 5, 5), seed=404), stride=3, padding=2, output_padding=1,
          hint="stamp (i, j) starts at row i*s, column j*s of the canvas. " + SIZE)


_SIZE = "n_out = (n-1)s - 2p + k + output_padding for the transposed convolution"


@pytest.mark.exercise("04.2")
@pytest.mark.points(1)
def test_output_size_kernel_4_stride_2(check):
    """the side of a 7x7 map after kernel 4, stride 2, padding 1"""
    check("number", name="size_k4", secret=True, hint=_SIZE)


@pytest.mark.exercise("04.2")
@pytest.mark.points(1)
def test_output_padding_for_stride_3(check):
    """the output_padding that brings a stride-3 layer back to 14x14"""
    check("number", name="op_stride3", secret=True,
          hint="first the convolution: 14 -> floor((14 - 3) / 3) + 1; then " + _SIZE)


@pytest.mark.exercise("04.3")
@pytest.mark.points(1)
def test_share_of_inserted_zeros(check):
    """the share of zeros in a 16x16 input spread out for stride 2"""
    check("rounded", name="zero_share", secret=True,
          hint="the spread map is (16-1)*2 + 1 on a side; a share is between 0 and 1")


@pytest.mark.exercise("04.4")
@pytest.mark.points(1)
def test_even_overlap_at_stride_three(check):
    """the kernel sizes among 3, 4, 5, 6 with an even overlap at stride 3"""
    check("number_set", name="even_sizes", secret=True)


@pytest.mark.exercise("04.5")
@pytest.mark.points(1)
def test_fcn32_kernel(check):
    """the kernel size of FCN-32s's bilinear upsampling"""
    check("number", name="fcn32_kernel", secret=True,
          hint="a bilinear upsampling by s needs a tent reaching s pixels to each side: 2s")


@pytest.mark.exercise("04.5")
@pytest.mark.points(1)
def test_fcn32_padding(check):
    """the padding of FCN-32s's bilinear upsampling"""
    check("number", name="fcn32_padding", secret=True,
          hint="(3 - 1) * 32 - 2p + k must be 96")
