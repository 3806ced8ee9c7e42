"""Unit 12, hidden tests: the write-it exercises on inputs the public tests do not use."""

import numpy as np
import pytest


@pytest.mark.exercise("12.1")
@pytest.mark.points(1)
def test_sample_anywhere_on_a_wide_image(check, data):
    """random positions in and around a 6x9 image"""
    ys = data.uniform((40,), seed=1211, low=-2.0, high=7.0)
    xs = data.uniform((40,), seed=1212, low=-2.0, high=10.0)
    check("bilinear_sample_loop", image=data.uniform((6, 9), seed=1213),
          points=np.stack([ys, xs], axis=1))


@pytest.mark.exercise("12.1")
@pytest.mark.points(1)
def test_sample_tiny_and_tall_images(check, data):
    """a 1x1 and a 9x2 image"""
    check("bilinear_sample_loop", image=np.array([[2.5]]),
          points=np.array([[0.0, 0.0], [0.5, 0.0], [-0.25, 0.75], [1.0, 0.0]]))
    check("bilinear_sample_loop", image=data.distinct((9, 2), seed=1214),
          points=np.array([[7.5, 0.5], [8.0, 1.0], [0.3, 1.7], [4.0, -0.5], [8.9, 0.0]]))


@pytest.mark.exercise("12.4")
@pytest.mark.points(1)
def test_non_square_kernel_and_large_offsets(check, data):
    """two images, a 2x3 kernel, padding 2, offsets that leave the image"""
    check("deform_conv2d_loop", x=data.uniform((2, 2, 6, 5), seed=1261),
          offset=data.uniform((2, 12, 9, 7), seed=1262, low=-4.0, high=4.0),
          w=data.uniform((3, 2, 2, 3), seed=1263), b=data.uniform((3,), seed=1264),
          mask=data.uniform((2, 6, 9, 7), seed=1265, low=0.0, high=1.0), padding=2)


@pytest.mark.exercise("12.4")
@pytest.mark.points(1)
def test_dilation_offsets_and_stride(check, data):
    """offsets 2(p_k - p_c) (a dilated convolution of rate 3) and stride 2"""
    taps = np.array([(i - 1, j - 1) for i in range(3) for j in range(3)], dtype=float)
    offset = np.zeros((1, 18, 4, 4))
    offset[0, 0::2] = (2 * taps[:, 0])[:, None, None]
    offset[0, 1::2] = (2 * taps[:, 1])[:, None, None]
    check("deform_conv2d_loop", x=data.uniform((1, 2, 8, 8), seed=1266), offset=offset,
          w=data.uniform((2, 2, 3, 3), seed=1267), b=data.uniform((2,), seed=1268),
          stride=2, padding=1)


@pytest.mark.exercise("12.5")
@pytest.mark.points(1)
def test_dmask_three_images_one_channel(check, data):
    """three images, one input channel, a tall 9x4 map"""
    check("dmask_zero_offsets", x=data.uniform((3, 1, 9, 4), seed=1271),
          w=data.uniform((4, 1, 3, 3), seed=1272), dy=data.uniform((3, 4, 9, 4), seed=1273))
