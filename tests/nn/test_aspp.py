"""DeepLabv3's ASPP block: shapes, structure, a branch by hand, gradients (finite differences,
training and eval mode), errors, and the same block built from ``torch.nn`` layers (skipped
without torch).
"""

from __future__ import annotations

import numpy as np
import pytest

from minisegnet import functional as F
from minisegnet import nn

from ._util import check_module_gradients


def test_shapes_and_structure(rng):
    aspp = nn.ASPP(8, 5)
    x = rng.standard_normal((2, 8, 9, 7)).astype(np.float32)
    y = aspp(x)
    assert y.shape == (2, 5, 9, 7) and y.dtype == np.float32
    assert len(aspp.branches) == 5                        # 1×1, rates 6, 12, 18, image pooling
    convs = [b[0] for b in list(aspp.branches)[:4]]
    assert [c.dilation for c in convs] == [(1, 1), (6, 6), (12, 12), (18, 18)]
    assert [c.padding for c in convs] == [(0, 0), (6, 6), (12, 12), (18, 18)]
    assert all(c.bias is None for c in convs)
    assert aspp.project[0].in_channels == 25 and aspp.project[0].kernel_size == (1, 1)
    assert (y >= 0).all()                                 # ends with ReLU


def test_without_image_pooling_and_other_rates(rng):
    aspp = nn.ASPP(3, 4, rates=(1, 2), image_pooling=False)
    assert len(aspp.branches) == 3 and aspp.project[0].in_channels == 12
    assert aspp(rng.standard_normal((1, 3, 5, 6)).astype(np.float32)).shape == (1, 4, 5, 6)


def test_a_dilated_branch_by_hand_in_eval_mode(rng):
    aspp = nn.ASPP(3, 2, rates=(2,)).to(dtype=np.float64).eval()
    branch = aspp.branches[1]
    conv, bn = branch[0], branch[1]
    bn.running_mean[...] = rng.standard_normal(2)
    bn.running_var[...] = rng.uniform(0.5, 2.0, 2)
    x = rng.standard_normal((2, 3, 6, 5))
    z, _ = F.conv2d_forward(x, conv.weight.data, padding=2, dilation=2)
    z = (z - bn.running_mean[:, None, None]) / np.sqrt(bn.running_var[:, None, None] + 1e-5)
    np.testing.assert_allclose(branch(x), np.maximum(z, 0), rtol=1e-12, atol=1e-14)


def test_image_pooling_branch_is_constant_in_space(rng):
    aspp = nn.ASPP(3, 2, rates=(1,)).to(dtype=np.float64)
    pooled = aspp.branches[2](rng.standard_normal((2, 3, 5, 4)))
    np.testing.assert_allclose(pooled, np.broadcast_to(pooled[:, :, :1, :1], pooled.shape),
                               rtol=1e-13)


def test_gradients_training_mode(rng):
    aspp = nn.ASPP(2, 2, rates=(1, 2), rng=0).to(dtype=np.float64)
    check_module_gradients(aspp, rng.standard_normal((2, 2, 5, 4)))


def test_gradients_eval_mode_without_pooling(rng):
    aspp = nn.ASPP(2, 2, rates=(2, 3), image_pooling=False, rng=1).to(dtype=np.float64).eval()
    for bn in (m for m in aspp.modules() if isinstance(m, nn.BatchNorm2d)):
        bn.running_mean[...] = rng.standard_normal(bn.num_features) * 0.1
    check_module_gradients(aspp, rng.standard_normal((1, 2, 5, 5)))


def test_errors():
    with pytest.raises(ValueError, match="rates must be positive ints"):
        nn.ASPP(4, 4, rates=(0, 2))
    with pytest.raises(ValueError, match="out_channels must be a positive int"):
        nn.ASPP(4, 0)
    aspp = nn.ASPP(2, 2, rates=(1,))
    with pytest.raises(ValueError, match="batch of 1"):
        aspp(np.zeros((1, 2, 4, 4), np.float32))
    assert aspp.eval()(np.zeros((1, 2, 4, 4), np.float32)).shape == (1, 2, 4, 4)
    with pytest.raises(ValueError, match="must have 2 channels"):
        aspp(np.zeros((2, 3, 4, 4), np.float32))


def test_matches_the_same_block_in_pytorch(rng):
    torch = pytest.importorskip("torch")
    tnn = torch.nn

    def cbr(ci, co, k, d):
        return tnn.Sequential(tnn.Conv2d(ci, co, k, padding=d * (k - 1) // 2, dilation=d,
                                         bias=False), tnn.BatchNorm2d(co), tnn.ReLU())

    class TorchASPP(tnn.Module):        # torchvision's DeepLabv3 ASPP, without its dropout
        def __init__(self, ci, co, rates):
            super().__init__()
            self.convs = tnn.ModuleList([cbr(ci, co, 1, 1)] + [cbr(ci, co, 3, r) for r in rates])
            self.pool = tnn.Sequential(tnn.AdaptiveAvgPool2d(1), tnn.Conv2d(ci, co, 1, bias=False),
                                       tnn.BatchNorm2d(co), tnn.ReLU())
            self.project = cbr((len(rates) + 2) * co, co, 1, 1)

        def forward(self, x):
            outs = [c(x) for c in self.convs]
            outs.append(torch.nn.functional.interpolate(self.pool(x), size=x.shape[-2:],
                                                        mode="bilinear", align_corners=False))
            return self.project(torch.cat(outs, dim=1))

    ours = nn.ASPP(3, 4, rates=(1, 2), rng=0).to(dtype=np.float64)
    torch.manual_seed(0)
    theirs = TorchASPP(3, 4, (1, 2)).double()
    ours_params = list(ours.parameters())
    with torch.no_grad():
        for tp, p in zip(theirs.parameters(), ours_params, strict=True):  # the same order
            assert tuple(tp.shape) == p.shape
            tp.copy_(torch.from_numpy(p.data.copy()))
    x = rng.standard_normal((2, 3, 6, 5))
    tx = torch.tensor(x, requires_grad=True)
    ty = theirs(tx)
    y = ours(x)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    ours.zero_grad()
    dx = ours.backward(dy)
    ty.backward(torch.tensor(dy))
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-9, atol=1e-11)
    for tp, p in zip(theirs.parameters(), ours_params):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-9, atol=1e-11)
