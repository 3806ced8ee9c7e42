"""Models: shapes, gradients (directional finite differences in float64), the auxiliary
output's flow, the ablation switches and the receptive field."""

import numpy as np
import pytest

from minisegnet import functional as F
from minisegnet import models, nn

K = 4


def _small(name, **kw):
    nn.init.seed(0)
    if name == "pspnet":
        return models.MiniPSPNet(K, widths=(4, 6, 8, 8), **kw)
    if name == "fcn8s":
        return models.FCN8s(K, widths=(4, 4, 6, 6, 6), convs=(1, 1, 1, 1, 1), fc_width=8)
    return models.UNet(K, widths=(4, 6, 8))


@pytest.mark.parametrize("name", ["pspnet", "fcn8s", "unet"])
def test_output_at_input_size_and_backward_shape(name):
    model = _small(name)
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    y = model(x)
    assert y.shape == (2, K, 32, 32) and y.dtype == np.float32
    model.zero_grad()
    dx = model.backward(np.ones_like(y))
    assert dx.shape == x.shape
    assert all(p.grad is not None and np.isfinite(p.grad).all() for p in model.parameters())


def test_fcn8s_any_size_from_32_and_unet_needs_multiples_of_4():
    x = np.zeros((2, 3, 40, 36), np.float32)
    assert _small("fcn8s")(x).shape == (2, K, 40, 36)
    with pytest.raises(ValueError, match="at least 32"):
        _small("fcn8s")(np.zeros((2, 3, 24, 40), np.float32))
    with pytest.raises(ValueError, match="divisible by 4"):
        _small("unet")(np.zeros((2, 3, 30, 32), np.float32))


def _directional_check(model, x, rng, with_aux=False, n_params=6, eps=1e-7):
    """<∇L, v> from backward against (L(θ+εv) - L(θ-εv)) / 2ε for the input and a few
    parameters, where L = <y, g> (+ <aux, g_aux>). A small ε: max pooling and ReLU have
    kinks, and a step of 1e-5 in a random direction over every pixel crosses some."""
    model.to(dtype=np.float64)
    x = x.astype(np.float64)

    def loss():
        y = model.forward(x)
        total = float((y * g).sum())
        if with_aux:
            total += float((model.aux_logits * g_aux).sum())
        return total

    y = model.forward(x)
    g = rng.standard_normal(y.shape)
    g_aux = rng.standard_normal(model.aux_logits.shape) if with_aux else None
    model.forward(x)
    model.zero_grad()
    dx = model.backward(g, g_aux) if with_aux else model.backward(g)
    grads = [(p, p.grad.copy()) for p in model.parameters()]

    v = rng.standard_normal(x.shape)
    x0 = x.copy()
    x[...] = x0 + eps * v
    up = loss()
    x[...] = x0 - eps * v
    down = loss()
    x[...] = x0
    numeric, analytic = (up - down) / (2 * eps), float((dx * v).sum())
    assert abs(numeric - analytic) <= 1e-5 * max(1.0, abs(analytic)) + 1e-4, ("dx", numeric, analytic)

    picks = rng.choice(len(grads), size=min(n_params, len(grads)), replace=False)
    for i in picks:
        p, grad = grads[i]
        v = rng.standard_normal(p.data.shape)
        base = p.data.copy()
        p.data[...] = base + eps * v
        up = loss()
        p.data[...] = base - eps * v
        down = loss()
        p.data[...] = base
        numeric, analytic = (up - down) / (2 * eps), float((grad * v).sum())
        assert abs(numeric - analytic) <= 1e-5 * max(1.0, abs(analytic)) + 1e-4, (i, numeric, analytic)


@pytest.mark.parametrize("options", [dict(), dict(pooling="max", bins=(1, 2)), dict(ppm=False),
                                     dict(block="basic", head_kernel=3, reduction=False)])
def test_pspnet_gradients_including_the_auxiliary_head(options):
    rng = np.random.default_rng(1)
    model = _small("pspnet", **options)
    x = rng.standard_normal((2, 3, 32, 32))
    _directional_check(model, x, rng, with_aux=True)


@pytest.mark.parametrize("name", ["fcn8s", "unet"])
def test_fcn8s_and_unet_gradients(name):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 32, 32))
    _directional_check(_small(name), x, rng)


