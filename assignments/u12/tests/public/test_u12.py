"""Unit 12, public tests of the notebook's exercises (what ``check`` runs)."""

import numpy as np
import pytest

TENT = ("v = sum over pixels of x[i, j] * max(0, 1 - |Y - i|) * max(0, 1 - |X - j|): the pixel "
        "nearer to (Y, X) gets the larger weight, 1 - (its distance)")


@pytest.mark.exercise("12.1")
@pytest.mark.points(1)
def test_sample_between_pixels(check, data):
    """fractional positions inside a 5x7 image"""
    points = np.array([[1.25, 2.5], [0.5, 5.75], [3.9, 0.1], [2.0, 4.3], [3.6, 6.0]])
    check("bilinear_sample_loop", image=data.distinct((5, 7), seed=1201), points=points,
          hint=TENT)


@pytest.mark.exercise("12.1")
@pytest.mark.points(1)
def test_sample_on_pixel_centres(check, data):
    """integer positions return the pixel itself: (Y, X) is (row, column)"""
    points = np.array([[0.0, 0.0], [0.0, 6.0], [4.0, 0.0], [4.0, 6.0], [1.0, 5.0], [3.0, 2.0]])
    check("bilinear_sample_loop", image=data.distinct((5, 7), seed=1202), points=points,
          hint="Y is the row (first index, 0..H-1) and X the column (second index, 0..W-1); "
               "at an integer position only that pixel has a non-zero weight, 1")


@pytest.mark.exercise("12.1")
@pytest.mark.points(1)
def test_sample_fades_to_zero_outside(check, data):
    """positions beyond the border: zeros outside, not the border pixel repeated"""
    points = np.array([[-0.5, 2.0], [2.0, -0.25], [4.5, 3.5], [1.0, 6.75], [-1.0, 3.0],
                       [2.0, 8.2], [-0.3, -0.6], [5.5, 1.0]])
    check("bilinear_sample_loop", image=data.uniform((5, 7), seed=1203, low=0.5, high=1.5),
          points=points,
          hint="pixels outside the image count as zero: half a pixel beyond the border the "
               "sample is half the border pixel, one pixel beyond it is 0 (do not clamp the "
               "position into the image)")


@pytest.mark.exercise("12.2")
@pytest.mark.points(1)
def test_offsets_of_a_dilated_convolution(check):
    """the (9, 2) offsets that turn padding 1 into dilation 4 with padding 4"""
    check("tap_offsets", name="offset_d4", secret=True,
          hint="the dilated convolution reads q - d + d p_k, the deformable one q - 1 + p_k + "
               "offset, with p_k = (i, j) counted from the kernel's corner: subtract")


@pytest.mark.exercise("12.3")
@pytest.mark.points(1)
def test_start_of_the_shifted_window(check):
    """the (row, column) of `padded` where the shifted window starts"""
    check("number", name="window_start", secret=True,
          hint="x[0, 0] sits at padded[3, 3]; the padding-1 window starts one row and one "
               "column before it; then move it by the offset (+1 row, -2 columns)")


_WHERE = ("tap k = i*kW + j of output (q0, q1) reads Y = q0*s - p + i*d + offset[n, 2k], "
          "X = q1*s - p + j*d + offset[n, 2k + 1]")


@pytest.mark.exercise("12.4")
@pytest.mark.points(1)
def test_zero_offsets_are_the_plain_convolution(check, data):
    """zero offsets, a bias, padding 1: the ordinary convolution"""
    check("deform_conv2d_loop", x=data.uniform((1, 2, 5, 6), seed=1241),
          offset=np.zeros((1, 18, 5, 6)), w=data.uniform((3, 2, 3, 3), seed=1242),
          b=data.uniform((3,), seed=1243), padding=1,
          hint="with zero offsets every tap reads a pixel centre: y = conv2d(x, w, b, padding=1); "
               + _WHERE)


@pytest.mark.exercise("12.4")
@pytest.mark.points(1)
def test_fractional_offsets_and_a_mask(check, data):
    """fractional offsets and a DCNv2 mask, padding 1"""
    check("deform_conv2d_loop", x=data.uniform((1, 2, 5, 6), seed=1244),
          offset=data.uniform((1, 18, 5, 6), seed=1245, low=-1.5, high=1.5),
          w=data.uniform((3, 2, 3, 3), seed=1246), b=data.uniform((3,), seed=1247),
          mask=data.uniform((1, 9, 5, 6), seed=1248, low=0.0, high=1.0), padding=1,
          hint="channel 2k of offset is the y-offset (rows) and 2k + 1 the x-offset (columns) "
               "of tap k; the mask multiplies each tap: w[:, c, i, j] * mask[n, k] * sample")


@pytest.mark.exercise("12.4")
@pytest.mark.points(1)
def test_stride_and_dilation(check, data):
    """stride 2, dilation 2, no padding and no bias on a 7x8 input"""
    check("deform_conv2d_loop", x=data.uniform((1, 3, 7, 8), seed=1249),
          offset=data.uniform((1, 18, 2, 2), seed=1250, low=-1.0, high=1.0),
          w=data.uniform((2, 3, 3, 3), seed=1251), stride=2, dilation=2,
          hint=_WHERE + "; H_out = (H + 2p - d(k-1) - 1) // s + 1")


_DMASK = ("dmask[n, k, l] = sum over c of G[c, k, l] * S[c, k, l] with G = W2^T dY2 "
          "(W2 = w.reshape(C_out, -1)) and S = F.im2col(x, 3, padding=1)")


@pytest.mark.exercise("12.5")
@pytest.mark.points(1)
def test_dmask_one_image(check, data):
    """one image, 2 input and 3 output channels, 5x6"""
    check("dmask_zero_offsets", x=data.uniform((1, 2, 5, 6), seed=1251),
          w=data.uniform((3, 2, 3, 3), seed=1252), dy=data.uniform((1, 3, 5, 6), seed=1253),
          hint=_DMASK)


@pytest.mark.exercise("12.5")
@pytest.mark.points(1)
def test_dmask_batch_and_channel_order(check, data):
    """two images, 3 input channels: the rows of im2col are ordered channel, then tap"""
    check("dmask_zero_offsets", x=data.uniform((2, 3, 4, 7), seed=1254),
          w=data.uniform((2, 3, 3, 3), seed=1255), dy=data.uniform((2, 2, 4, 7), seed=1256),
          hint="row c*K + k of the columns is channel c, tap k: reshape (N, C_in, K, L) and sum "
               "over the channel axis, one product per image. " + _DMASK)


@pytest.mark.exercise("12.6")
@pytest.mark.points(1)
def test_offset_gradient_on_a_flat_image(check):
    """the offset gradient of a sample where the image is flat"""
    check("choice", name="answer_12_6", options="abcd", secret=True,
          hint="dv/dY = (1 - l_x)(v10 - v00) + l_x(v11 - v01): what are these differences on a "
               "flat image?")
