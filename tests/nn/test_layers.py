"""Layers: float64 finite-difference checks of every input and parameter gradient, the
lecture's worked examples (max unpooling, bilinear 2×2 → 4×4), FCN's bilinear initialiser,
BatchNorm's modes and errors.
"""

from __future__ import annotations

import numpy as np
import pytest

from minisegnet import functional as F
from minisegnet import nn

from ._util import check_module_gradients, scaled_error


def f64(module):
    return module.to(dtype=np.float64)


# ------------------------------------------------------------------ gradient checks


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=3, padding=1),
    dict(kernel_size=3, stride=2, padding=1, bias=False),
    dict(kernel_size=(3, 2), stride=(1, 2), padding=(2, 1), dilation=2),
])
def test_conv2d_gradients(rng, kwargs):
    conv = f64(nn.Conv2d(3, 2, rng=0, **kwargs))
    if conv.bias is not None:
        conv.bias.data[...] = rng.standard_normal(2)
    check_module_gradients(conv, rng.standard_normal((2, 3, 6, 5)))


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=4, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, output_padding=1, bias=False),
    dict(kernel_size=(2, 3), stride=(2, 1), dilation=(1, 2)),
])
def test_conv_transpose2d_gradients(rng, kwargs):
    deconv = f64(nn.ConvTranspose2d(3, 2, rng=0, **kwargs))
    check_module_gradients(deconv, rng.standard_normal((2, 3, 4, 3)))


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradients(rng, training):
    bn = f64(nn.BatchNorm2d(3))
    bn.weight.data[...] = rng.uniform(0.5, 1.5, 3)
    bn.bias.data[...] = rng.standard_normal(3)
    bn.running_mean[...] = rng.standard_normal(3)
    bn.running_var[...] = rng.uniform(0.5, 2.0, 3)
    bn.train(training)
    check_module_gradients(bn, rng.standard_normal((2, 3, 4, 3)))


def test_relu_gradients(rng):
    check_module_gradients(nn.ReLU(), rng.standard_normal((2, 3, 4, 5)))


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1)])
def test_maxpool_gradients(rng, kwargs):
    check_module_gradients(nn.MaxPool2d(**kwargs), rng.standard_normal((2, 3, 7, 6)))


def test_maxunpool_gradients(rng):
    pool = nn.MaxPool2d(2)
    pool(rng.standard_normal((2, 3, 7, 6)))             # the indices to unpool with
    check_module_gradients(nn.MaxUnpool2d(pool), rng.standard_normal((2, 3, 3, 3)))


@pytest.mark.parametrize("kwargs", [
    dict(scale_factor=2),
    dict(size=(7, 4), align_corners=True),
    dict(size=(3, 2)),                                  # downsampling works too
])
def test_upsample_gradients(rng, kwargs):
    check_module_gradients(nn.Upsample(**kwargs), rng.standard_normal((2, 2, 5, 3)))


@pytest.mark.parametrize("layer", [nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d])
@pytest.mark.parametrize("output_size", [1, 3, (2, 4)])
def test_adaptive_pool_gradients(rng, layer, output_size):
    check_module_gradients(layer(output_size), rng.standard_normal((2, 3, 7, 5)))


# ------------------------------------------------------------------ pooling / unpooling


def test_maxpool_then_maxunpool_reproduces_the_lecture_example():
    # Lecture: max pooling "remembers which element was max"; max unpooling puts the
    # decoder's values back at those positions, zeros elsewhere.
    x = np.array([[1, 2, 6, 3],
                  [3, 5, 2, 1],
                  [1, 2, 2, 1],
                  [7, 3, 4, 8]], np.float32)[None, None]
    pool = nn.MaxPool2d(2, stride=2)
    unpool = nn.MaxUnpool2d(pool)
    np.testing.assert_array_equal(pool(x)[0, 0], [[5, 6], [7, 8]])
    decoded = np.array([[1, 2], [3, 4]], np.float32)[None, None]
    np.testing.assert_array_equal(unpool(decoded)[0, 0], [[0, 0, 2, 0],
                                                          [0, 1, 0, 0],
                                                          [0, 0, 0, 0],
                                                          [3, 0, 0, 4]])
    assert pool.indices.dtype == np.int64 and pool.input_size == (4, 4)


