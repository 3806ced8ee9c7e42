"""Unit 06, public tests of the notebook's exercises (what ``check`` runs)."""

import pytest

DEFINITION = ("(F *_l k)(p) = sum over t of F(p - l t) k(t): the image is read at p MINUS l t "
              "(a convolution: the filter is flipped, unlike F.conv2d_forward)")


@pytest.mark.exercise("06.1")
@pytest.mark.points(1)
def test_definition_rate_one(check, data):
    """rate 1 on a 9x11 image: the ordinary convolution"""
    check("dilated_conv_by_definition", image=data.uniform((9, 11), seed=601),
          k=data.distinct((3, 3), seed=602), rate=1,
          hint=DEFINITION + "; k[t0 + r, t1 + r] holds k(t0, t1)")


@pytest.mark.exercise("06.1")
@pytest.mark.points(1)
def test_definition_rate_two(check, data):
    """rate 2 on a 9x11 image: the taps are two pixels apart"""
    check("dilated_conv_by_definition", image=data.uniform((9, 11), seed=603),
          k=data.distinct((3, 3), seed=604), rate=2,
          hint="the tap t reads the pixel l*t away, not t away; " + DEFINITION)


@pytest.mark.exercise("06.1")
@pytest.mark.points(1)
def test_definition_five_by_five_rate_three(check, data):
    """a 5x5 filter (r = 2) with rate 3 on a 7x6 image: most taps fall outside"""
    check("dilated_conv_by_definition", image=data.uniform((7, 6), seed=605),
          k=data.distinct((5, 5), seed=606), rate=3,
          hint="r = k.shape[0] // 2 and t runs over -r..r on both axes; pixels outside the "
               "image count as zero (skip them, do not wrap around with negative indices)")


@pytest.mark.exercise("06.2")
@pytest.mark.points(1)
def test_receptive_field_1248(check):
    """the receptive field of rates 1, 2, 4, 8"""
    check("number", name="rf_1248", secret=True,
          hint="start from 1 and add 2 * dilation per 3x3 layer (stride 1)")


@pytest.mark.exercise("06.2")
@pytest.mark.points(1)
def test_plain_layers(check):
    """plain 3x3 layers for the same receptive field"""
    check("number", name="plain_layers", secret=True,
          hint="the smallest L with 1 + 2L at least the receptive field of rates 1, 2, 4, 8")


@pytest.mark.exercise("06.3")
@pytest.mark.points(1)
def test_output_stride_16_side(check):
    """the last map's side at output stride 16, 128x128 input"""
    check("number", name="os16_side", secret=True,
          hint="stages 1 to 4 each halve the map (with padding 1, 3x3, stride 2: ceil(n/2))")


@pytest.mark.exercise("06.3")
@pytest.mark.points(1)
def test_output_stride_16_field(check):
    """the receptive field of the output-stride-16 backbone"""
    check("number", name="os16_field", secret=True,
          hint="r <- r + (k - 1) * d * j and j <- j * s, layer by layer from the input "
               "(F.receptive_field does exactly this)")


@pytest.mark.exercise("06.4")
@pytest.mark.points(1)
def test_which_rates_leave_holes(check):
    """the stack that leaves holes"""
    check("choice", name="answer_06_4", options="abcd", secret=True)


@pytest.mark.exercise("06.5")
@pytest.mark.points(1)
def test_largest_branch(check):
    """the receptive field of the rate-36 branch"""
    check("number", name="largest_branch", secret=True,
          hint="a 3x3 kernel with dilation r spans 2r + 1 pixels")


@pytest.mark.exercise("06.5")
@pytest.mark.points(1)
def test_full_taps_at_rate_24(check):
    """the fraction of 65x65 positions where all nine rate-24 taps are inside"""
    check("rounded", name="full_taps_24", secret=True,
          hint="per axis the positions 24..40 keep all three taps: a fraction, squared for "
               "two axes")
