"""A1 public tests: the convolution as an explicit sparse matrix C."""

import numpy as np
import pytest

INDEXING = ("row (o*H_out + p)*W_out + q holds w[o, c, i, j] in column (c*H + h)*W + v with "
            "h = p*s - pad + i*d, v = q*s - pad + j*d")


@pytest.mark.points(2)
def test_conv2d_matrix_lecture_example(check):
    """conv2d_matrix: the lecture's 4x16 matrix for a 4x4 input and a 3x3 kernel"""
    w = np.arange(1, 10, dtype=np.float64).reshape(1, 1, 3, 3)
    check("conv2d_matrix", w=w, input_size=(4, 4),
          hint="return a scipy.sparse matrix (e.g. scipy.sparse.coo_matrix(...).tocsr()); "
               + INDEXING)


@pytest.mark.points(2)
def test_conv2d_matrix_channels_stride_padding(check, data):
    """conv2d_matrix: 2 -> 2 channels, stride 2, padding 1"""
    w = data.uniform((2, 2, 3, 3), seed=51)
    check("conv2d_matrix", w=w, input_size=(5, 5), stride=2, padding=1,
          hint="taps that land in the padding are dropped (they would multiply zeros); "
               + INDEXING)


@pytest.mark.points(2)
def test_conv2d_matrix_transpose_is_the_backward_pass(check, student, data):
    """conv2d_matrix: C @ x is the forward pass and C.T @ dy is dx"""
    x = data.uniform((1, 2, 6, 7), seed=52)
    w = data.uniform((3, 2, 2, 3), seed=53)
    dy = data.uniform((1, 3, 6, 3), seed=54)
    params = dict(stride=(1, 2), padding=(1, 0), dilation=(2, 1))
    matrix = check("conv2d_matrix", w=w, input_size=(6, 7), hint=INDEXING, **params)["matrix"]
    grads = check("conv2d", x=x, w=w, dy=dy, **params)
    assert np.allclose(matrix @ x[0].ravel(), grads["y"][0].ravel()), (
        "your C @ x[0].ravel() differs from your conv2d_forward")
    assert np.allclose(matrix.T @ dy[0].ravel(), grads["dx"][0].ravel()), (
        "your C.T @ dy[0].ravel() differs from your conv2d_backward's dx")
