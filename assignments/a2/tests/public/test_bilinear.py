"""A2 public tests: bilinear upsampling as two interpolation matrices, forward and backward."""

import numpy as np
import pytest

HALF_PIXEL = ("align_corners=False: source = (i + 0.5) / scale - 0.5, clamped at 0, with "
              "scale = out/in (or the given scale_factor); the right neighbour is clamped to "
              "the last pixel")
CORNERS = ("align_corners=True: source = i * (in - 1) / (out - 1), so the corner pixels map "
           "onto each other; using in/out here is the classic off-by-one")


@pytest.mark.points(2)
def test_bilinear_lecture_example(check):
    """bilinear: the lecture's 2x2 -> 4x4"""
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    check("bilinear", x=x, size=(4, 4), hint=HALF_PIXEL)


@pytest.mark.points(2)
def test_bilinear_align_corners(check, data):
    """bilinear: align_corners=True, 3x3 -> 5x7"""
    x = data.uniform((1, 2, 3, 3), seed=231)
    check("bilinear", x=x, size=(5, 7), align_corners=True, hint=CORNERS)


@pytest.mark.points(2)
def test_bilinear_fractional_scale_factor(check, data):
    """bilinear: scale_factor 1.5 and (2.5, 0.75)"""
    x = data.uniform((2, 1, 4, 6), seed=232)
    hint = ("with scale_factor the output is floor(in * s) and the source coordinate uses 1/s "
            "(PyTorch's recompute_scale_factor=False); " + HALF_PIXEL)
    check("bilinear", x=x, scale_factor=1.5, hint=hint)
    check("bilinear", x=x, scale_factor=(2.5, 0.75), hint=hint)


@pytest.mark.points(2)
def test_bilinear_backward(check, data):
    """bilinear backward: the transpose of forward, both align_corners"""
    x = data.uniform((2, 2, 3, 4), seed=233)
    dy = data.uniform((2, 2, 7, 5), seed=234)
    hint = ("each output pixel's gradient flows back to the (up to) 4 input pixels it mixed, "
            "with the same weights: dx = A_h^T dy A_w")
    check("bilinear", x=x, size=(7, 5), dy=dy, hint=hint)
    check("bilinear", x=x, size=(7, 5), dy=dy, align_corners=True, hint=hint)


@pytest.mark.points(2)
def test_interpolation_matrix(check):
    """interpolation_matrix: upsampling, downsampling and align_corners"""
    check("interpolation_matrix", in_size=3, out_size=7, hint=HALF_PIXEL)
    check("interpolation_matrix", in_size=5, out_size=3, hint=HALF_PIXEL)
    check("interpolation_matrix", in_size=4, out_size=9, align_corners=True, hint=CORNERS)
    check("interpolation_matrix", in_size=4, out_size=6, scale=1.75,
          hint="with scale given the source coordinate is (i + 0.5) / scale - 0.5")