def test_aux_logits_only_in_training_with_aux():
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    model = _small("pspnet")
    y = model(x)
    assert model.aux_logits.shape == y.shape
    model.eval()
    model(x)
    assert model.aux_logits is None
    with pytest.raises(ValueError, match="d_aux"):
        model.backward(np.ones_like(y), np.ones_like(y))
    model.backward(np.ones_like(y))                 # main gradient alone is fine
    no_aux = _small("pspnet", aux=False)
    no_aux(x)
    assert no_aux.aux_logits is None and no_aux.aux_head is None


def test_aux_gradient_reaches_only_the_trunk_below_layer2():
    """The auxiliary head taps layer2: its gradient changes stem..layer2 and itself, not
    layer3, the PPM or the main head."""
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    model = _small("pspnet")
    y = model(x)
    model.zero_grad()
    model.backward(np.zeros_like(y), np.ones_like(model.aux_logits))
    for name, p in model.named_parameters():
        touched = bool(np.abs(p.grad).sum() > 0)
        below = name.split(".")[0] in ("stem", "layer1", "layer2", "aux_head")
        if not below:
            assert not touched, name
    assert np.abs(model.aux_head[1].weight.grad).sum() > 0
    assert np.abs(model.stem[0][0].weight.grad).sum() > 0


def test_ablation_switches():
    m = _small("pspnet", bins=(1,), pooling="max", reduction=False)
    assert m.ppm.bins == (1,) and m.ppm.pooling == "max" and not m.ppm.reduction
    assert "bins=(1,)" in repr(m)
    base = _small("pspnet", ppm=False)
    assert isinstance(base.ppm, nn.Identity)
    assert "FCN baseline" in base.extra_repr()
    ppm_names = [n for n, _ in _small("pspnet").named_parameters() if n.startswith("ppm.")]
    assert ppm_names and not [n for n, _ in base.named_parameters() if n.startswith("ppm.")]
    with pytest.raises(ValueError, match="num_classes"):
        models.MiniPSPNet(1)


@pytest.mark.parametrize("name", ["pspnet", "fcn8s", "unet"])
def test_build_model_from_config(name):
    model = _small(name)
    again = models.build_model(models.model_name(model), **model.config)
    a, b = model.state_dict(), again.state_dict()
    assert list(a) == list(b)
    assert all(a[k].shape == b[k].shape for k in a)
    with pytest.raises(ValueError, match="name"):
        models.build_model("segformer")


def test_residual_blocks_are_sums_with_identity_or_projection():
    same = models.ResidualBlock(8, 8)
    assert isinstance(same[0], nn.Sum) and isinstance(same[0][0], nn.Identity)
    assert isinstance(same[1], nn.ReLU)
    proj = models.Bottleneck(8, 16, stride=2)
    assert isinstance(proj[0][0], nn.Sequential)          # 1×1 projection + BN
    x = np.random.default_rng(0).standard_normal((2, 8, 10, 10)).astype(np.float32)
    assert proj(x).shape == (2, 16, 5, 5)
    assert models.Bottleneck(8, 8, dilation=2)(x).shape == x.shape


def test_receptive_field_of_the_baseline_and_the_global_view_of_pspnet():
    """Gradient of one output pixel: the FCN baseline's reaches only a window of about its
    receptive field (plus the final ×8 bilinear upsampling); PSPNet's reaches every pixel."""
    size = 160
    x = np.random.default_rng(0).standard_normal((2, 3, size, size)).astype(np.float64)
    extents = {}
    for ppm in (False, True):
        model = _small("pspnet", ppm=ppm).to(dtype=np.float64)
        model.eval()
        y = model(x)
        dy = np.zeros_like(y)
        dy[:, :, size // 2, size // 2] = 1.0
        dx = np.abs(model.backward(dy)).sum(axis=(0, 1))
        cols = np.nonzero(dx.sum(axis=0) > 1e-12)[0]
        extents[ppm] = cols.max() - cols.min() + 1
    rf, stride = F.receptive_field(_small("pspnet").backbone_layers())
    assert (rf, stride) == (47, 8)
    assert rf <= extents[False] <= rf + 2 * stride
    assert extents[True] == size
