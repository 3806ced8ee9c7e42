"""The ladder-style network (models/ladder.py): shapes, gradients against float64 finite
differences, that it is a composition of containers (no hand-written backward), the blend
switch, its receptive field, and what the decoder's rungs compute."""

import numpy as np
import pytest

from minisegnet import functional as F
from minisegnet import models, nn

from .test_models import _directional_check

K = 4


def _small(**kw):
    nn.init.seed(0)
    return models.LadderNet(K, widths=(4, 6, 8, 8, 10), decoder_width=6, **kw)


@pytest.mark.parametrize("blend", [True, False])
@pytest.mark.parametrize("size", [(32, 32), (40, 36), (64, 48)])
def test_output_at_input_size_and_every_parameter_gets_a_gradient(blend, size):
    model = _small(blend=blend)
    x = np.random.default_rng(0).standard_normal((2, 3) + size).astype(np.float32)
    y = model(x)
    assert y.shape == (2, K) + size and y.dtype == np.float32
    model.zero_grad()
    dx = model.backward(np.random.default_rng(1).standard_normal(y.shape).astype(np.float32))
    assert dx.shape == x.shape
    assert all(p.grad is not None and np.abs(p.grad).sum() > 0 for p in model.parameters())


@pytest.mark.parametrize("blend", [True, False])
def test_gradients_match_finite_differences(blend):
    rng = np.random.default_rng(3)
    _directional_check(_small(blend=blend), rng.standard_normal((2, 3, 32, 32)), rng)


def test_built_from_containers_and_registered():
    model = _small()
    assert isinstance(model.net, nn.ResizeToInput)
    def rungs(net):      # Sum(lateral 1×1, ResizeToInput(deeper)); the residual blocks are Sums too
        return [m for _, m in net.named_modules()
                if isinstance(m, nn.Sum) and isinstance(m[1], nn.ResizeToInput)]

    assert len(rungs(model)) == 3                           # at strides 16, 8, 4
    assert models.MODELS["ladder"] is models.LadderNet
    again = models.build_model(models.model_name(model), **model.config)
    assert list(again.state_dict()) == list(model.state_dict())
    lean = _small(blend=False)
    assert not rungs(lean)
    assert sum(p.size for p in lean.parameters()) < sum(p.size for p in model.parameters())


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="num_classes"):
        models.LadderNet(1)
    with pytest.raises(ValueError, match="widths"):
        models.LadderNet(3, widths=(4, 4, 4, 4))
    with pytest.raises(ValueError, match="decoder_width"):
        models.LadderNet(3, decoder_width=0)
    with pytest.raises(ValueError, match="at least 32"):
        _small()(np.zeros((2, 3, 16, 64), np.float32))


def test_a_rung_adds_the_projection_to_the_upsampled_deeper_map():
    """F̂_t = ReLU(BN(conv3×3(conv1×1(F_t) + up(F̂_{t+1})))), checked on one rung by hand."""
    model = _small()
    model.eval()
    rung = model.net.module[2]                      # F̂₁: Sequential(Sum(lateral, up(deeper)), blend)
    lateral, deeper = rung[0][0], rung[0][1].module
    x = np.random.default_rng(0).standard_normal((2, 6, 12, 10)).astype(np.float32)
    low = deeper(x)
    up, _ = F.bilinear_upsample_forward(low, size=(12, 10))
    expected = rung[1](lateral(x) + up)
    assert low.shape == (2, 6, 6, 5)
    np.testing.assert_allclose(rung(x), expected, rtol=1e-5, atol=1e-6)


def test_receptive_field_reaches_the_whole_image_unlike_unet_and_the_fcn_baseline():
    """The stride-32 encoder sees 63 pixels (F.receptive_field); with the decoder's 3×3
    convolutions and bilinear upsamplings, the centre logit of a 160-pixel image depends on
    every input pixel. U-Net's and the FCN baseline's windows stay under 60 pixels."""
    assert F.receptive_field(_small().encoder_layers()) == (63, 32)
    size = 160
    x = np.random.default_rng(0).standard_normal((1, 3, size, size))

    def extent(model):
        model.to(dtype=np.float64)
        model.eval()
        y = model(x)
        dy = np.zeros_like(y)
        dy[0, :, size // 2, size // 2] = 1.0
        reached = np.abs(model.backward(dy)).sum(axis=(0, 1)) > 0
        cols = np.flatnonzero(reached.any(axis=0))
        return cols.max() - cols.min() + 1

    nn.init.seed(0)
    assert extent(models.LadderNet(K)) == size
    nn.init.seed(0)
    assert extent(models.UNet(K)) < 60
    nn.init.seed(0)
    assert extent(models.MiniPSPNet(K, ppm=False)) < 60
