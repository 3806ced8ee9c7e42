"""Unit 08, public tests of the notebook's exercises (what ``check`` runs)."""

import pytest

CROP = ("the window starts at row (Hs - H) // 2 and column (Ws - W) // 2 of the skip and is "
        "H x W, the size of up; the cropped skip comes first in the concatenation")


@pytest.mark.exercise("08.1")
@pytest.mark.points(1)
def test_crop_and_concat_even_margins(check, data):
    """an 8x8 skip onto a 4x4 upsampled map: 2 pixels off each side"""
    check("crop_and_concat", skip=data.distinct((1, 2, 8, 8), seed=811),
          up=data.distinct((1, 3, 4, 4), seed=812),
          hint="crop the CENTRE of the skip, not its top-left corner. " + CROP)


@pytest.mark.exercise("08.1")
@pytest.mark.points(1)
def test_crop_and_concat_odd_margins_not_square(check, data):
    """a 9x12 skip onto a 6x7 map: odd margins, rows and columns apart"""
    check("crop_and_concat", skip=data.distinct((2, 1, 9, 12), seed=813),
          up=data.distinct((2, 2, 6, 7), seed=814),
          hint="rows use the heights and columns the widths; an odd margin leaves the extra "
               "row (column) at the bottom (right): floor division. " + CROP)


@pytest.mark.exercise("08.1")
@pytest.mark.points(1)
def test_crop_and_concat_channel_order(check, data):
    """the skip's channels first, then the upsampled ones"""
    check("crop_and_concat", skip=data.distinct((1, 3, 6, 6), seed=815),
          up=data.distinct((1, 1, 4, 4), seed=816),
          hint="np.concatenate([cropped_skip, up], axis=1): channels are axis 1, skip first")


@pytest.mark.exercise("08.2")
@pytest.mark.points(1)
def test_unet_output_side(check):
    """the output side of the unpadded U-Net on a 572 tile"""
    check("number", name="unet_output", secret=True,
          hint="572 -> 570 -> 568 -> pool 284 -> ...; the up-convolution doubles the side")


@pytest.mark.exercise("08.2")
@pytest.mark.points(1)
def test_unet_skip_crops(check):
    """the pixels cropped from each side of the four skips, top level first"""
    check("number", name="skip_crops", secret=True,
          hint="per side: (the skip's side - the upsampled side) / 2; the top level's skip is "
               "568 pixels wide")


@pytest.mark.exercise("08.3")
@pytest.mark.points(1)
def test_ladder_level_weights(check):
    """the weights of a 1x1 projection 512 -> 128 and a 3x3 convolution 128 -> 128"""
    check("number", name="weights", secret=True)


@pytest.mark.exercise("08.4")
@pytest.mark.points(1)
def test_dense_block_channels(check):
    """channels out of a 4-layer dense block, k = 16, on 48 channels"""
    check("number", name="channels_out", secret=True,
          hint="the block's input is kept and every layer adds k channels")


@pytest.mark.exercise("08.4")
@pytest.mark.points(1)
def test_dense_block_weights(check):
    """the conv weights of that block"""
    check("number", name="block_weights", secret=True,
          hint="layer l reads 48 + 16 l channels, not 48: the inputs grow")


@pytest.mark.exercise("08.5")
@pytest.mark.points(1)
def test_skip_bytes(check):
    """bytes of the level-1 skip e1"""
    check("number", name="skip_bytes", secret=True, hint="(2, 16, 64, 64) float32")


@pytest.mark.exercise("08.5")
@pytest.mark.points(1)
def test_index_bytes(check):
    """bytes of pool1's int64 indices"""
    check("number", name="index_bytes", secret=True,
          hint="one index per pooled output: (2, 16, 32, 32) values, 8 bytes each")


@pytest.mark.exercise("08.5")
@pytest.mark.points(1)
def test_packed_bytes(check):
    """bytes of the same indices at 2 bits each"""
    check("number", name="packed_bytes", secret=True, hint="4 indices per byte")


@pytest.mark.exercise("08.6")
@pytest.mark.points(1)
def test_memory_growth(check):
    """the growth of the kept memory when the side doubles"""
    check("choice", name="answer_08_6", options="abcd", secret=True)
