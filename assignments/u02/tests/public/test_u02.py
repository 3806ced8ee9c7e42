"""Unit 02, public tests of the notebook's exercises (what ``check`` runs)."""

import pytest


@pytest.mark.exercise("02.1")
@pytest.mark.points(1)
def test_pixels_shared_by_neighbouring_windows(check):
    """pixels shared by two 9x9 windows one pixel apart"""
    check("number", name="shared_pixels", secret=True,
          hint="9 rows, and all columns but one")


@pytest.mark.exercise("02.2")
@pytest.mark.points(1)
def test_positions_of_a_sliding_window_classifier(check):
    """output positions of L = 5 valid 3x3 layers slid over 100x100"""
    check("number", name="positions_L5", secret=True,
          hint="the window is 11x11; its layers output 9x9, 7x7, 5x5, 3x3, 1x1; times 100*100")


@pytest.mark.exercise("02.3")
@pytest.mark.points(1)
def test_fc6_weights(check):
    """the number of weights of fc6"""
    check("number", name="fc6_weights", secret=True,
          hint="C_out * C_in * 6 * 6, no bias")


@pytest.mark.exercise("02.3")
@pytest.mark.points(1)
def test_fc6_as_a_convolution(check):
    """the kernel shape (C_out, C_in, kH, kW) of fc6"""
    check("number", name="fc6_as_conv", secret=True,
          hint="(C_out, C_in, kH, kW): fc6 has 4096 outputs and reads the 256 channels of pool5")


@pytest.mark.exercise("02.4")
@pytest.mark.points(1)
def test_cross_entropy_loop_small(check, data):
    """4 classes on a 2x3 image, no ignored pixel"""
    check("cross_entropy_loop", logits=data.uniform((1, 4, 2, 3), seed=241, low=-2, high=2),
          target=data.integers((1, 2, 3), seed=242, low=0, high=4),
          hint="the loss of a pixel is -log softmax(z)[label], softmax over the K classes "
               "(axis 1 of the logits); the result is their MEAN")


@pytest.mark.exercise("02.4")
@pytest.mark.points(1)
def test_cross_entropy_loop_ignored_pixels(check, data):
    """a 5x6 image with a void band: the mean is over the counted pixels"""
    target = data.integers((1, 5, 6), seed=243, low=0, high=3)
    target[0, 1:3, :4] = 255
    check("cross_entropy_loop", logits=data.uniform((1, 3, 5, 6), seed=244, low=-3, high=3),
          target=target,
          hint="ignored pixels add nothing AND do not count: divide by the number of pixels "
               "whose label is not ignore_index, not by N*H*W")


@pytest.mark.exercise("02.4")
@pytest.mark.points(1)
def test_cross_entropy_loop_large_logits(check, data):
    """logits up to +-900: exp overflows unless the max is subtracted first"""
    check("cross_entropy_loop", logits=data.uniform((2, 3, 3, 2), seed=245, low=-900, high=900),
          target=data.integers((2, 3, 2), seed=246, low=0, high=3),
          hint="np.exp(900) is inf: compute log softmax(z) as z - m - log(sum(exp(z - m))) "
               "with m = max(z)")


@pytest.mark.exercise("02.5")
@pytest.mark.points(1)
def test_receptive_field_of_the_strided_stack(check):
    """the receptive field of five 3x3 layers, two of them strided"""
    check("number", name="field_strided", secret=True,
          hint="1 -> 3 -> 5 for the first two layers; after a stride-2 layer each 3x3 layer "
               "adds 2 * 2, after two of them 2 * 4")


@pytest.mark.exercise("02.5")
@pytest.mark.points(1)
def test_jump_of_the_strided_stack(check):
    """the distance in input pixels between neighbouring output pixels"""
    check("number", name="jump_strided", secret=True,
          hint="the product of the strides")


@pytest.mark.exercise("02.6")
@pytest.mark.points(2)
def test_score_map_sizes(check):
    """(deep, middle, shallow) sides of the score maps for a 32x32 input"""
    check("number", name="score_sizes", secret=True,
          hint="each stage halves the side: 32 -> 16 -> 8 -> 4, listed deepest first")