def test_maxunpool_restores_odd_input_size(rng):
    pool = nn.MaxPool2d(2)
    x = rng.standard_normal((1, 2, 5, 7)).astype(np.float32)
    y = nn.MaxUnpool2d(pool)(pool(x))
    assert y.shape == x.shape
    # Every kept value sits where it came from.
    kept = y != 0
    np.testing.assert_array_equal(y[kept], x[kept])


@pytest.mark.parametrize("layer", [nn.UnpoolNearest, nn.UnpoolBedOfNails])
def test_fixed_unpooling_gradients(rng, layer):
    check_module_gradients(layer((2, 3)), rng.standard_normal((2, 2, 3, 2)))


def test_fixed_unpooling_reproduces_the_lecture_examples():
    x = np.array([[1, 2], [3, 4]], np.float32)[None, None]
    np.testing.assert_array_equal(nn.UnpoolNearest(2)(x)[0, 0], [[1, 1, 2, 2],
                                                                 [1, 1, 2, 2],
                                                                 [3, 3, 4, 4],
                                                                 [3, 3, 4, 4]])
    np.testing.assert_array_equal(nn.UnpoolBedOfNails(2)(x)[0, 0], [[1, 0, 2, 0],
                                                                    [0, 0, 0, 0],
                                                                    [3, 0, 4, 0],
                                                                    [0, 0, 0, 0]])


def test_maxunpool_errors():
    with pytest.raises(TypeError, match="MaxPool2d"):
        nn.MaxUnpool2d(nn.ReLU())
    with pytest.raises(RuntimeError, match="not run forward"):
        nn.MaxUnpool2d(nn.MaxPool2d(2))(np.zeros((1, 1, 2, 2), np.float32))


def test_maxunpool_is_not_a_child_module():
    pool = nn.MaxPool2d(2)
    net = nn.Sequential(pool, nn.MaxUnpool2d(pool))
    assert len(net.modules()) == 3        # Sequential, pool, unpool: the pool once


# ------------------------------------------------------------------ bilinear initialiser


def test_bilinear_kernel_values():
    w = nn.bilinear_kernel(2, 4)
    tent = np.array([0.25, 0.75, 0.75, 0.25])
    assert w.shape == (2, 2, 4, 4) and w.dtype == np.float32
    np.testing.assert_allclose(w[0, 0], np.outer(tent, tent))
    np.testing.assert_allclose(w[1, 1], np.outer(tent, tent))
    assert not w[0, 1].any() and not w[1, 0].any()   # channels are upsampled separately
    np.testing.assert_allclose(nn.bilinear_kernel(1, 3)[0, 0],
                               np.outer([0.5, 1, 0.5], [0.5, 1, 0.5]))


def test_bilinear_transposed_conv_on_the_lecture_example():
    # Lecture's worked example, 2×2 → 4×4 (align_corners=False). The transposed conv lacks
    # the edge clamping, so only the interior 2×2 is expected to agree.
    lecture = np.array([[1.00, 1.25, 1.75, 2.00],
                        [1.50, 1.75, 2.25, 2.50],
                        [2.50, 2.75, 3.25, 3.50],
                        [3.00, 3.25, 3.75, 4.00]])
    up = f64(nn.ConvTranspose2d(1, 1, 4, stride=2, padding=1, init="bilinear"))
    y = up(np.array([[1.0, 2.0], [3.0, 4.0]])[None, None])[0, 0]
    np.testing.assert_allclose(y[1:-1, 1:-1], lecture[1:-1, 1:-1], rtol=1e-12)


@pytest.mark.parametrize("scale", [2, 4])
def test_bilinear_transposed_conv_matches_bilinear_upsample_in_the_interior(rng, scale):
    c, h, w = 3, 5, 6
    up = f64(nn.ConvTranspose2d(c, c, 2 * scale, stride=scale, padding=scale // 2,
                                init="bilinear"))
    assert not up.bias.data.any()
    const = np.full((1, c, h, w), 2.5)
    y_const = up(const)
    assert y_const.shape == (1, c, scale * h, scale * w)
    inner = (slice(None), slice(None), slice(scale, -scale), slice(scale, -scale))
    np.testing.assert_allclose(y_const[inner], 2.5, rtol=1e-12)     # constant stays constant

    x = rng.standard_normal((2, c, h, w))
    expected, _ = F.bilinear_upsample_forward(x, scale_factor=scale, align_corners=False)
    # Away from the border (the outermost scale/2 output pixels, which bilinear clamps).
    m = scale // 2
    np.testing.assert_allclose(up(x)[..., m:-m, m:-m], expected[..., m:-m, m:-m], rtol=1e-10,
                               atol=1e-12)


