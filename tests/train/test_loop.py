"""Training: SGD and the poly schedule, the loss going down, overfitting a tiny batch,
determinism, the auxiliary loss, checkpoints at validation."""

import os

import numpy as np
import pytest

from minisegnet import data, models, nn, train
from minisegnet import functional as F


def tiny_model(seed=0, **kw):
    nn.init.seed(seed)
    return models.MiniPSPNet(5, widths=(6, 8, 8, 8), **kw)


@pytest.fixture(scope="module")
def tiny_data():
    return (data.make_context(16, "train", seed=0, size=32),
            data.make_context(4, "val", seed=0, size=32))


def test_poly_lr():
    assert train.poly_lr(0.01, 0, 100) == 0.01
    assert train.poly_lr(0.01, 100, 100) == 0.0
    assert train.poly_lr(0.01, 50, 100) == pytest.approx(0.01 * 0.5 ** 0.9)
    values = [train.poly_lr(0.01, i, 10) for i in range(11)]
    assert all(a > b for a, b in zip(values, values[1:]))
    with pytest.raises(ValueError):
        train.poly_lr(0.01, 11, 10)


def test_sgd_matches_pytorch_update_rule():
    p = nn.Parameter(np.array([1.0, -2.0]))
    opt = train.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01)
    w, v = p.data.copy(), None
    for g in (np.array([0.5, 0.5]), np.array([-1.0, 2.0]), np.array([0.0, 1.0])):
        p.grad = g.copy()
        opt.step()
        d = g + 0.01 * w
        v = d if v is None else 0.9 * v + d
        w = w - 0.1 * v
        np.testing.assert_allclose(p.data, w)
    assert p.grad is not None
    opt.zero_grad()
    np.testing.assert_array_equal(p.grad, 0)
    state = opt.state_dict()
    other = train.SGD([nn.Parameter(np.zeros(2))], lr=0.1)
    other.load_state_dict(state)
    np.testing.assert_array_equal(other.velocity[0], opt.velocity[0])


def test_sgd_skips_parameters_without_gradient_and_checks_arguments():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    a.grad = np.ones(2)
    train.SGD([a, b], lr=0.5, momentum=0.0, weight_decay=0.0).step()
    np.testing.assert_array_equal(a.data, [0.5, 0.5])
    np.testing.assert_array_equal(b.data, [1.0, 1.0])
    with pytest.raises(ValueError):
        train.SGD([a], momentum=1.0)
    with pytest.raises(ValueError):
        train.SGD([])


def test_short_training_lowers_the_loss(tiny_data):
    train_set, val_set = tiny_data
    result = train.train(tiny_model(), train_set, val_set, iterations=60, batch_size=4,
                         base_lr=0.05, progress=False)
    losses = [h["loss"] for h in result["history"]]
    assert np.mean(losses[-8:]) < 0.75 * np.mean(losses[:8])
    assert result["final"]["mean_iou"] > 0
    assert [v["iteration"] for v in result["validation"]] == [60]
    assert [h["lr"] for h in result["history"]][::20] == pytest.approx(
        [train.poly_lr(0.05, i, 60) for i in (0, 20, 40)])


def test_overfits_a_tiny_batch(tiny_data):
    """A full-resolution network (U-Net) memorises two images: the loss falls to near zero
    and every pixel is right. (MiniPSPNet's output stride 8 caps the accuracy of 32-pixel
    images at their coarse boundaries, so it is the wrong model to memorise with.)"""
    train_set, _ = tiny_data
    x, y = train_set.batch([0, 1])
    nn.init.seed(0)
    model = models.UNet(5, widths=(8, 8, 8))
    opt = train.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.0)
    losses = [train.train_step(model, opt, x, y)[0] for _ in range(60)]
    assert losses[-1] < 0.1 * losses[0]
    model.eval()
    assert float((model(x).argmax(1) == y).mean()) > 0.97


def test_same_seed_same_training(tiny_data):
    train_set, _ = tiny_data
    runs = [train.train(tiny_model(), train_set, iterations=6, batch_size=4, seed=3,
                        augment=data.PSPNET_AUGMENT, progress=False) for _ in range(2)]
    a, b = ([h["loss"] for h in r["history"]] for r in runs)
    assert a == b
    c = train.train(tiny_model(), train_set, iterations=6, batch_size=4, seed=4,
                    augment=data.PSPNET_AUGMENT, progress=False)
    assert [h["loss"] for h in c["history"]] != a


def test_train_step_adds_the_weighted_auxiliary_loss(tiny_data):
    train_set, _ = tiny_data
    x, y = train_set.batch([0, 1])
    model = tiny_model()
    opt = train.SGD(model.parameters(), lr=0.0, momentum=0.0, weight_decay=0.0)
    total, main = train.train_step(model, opt, x, y, aux_weight=0.4)
    aux, _ = F.softmax_cross_entropy_forward(model.aux_logits, y)
    assert total == pytest.approx(main + 0.4 * float(aux), rel=1e-5)
    total0, main0 = train.train_step(model, opt, x, y, aux_weight=0.0)
    assert total0 == main0
    no_aux = tiny_model(aux=False)
    t, m = train.train_step(no_aux, train.SGD(no_aux.parameters(), lr=0.0), x, y)
    assert t == m


def test_checkpoint_written_at_validation(tiny_data, tmp_path):
    train_set, val_set = tiny_data
    path = tmp_path / "ckpt.npz"
    model = tiny_model()
    train.train(model, train_set, val_set, iterations=4, batch_size=4, val_every=2,
                checkpoint=str(path), progress=False, meta={"note": "test"})
    loaded, meta = train.load_checkpoint(path)
    assert meta["iteration"] == 4 and meta["note"] == "test"
    assert "val_mean_iou" in meta and meta["train_config"]["iterations"] == 4
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[k], v)
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_train_config_checks(tiny_data):
    train_set, _ = tiny_data
    with pytest.raises(ValueError, match="device"):
        train.TrainConfig(device="tpu")
    with pytest.raises(ValueError, match="batch_size"):
        train.train(tiny_model(), train_set.subset([0, 1]), iterations=1, batch_size=4,
                    progress=False)


def test_progress_bar_runs(tiny_data, capsys):
    train_set, val_set = tiny_data
    train.train(tiny_model(), train_set, val_set, iterations=2, batch_size=4, progress=True)
    captured = capsys.readouterr()
    assert "train:" in captured.err                  # the bar, on stderr
    assert "iteration 2/2" in captured.out + captured.err
