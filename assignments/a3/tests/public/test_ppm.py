"""A3 public tests: the pyramid pooling module, built from containers."""

import pytest

ORDER = ("channel order is [x, bins[0]'s level, bins[1]'s level, ...]: Concat(Identity(), "
         "level_1, level_2, ...), each level ResizeToInput(Sequential(pool, Conv2d 1x1 (no bias), "
         "BatchNorm2d, ReLU))")
REDUCE = "each level's 1x1 convolution reduces C to C // len(bins) channels (reduction=True)"


@pytest.mark.points(3)
def test_ppm_forward_channel_order(check, data):
    """PyramidPooling: bins (1, 2, 3, 6) on 8 channels, forward"""
    x = data.uniform((2, 8, 6, 6), seed=321)
    check("pyramid_pooling", x=x, bins=(1, 2, 3, 6), hint=ORDER + "; " + REDUCE)


@pytest.mark.points(2)
def test_ppm_reduction_to_c_over_bins(check, data):
    """PyramidPooling: 6 channels, 4 bins -> 6 + 4 * 1 channels; without reduction 6 + 4 * 6"""
    x = data.uniform((2, 6, 5, 7), seed=322)
    check("pyramid_pooling", x=x, bins=(1, 2, 3, 6), hint=REDUCE + " (6 // 4 = 1)")
    check("pyramid_pooling", x=x, bins=(1, 2, 3, 6), reduction=False,
          hint="reduction=False keeps C channels per level (the paper's ablation)")


@pytest.mark.points(3)
def test_ppm_backward(check, data):
    """PyramidPooling backward: dx gathers the identity and every level; weight gradients"""
    x = data.uniform((2, 4, 7, 5), seed=323)
    dy = data.uniform((2, 8, 7, 5), seed=324)
    check("pyramid_pooling", x=x, bins=(1, 2, 3, 6), dy=dy,
          hint="build the module from containers and its backward comes for free: "
               "Concat adds the branches' dx; " + ORDER)


@pytest.mark.points(2)
def test_ppm_max_pooling_and_align_corners_eval(check, data):
    """PyramidPooling: pooling='max', align_corners=True, eval mode, bins (1, 3)"""
    x = data.uniform((2, 4, 9, 6), seed=325)
    dy = data.uniform((2, 8, 9, 6), seed=326)
    check("pyramid_pooling", x=x, bins=(1, 3), pooling="max", align_corners=True,
          training=False, dy=dy,
          hint="pooling picks AdaptiveAvgPool2d or AdaptiveMaxPool2d; pass align_corners to "
               "ResizeToInput")
