"""The same networks built in PyTorch: names, state_dict keys, forward, backward, running
statistics (float64, CPU). Skipped when ``torch`` is not importable.
"""

from __future__ import annotations

import numpy as np
import pytest

from minisegnet import nn

torch = pytest.importorskip("torch")
tnn = torch.nn
tF = torch.nn.functional


def ours_and_torch():
    """One small encoder-decoder in both libraries, with every layer type that PyTorch has."""
    nn.init.seed(0)
    pool = nn.MaxPool2d(2)
    ours = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), pool,
        nn.Conv2d(4, 4, 3, padding=2, dilation=2, bias=False), nn.MaxUnpool2d(pool),
        nn.ConvTranspose2d(4, 3, 4, 2, 1), nn.AdaptiveAvgPool2d(5), nn.AdaptiveMaxPool2d((4, 3)),
        nn.Upsample(size=(7, 6)), nn.Upsample(scale_factor=2, align_corners=True),
    ).to(dtype=np.float64)
    torch.manual_seed(0)
    theirs = tnn.Sequential(
        tnn.Conv2d(2, 4, 3, padding=1), tnn.BatchNorm2d(4), tnn.ReLU(),
        tnn.MaxPool2d(2, return_indices=True),
        tnn.Conv2d(4, 4, 3, padding=2, dilation=2, bias=False), tnn.MaxUnpool2d(2),
        tnn.ConvTranspose2d(4, 3, 4, 2, 1), tnn.AdaptiveAvgPool2d(5), tnn.AdaptiveMaxPool2d((4, 3)),
        tnn.Upsample(size=(7, 6), mode="bilinear", align_corners=False),
        tnn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
    ).double()
    return ours, theirs


def run_torch(theirs, x):
    """PyTorch's Sequential cannot pass pooling indices along; thread them by hand."""
    indices, size = None, None
    for layer in theirs:
        if isinstance(layer, tnn.MaxPool2d):
            size = x.shape
            x, indices = layer(x)
        elif isinstance(layer, tnn.MaxUnpool2d):
            x = layer(x, indices, output_size=size)
        else:
            x = layer(x)
    return x


def test_names_and_state_dict_keys_match_pytorch():
    ours, theirs = ours_and_torch()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for (n, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert p.shape == tuple(tp.shape), n


@pytest.mark.parametrize("training", [True, False])
def test_forward_backward_and_running_stats_match_pytorch(rng, training):
    ours, theirs = ours_and_torch()
    # PyTorch's state_dict loads into ours as it is (tensors convert through NumPy).
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    bn, tbn = ours[1], theirs[1]
    bn.running_mean[...] = rng.standard_normal(4) * 0.1
    bn.running_var[...] = rng.uniform(0.5, 1.5, 4)
    tbn.running_mean.copy_(torch.from_numpy(bn.running_mean.copy()))
    tbn.running_var.copy_(torch.from_numpy(bn.running_var.copy()))
    ours.train(training)
    theirs.train(training)

    x = rng.standard_normal((2, 2, 8, 6))
    tx = torch.tensor(x, requires_grad=True)
    ty = run_torch(theirs, tx)
    y = ours(x)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-10, atol=1e-12)

    dy = rng.standard_normal(y.shape)
    ty.backward(torch.from_numpy(dy))
    dx = ours.backward(dy)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-9, atol=1e-11)
    for (name, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-9, atol=1e-11, err_msg=name)
    for name, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[name], value.numpy(), rtol=1e-12,
                                   err_msg=name)


def test_our_state_dict_loads_into_pytorch():
    ours, theirs = ours_and_torch()
    ours[1].running_var[...] = 2.0
    theirs.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in ours.state_dict().items()})
    np.testing.assert_array_equal(theirs[0].weight.detach().numpy(), ours[0].weight.data)
    np.testing.assert_array_equal(theirs[1].running_var.numpy(), 2.0)


def test_batchnorm_momentum_none_matches_pytorch(rng):
    bn = nn.BatchNorm2d(3, momentum=None).to(dtype=np.float64)
    tbn = tnn.BatchNorm2d(3, momentum=None).double()
    for k in range(3):
        x = rng.standard_normal((2, 3, 4, 4)) * (k + 1) + k
        bn(x)
        tbn(torch.from_numpy(x))
    np.testing.assert_allclose(bn.running_mean, tbn.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, tbn.running_var.numpy(), rtol=1e-12)
    assert int(bn.num_batches_tracked) == int(tbn.num_batches_tracked) == 3


class TorchPPM(tnn.Module):
    """A PyTorch PPM written the usual way (as in semseg's / mmseg's PPM), for comparison."""

    def __init__(self, c, bins, pooling, reduction):
        super().__init__()
        pool = tnn.AdaptiveAvgPool2d if pooling == "avg" else tnn.AdaptiveMaxPool2d
        out = c // len(bins) if reduction else c
        self.stages = tnn.ModuleList(
            tnn.Sequential(pool(b), tnn.Conv2d(c, out, 1, bias=False), tnn.BatchNorm2d(out),
                           tnn.ReLU()) for b in bins)

    def forward(self, x):
        size = x.shape[2:]
        return torch.cat([x] + [tF.interpolate(s(x), size=size, mode="bilinear",
                                               align_corners=False) for s in self.stages], dim=1)


@pytest.mark.parametrize("pooling", ["avg", "max"])
@pytest.mark.parametrize("reduction", [True, False])
def test_pyramid_pooling_matches_a_pytorch_ppm(rng, pooling, reduction):
    ppm = nn.PyramidPooling(4, bins=(1, 2, 3, 6), pooling=pooling, reduction=reduction)
    ppm.to(dtype=np.float64)
    tppm = TorchPPM(4, (1, 2, 3, 6), pooling, reduction).double()
    # Same parameters, matched by position (the two trees name them differently).
    assert len(ppm.parameters()) == len(list(tppm.parameters()))
    for p, tp in zip(ppm.parameters(), tppm.parameters()):
        tp.data.copy_(torch.from_numpy(p.data))

    x = rng.standard_normal((2, 4, 7, 5))
    tx = torch.tensor(x, requires_grad=True)
    ty = tppm(tx)
    y = ppm(x)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    ty.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(ppm.backward(dy), tx.grad.numpy(), rtol=1e-9, atol=1e-11)
    for p, tp in zip(ppm.parameters(), tppm.parameters()):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-9, atol=1e-11)
    running = [b for b in ppm.buffers() if b.dtype.kind == "f"]
    t_running = [b for b in tppm.buffers() if b.dtype.is_floating_point]
    for b, tb in zip(running, t_running):
        np.testing.assert_allclose(b, tb.numpy(), rtol=1e-12)


def test_pytorch_raises_too_for_a_batch_of_one_at_one_by_one():
    with pytest.raises(ValueError):
        tnn.BatchNorm2d(2).train()(torch.ones(1, 2, 1, 1))
    with pytest.raises(ValueError):
        nn.BatchNorm2d(2).train()(np.ones((1, 2, 1, 1), np.float32))
