"""Unit 03, public tests of the notebook's exercises (what ``check`` runs)."""

import numpy as np
import pytest

SIZE = "n_out = (n + 2p - k) // s + 1 outputs; the matrix acts on the signal itself: (n_out, n)"


@pytest.mark.exercise("03.1")
@pytest.mark.points(1)
def test_conv1d_matrix_lecture_example(check):
    """the lecture's kernel [x, y, z] on [a, b, c, d], padding 1"""
    check("conv1d_matrix", w=np.array([1.0, 2.0, 3.0]), n=4, padding=1,
          hint="deep-learning convolution is a cross-correlation: row r holds w[0], w[1], "
               "w[2] from column r*s - p on (the kernel is NOT flipped)")


@pytest.mark.exercise("03.1")
@pytest.mark.points(1)
def test_conv1d_matrix_stride_two(check):
    """stride 2 keeps every other row"""
    check("conv1d_matrix", w=np.array([1.0, -2.0, 0.5]), n=7, padding=1, stride=2,
          hint="with stride s, row r starts at column r*s - p; " + SIZE)


@pytest.mark.exercise("03.1")
@pytest.mark.points(1)
def test_conv1d_matrix_padding_has_no_columns(check, data):
    """a 5-tap kernel, padding 2, stride 3 on 8 samples"""
    check("conv1d_matrix", w=data.uniform((5,), seed=301), n=8, padding=2, stride=3,
          hint="taps that fall into the padding multiply zeros: they get no column. " + SIZE)


@pytest.mark.exercise("03.2")
@pytest.mark.points(1)
def test_nnz_with_stride_two(check):
    """non-zeros of C, 3x3 kernel, 6x6 image, padding 1, stride 2"""
    check("number", name="nnz_stride2", secret=True,
          hint="the outputs of stride 2 sit at rows -1..1, 1..3 and 3..5 of the image")


@pytest.mark.exercise("03.3")
@pytest.mark.points(1)
def test_im2col_loop_stride_and_padding(check, data):
    """stride 2 and padding 1 on a 7x6 input (4x3 outputs)"""
    check("im2col_loop", x=data.uniform((2, 3, 7, 6), seed=331), k=3, stride=2, padding=1,
          hint="output (p, q) goes to column p * W_out + q (W_out, not H_out); the patch "
               "starts at row p*s and column q*s of the PADDED input")


@pytest.mark.exercise("03.3")
@pytest.mark.points(1)
def test_im2col_loop_dilation(check, data):
    """dilation 2 and padding 2 on a 9x8 input"""
    check("im2col_loop", x=data.uniform((1, 2, 9, 8), seed=332), k=3, padding=2, dilation=2,
          hint="a dilated kernel reads every d-th pixel: rows p*s + i*d for i in range(k), a "
               "span of d(k-1)+1; the output size uses the same span")


@pytest.mark.exercise("03.3")
@pytest.mark.points(1)
def test_im2col_loop_row_order(check, data):
    """rows ordered channel, kernel row, kernel column (3 channels, 2x2 kernel)"""
    check("im2col_loop", x=data.distinct((1, 3, 4, 5), seed=333), k=2,
          hint="row c*k*k + i*k + j holds channel c, kernel row i, kernel column j: "
               "patch.reshape(N, -1) of an (N, C, k, k) patch gives that order")


_STEM = "n_out = floor((n + 2p - d(k-1) - 1) / s) + 1, on each axis: an (H, W) pair"


@pytest.mark.exercise("03.4")
@pytest.mark.points(1)
def test_size_after_the_stem_convolution(check):
    """(H, W) after a 7x7 convolution, stride 2, padding 3, on 321x481"""
    check("number", name="after_conv", secret=True, hint=_STEM)


@pytest.mark.exercise("03.4")
@pytest.mark.points(1)
def test_size_after_the_stem_pooling(check):
    """(H, W) after the 3x3 max pool, stride 2, padding 1"""
    check("number", name="after_pool", secret=True,
          hint="pooling follows the same formula, applied to the size after the convolution; "
               + _STEM)


@pytest.mark.exercise("03.4")
@pytest.mark.points(1)
def test_same_padding_of_a_dilated_convolution(check):
    """the padding that keeps a 5x5 convolution with dilation 3 at the input size"""
    check("number", name="aspp_padding", secret=True,
          hint="stride 1 keeps the size when 2p = d(k-1)")


@pytest.mark.exercise("03.5")
@pytest.mark.points(1)
def test_when_c_does_for_its_transpose(check):
    """for which kernels C equals C^T (stride 1, 'same' padding)"""
    check("choice", name="answer_03_5", options="abcd", secret=True)
