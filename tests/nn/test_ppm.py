"""PSPNet's pyramid pooling module: shape, channel order, a by-hand level, gradients
(both pooling modes, reduction on and off, BatchNorm in training mode), errors.
"""

from __future__ import annotations

import numpy as np
import pytest

from minisegnet import nn

from ._util import check_module_gradients


def test_output_has_twice_the_channels_and_the_input_first(rng):
    ppm = nn.PyramidPooling(8)
    x = rng.standard_normal((2, 8, 7, 9)).astype(np.float32)
    y = ppm(x)
    assert y.shape == (2, 16, 7, 9) and y.dtype == np.float32 and ppm.out_channels == 16
    np.testing.assert_array_equal(y[:, :8], x)


def test_reduction_off_keeps_in_channels_per_level(rng):
    ppm = nn.PyramidPooling(3, bins=(1, 2), reduction=False)
    assert ppm.out_channels == 3 + 2 * 3
    assert ppm(rng.standard_normal((2, 3, 4, 4)).astype(np.float32)).shape == (2, 9, 4, 4)


def test_channel_order_follows_bins(rng):
    ppm = nn.PyramidPooling(4, bins=(1, 2, 3, 6)).to(dtype=np.float64)
    x = rng.standard_normal((2, 4, 6, 6))
    y = ppm(x)
    for i, b in enumerate(ppm.bins):
        level = ppm[i + 1]
        assert level.module[0].output_size == (b, b)
        np.testing.assert_allclose(y[:, 4 + i:5 + i], level(x), rtol=1e-12)
    # The 1×1 level is spatially constant (global context, upsampled from one value).
    one = y[:, 4:5]
    np.testing.assert_allclose(one, np.broadcast_to(one[:, :, :1, :1], one.shape), rtol=1e-12)


def test_global_level_by_hand_in_eval_mode(rng):
    """bins[0] = 1: global average → 1×1 conv → BN (running stats) → ReLU → broadcast."""
    ppm = nn.PyramidPooling(4, bins=(1, 2)).to(dtype=np.float64).eval()
    conv, bn = ppm[1].module[1], ppm[1].module[2]
    bn.running_mean[...] = rng.standard_normal(2)
    bn.running_var[...] = rng.uniform(0.5, 2, 2)
    bn.weight.data[...] = rng.uniform(0.5, 1.5, 2)
    bn.bias.data[...] = rng.standard_normal(2)
    x = rng.standard_normal((2, 4, 5, 3))
    pooled = x.mean(axis=(2, 3))                                     # (N, C)
    z = pooled @ conv.weight.data[:, :, 0, 0].T                       # (N, C')
    z = (z - bn.running_mean) / np.sqrt(bn.running_var + 1e-5) * bn.weight.data + bn.bias.data
    expected = np.maximum(z, 0)[:, :, None, None] * np.ones((1, 1, 5, 3))
    np.testing.assert_allclose(ppm(x)[:, 4:6], expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("pooling", ["avg", "max"])
@pytest.mark.parametrize("reduction", [True, False])
def test_ppm_gradients_training_mode(rng, pooling, reduction):
    ppm = nn.PyramidPooling(4, bins=(1, 2, 3), pooling=pooling, reduction=reduction, rng=0)
    ppm.to(dtype=np.float64)
    check_module_gradients(ppm, rng.standard_normal((2, 4, 7, 5)))


def test_ppm_gradients_eval_mode_default_bins_align_corners(rng):
    ppm = nn.PyramidPooling(4, align_corners=True, rng=0).to(dtype=np.float64).eval()
    for bn in (m for m in ppm.modules() if isinstance(m, nn.BatchNorm2d)):
        bn.running_mean[...] = rng.standard_normal(1) * 0.1
    check_module_gradients(ppm, rng.standard_normal((2, 4, 6, 6)))


def test_parameter_names():
    names = [n for n, _ in nn.PyramidPooling(4, bins=(1, 2)).named_parameters()]
    assert names == ["1.module.1.weight", "1.module.2.weight", "1.module.2.bias",
                     "2.module.1.weight", "2.module.2.weight", "2.module.2.bias"]


def test_batch_of_one_in_training_is_a_clear_error(rng):
    ppm = nn.PyramidPooling(4)
    x = rng.standard_normal((1, 4, 6, 6)).astype(np.float32)
    with pytest.raises(ValueError, match="bin 1 pools to 1×1.*batch of 1"):
        ppm(x)
    assert ppm.eval()(x).shape == (1, 8, 6, 6)


def test_constructor_errors():
    with pytest.raises(ValueError, match="pooling"):
        nn.PyramidPooling(4, pooling="min")
    with pytest.raises(ValueError, match="too small"):
        nn.PyramidPooling(3)                       # 3 // 4 = 0 channels per level
    with pytest.raises(ValueError, match="bins"):
        nn.PyramidPooling(4, bins=())


def test_levels_get_different_weights_from_one_seed():
    ppm = nn.PyramidPooling(4, bins=(1, 2), rng=3)
    w1, w2 = ppm[1].module[1].weight.data, ppm[2].module[1].weight.data
    assert not np.array_equal(w1, w2)
    np.testing.assert_array_equal(w1, nn.PyramidPooling(4, bins=(1, 2), rng=3)[1].module[1].weight.data)
