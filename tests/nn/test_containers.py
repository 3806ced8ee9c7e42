"""Containers: Sequential, Identity, Sum, Concat, ResizeToInput, and the FCN / U-Net
patterns of the containers' docstring built from them (float64 finite differences).
"""

from __future__ import annotations

import numpy as np
import pytest

from minisegnet import functional as F
from minisegnet import nn

from ._util import check_module_gradients


def f64(module):
    return module.to(dtype=np.float64)


def test_sequential_gradients(rng):
    net = f64(nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, rng=0), nn.BatchNorm2d(3), nn.ReLU(),
                            nn.MaxPool2d(2), nn.ConvTranspose2d(3, 2, 4, 2, 1, rng=1)))
    check_module_gradients(net, rng.standard_normal((2, 2, 6, 6)))


def test_identity():
    x = np.arange(4.0).reshape(1, 1, 2, 2)
    ident = nn.Identity()
    assert ident(x) is x and ident.backward(x) is x and ident.parameters() == []


def test_sum_forward_is_the_sum_of_the_branches(rng):
    a, b = f64(nn.Conv2d(2, 2, 3, padding=1, rng=0)), f64(nn.Conv2d(2, 2, 1, rng=1))
    x = rng.standard_normal((2, 2, 4, 4))
    np.testing.assert_allclose(nn.Sum(a, b)(x), a(x) + b(x), rtol=1e-12)
    assert [n for n, _ in nn.Sum(a, b).named_parameters()] == ["0.weight", "0.bias",
                                                               "1.weight", "1.bias"]


def test_residual_sum_gradients_and_no_aliasing(rng):
    block = nn.Sum(nn.Identity(), nn.Sequential(nn.Conv2d(2, 2, 3, padding=1, rng=0), nn.ReLU()))
    f64(block)
    x = rng.standard_normal((2, 2, 5, 4))
    x_before = x.copy()
    y = block(x)
    dy = rng.standard_normal(y.shape)
    dy_before = dy.copy()
    block.backward(dy)
    # Identity hands back x and dy themselves: the containers must not add in place.
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(dy, dy_before)
    check_module_gradients(block, x)


def test_concat_channel_order_and_gradients(rng):
    conv = nn.Conv2d(2, 3, 3, padding=1, rng=0)
    cat = f64(nn.Concat(nn.Identity(), conv, nn.Sequential(nn.Conv2d(2, 1, 1, rng=1), nn.ReLU())))
    x = rng.standard_normal((2, 2, 4, 5))
    y = cat(x)
    assert y.shape == (2, 6, 4, 5)
    np.testing.assert_array_equal(y[:, :2], x)
    np.testing.assert_allclose(y[:, 2:5], conv(x), rtol=1e-12)
    check_module_gradients(cat, x)


def test_concat_backward_splits_dy_by_channels(rng):
    cat = nn.Concat(nn.Identity(), nn.Identity())
    x = rng.standard_normal((1, 2, 3, 3))
    dy = rng.standard_normal((1, 4, 3, 3))
    cat(x)
    np.testing.assert_allclose(cat.backward(dy), dy[:, :2] + dy[:, 2:], rtol=1e-15)


def test_resize_to_input_gradients(rng):
    branch = f64(nn.ResizeToInput(nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(2, 3, 1, rng=0))))
    x = rng.standard_normal((2, 2, 7, 5))
    assert branch(x).shape == (2, 3, 7, 5)
    check_module_gradients(branch, x)
    corners = f64(nn.ResizeToInput(nn.AdaptiveAvgPool2d(2), align_corners=True))
    check_module_gradients(corners, x)


def test_resize_to_input_is_bilinear_resize_of_the_module_output(rng):
    pool = nn.AdaptiveAvgPool2d(3)
    x = rng.standard_normal((1, 2, 6, 7))
    expected, _ = F.bilinear_upsample_forward(pool(x), size=(6, 7), align_corners=False)
    np.testing.assert_allclose(nn.ResizeToInput(pool)(x), expected, rtol=1e-12)


def test_shape_mismatches_are_value_errors(rng):
    x = rng.standard_normal((1, 2, 4, 4)).astype(np.float32)
    with pytest.raises(ValueError, match="one shape"):
        nn.Sum(nn.Identity(), nn.MaxPool2d(2))(x)
    with pytest.raises(ValueError, match="ResizeToInput"):
        nn.Concat(nn.Identity(), nn.MaxPool2d(2))(x)
    with pytest.raises(TypeError, match="Module"):
        nn.Sum(nn.Identity(), lambda v: v)
    with pytest.raises(ValueError, match="at least one"):
        nn.Concat()


def test_fcn8s_style_nested_skips(rng):
    """The FCN-8s pattern of the containers' docstring: two levels of ``Sum`` skips."""
    nn.init.seed(0)
    k = 2
    pool4_block = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
    pool5_block = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(4, 4, 3, padding=1), nn.ReLU())
    level4 = nn.Sum(nn.Conv2d(4, k, 1),
                    nn.ResizeToInput(nn.Sequential(pool5_block, nn.Conv2d(4, k, 1))))
    level3 = nn.Sum(nn.Conv2d(3, k, 1), nn.ResizeToInput(nn.Sequential(pool4_block, level4)))
    fcn = f64(nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), level3,
                            nn.Upsample(scale_factor=2)))
    x = rng.standard_normal((2, 2, 8, 8))
    assert fcn(x).shape == (2, k, 16, 16)
    check_module_gradients(fcn, x)


def test_unet_level_nested_concat(rng):
    """The U-Net pattern of the containers' docstring: levels nested inside levels."""
    nn.init.seed(0)

    def level(c, inner, c_inner_out):
        down = nn.Sequential(nn.MaxPool2d(2), inner, nn.ConvTranspose2d(c_inner_out, c, 2, stride=2))
        return nn.Sequential(nn.Concat(nn.Identity(), down), nn.Conv2d(2 * c, c, 3, padding=1),
                             nn.ReLU())

    bottleneck = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
    unet = f64(nn.Sequential(nn.Conv2d(1, 2, 3, padding=1),
                             level(2, nn.Sequential(nn.Conv2d(2, 3, 1), level(3, bottleneck, 4)), 3),
                             nn.Conv2d(2, 2, 1)))
    x = rng.standard_normal((2, 1, 8, 8))
    assert unet(x).shape == (2, 2, 8, 8)
    check_module_gradients(unet, x)