def test_bilinear_init_needs_equal_channels_and_known_init():
    with pytest.raises(ValueError, match="in_channels == out_channels"):
        nn.ConvTranspose2d(2, 3, 4, 2, 1, init="bilinear")
    with pytest.raises(ValueError, match="init"):
        nn.ConvTranspose2d(2, 2, 4, init="xavier")


def test_conv_transpose_kaiming_fan_in():
    deconv = nn.ConvTranspose2d(32, 64, 4, stride=2, rng=0)
    w = deconv.weight.data
    assert w.shape == (32, 64, 4, 4)
    # Each output pixel receives C_in·k²/s² = 32·16/4 input values on average.
    assert abs(w.std() / np.sqrt(2.0 / 128) - 1) < 0.03


# ------------------------------------------------------------------ BatchNorm details


def test_batchnorm_initial_state_and_running_update(rng):
    bn = f64(nn.BatchNorm2d(2, momentum=0.25))
    np.testing.assert_array_equal(bn.weight.data, 1)
    np.testing.assert_array_equal(bn.bias.data, 0)
    np.testing.assert_array_equal(bn.running_mean, 0)
    np.testing.assert_array_equal(bn.running_var, 1)
    x = rng.standard_normal((3, 2, 2, 2)) * 2 + 1
    bn(x)
    mean = x.mean(axis=(0, 2, 3))
    var_unbiased = x.var(axis=(0, 2, 3), ddof=1)
    np.testing.assert_allclose(bn.running_mean, 0.25 * mean, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, 0.75 + 0.25 * var_unbiased, rtol=1e-12)


def test_batchnorm_momentum_none_is_a_cumulative_average(rng):
    bn = f64(nn.BatchNorm2d(2, momentum=None))
    batches = [rng.standard_normal((2, 2, 3, 3)) + k for k in range(3)]
    for x in batches:
        bn(x)
    np.testing.assert_allclose(bn.running_mean,
                               np.mean([x.mean(axis=(0, 2, 3)) for x in batches], axis=0),
                               rtol=1e-12)
    assert int(bn.num_batches_tracked) == 3


def test_batchnorm_one_value_per_channel_in_training_is_a_value_error():
    bn = nn.BatchNorm2d(2)
    x = np.ones((1, 2, 1, 1), np.float32)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(x)
    assert int(bn.num_batches_tracked) == 0            # nothing happened
    np.testing.assert_array_equal(bn.running_mean, 0)
    assert bn.eval()(x).shape == x.shape               # eval uses running stats: fine


# ------------------------------------------------------------------ constructor checks


def test_constructor_errors():
    with pytest.raises(ValueError, match="kernel_size"):
        nn.Conv2d(1, 1, 0)
    with pytest.raises(ValueError, match="out_channels"):
        nn.Conv2d(1, 0, 3)
    with pytest.raises(TypeError, match="stride"):
        nn.Conv2d(1, 1, 3, stride=1.5)
    with pytest.raises(ValueError, match="exactly one"):
        nn.Upsample()
    with pytest.raises(ValueError, match="exactly one"):
        nn.Upsample(size=4, scale_factor=2)
    with pytest.raises(ValueError, match="scale_factor"):
        nn.Upsample(scale_factor=-2)
    with pytest.raises(ValueError, match="num_features"):
        nn.BatchNorm2d(0)


def test_upsample_and_pools_follow_the_input_dtype(rng):
    for layer in (nn.Upsample(scale_factor=2), nn.AdaptiveAvgPool2d(2), nn.AdaptiveMaxPool2d(2),
                  nn.ReLU(), nn.MaxPool2d(2)):
        for dtype in (np.float32, np.float64):
            x = rng.standard_normal((1, 2, 4, 4)).astype(dtype)
            y = layer(x)
            assert y.dtype == dtype
            assert layer.backward(np.ones_like(y)).dtype == dtype


def test_float32_layer_close_to_float64(rng):
    nn.init.seed(3)
    a = nn.Conv2d(3, 4, 3, padding=1)
    nn.init.seed(3)
    b = f64(nn.Conv2d(3, 4, 3, padding=1))
    x = rng.standard_normal((2, 3, 5, 5))
    assert scaled_error(a(x.astype(np.float32)), b(x)) < 1e-5
