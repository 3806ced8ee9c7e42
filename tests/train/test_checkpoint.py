"""Checkpoints: round trip, rebuilt models, clear errors for corrupted and mismatched files,
and atomic writes (never a half-written file)."""

import os
import zipfile

import numpy as np
import pytest

from minisegnet import models, nn, train
from minisegnet.train import CheckpointError


def model_a(seed=0, **kw):
    nn.init.seed(seed)
    return models.MiniPSPNet(5, **{"widths": (4, 6, 8, 8), **kw})


def _trained_a_little(model):
    """Change parameters and running statistics from their initial values."""
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    opt = train.SGD(model.parameters(), lr=0.1)
    y = model(x)
    model.zero_grad()
    model.backward(y, model.aux_logits)
    opt.step()
    return opt


def test_round_trip_into_a_fresh_model(tmp_path):
    model = model_a()
    opt = _trained_a_little(model)
    path = train.save_checkpoint(tmp_path / "m.npz", model, opt, iteration=7, tags=["x"])
    fresh = model_a(seed=1)
    fresh_opt = train.SGD(fresh.parameters())
    _, meta = train.load_checkpoint(path, fresh, fresh_opt)
    assert meta["iteration"] == 7 and meta["tags"] == ["x"] and meta["model"] == "pspnet"
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[k], v)
    for a, b in zip(opt.velocity, fresh_opt.velocity):
        np.testing.assert_array_equal(a, b)


def test_load_without_a_model_rebuilds_it(tmp_path):
    model = models.UNet(3, widths=(4, 6, 8))
    path = train.save_checkpoint(tmp_path / "u.npz", model)
    rebuilt, meta = train.load_checkpoint(path)
    assert isinstance(rebuilt, models.UNet) and meta["config"]["widths"] == [4, 6, 8]
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(rebuilt.state_dict()[k], v)


def test_file_is_a_plain_npz(tmp_path):
    path = train.save_checkpoint(tmp_path / "m.npz", model_a())
    with np.load(path) as npz:
        assert "__meta__" in npz.files
        assert "model/stem.0.0.weight" in npz.files
        assert "model/layer1.0.1.1.running_mean" in npz.files


def test_mismatched_model_lists_every_problem_and_changes_nothing(tmp_path):
    path = train.save_checkpoint(tmp_path / "m.npz", model_a())
    other = model_a(seed=3, widths=(4, 6, 8, 12), aux=False)
    before = other.state_dict()
    with pytest.raises(CheckpointError) as info:
        train.load_checkpoint(path, other)
    message = str(info.value)
    assert "does not match MiniPSPNet" in message
    assert "not in the model" in message and "aux_head" in message        # unexpected keys
    assert "shape mismatch" in message and "layer3" in message
    assert "checkpoint (8," in message and "model (12," in message
    for k, v in other.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    with pytest.raises(CheckpointError, match="missing from the checkpoint"):
        train.load_checkpoint(train.save_checkpoint(tmp_path / "n.npz", model_a(aux=False)),
                              model_a())


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "flip"])
def test_corrupted_files_are_clear_errors(tmp_path, damage):
    path = tmp_path / "m.npz"
    train.save_checkpoint(path, model_a())
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a zip file at all" * 10)
    elif damage == "empty":
        path.write_bytes(b"")
    else:   # flip bytes in the middle of a stored array: the zip CRC catches it
        data = bytearray(raw)
        for i in range(len(data) // 2, len(data) // 2 + 64):
            data[i] ^= 0xFF
        path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="not a readable minisegnet checkpoint"):
        train.load_checkpoint(path, model_a())


def test_other_npz_and_missing_file(tmp_path):
    np.savez(tmp_path / "x.npz", a=np.zeros(3))
    with pytest.raises(CheckpointError, match="not a minisegnet checkpoint"):
        train.load_checkpoint(tmp_path / "x.npz", model_a())
    with pytest.raises(FileNotFoundError, match="does not exist"):
        train.load_checkpoint(tmp_path / "nope.npz", model_a())


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    train.save_checkpoint(path, model_a(), iteration=1)
    original = path.read_bytes()

    def broken_savez(file, **arrays):
        file.write(b"PK\x03\x04 half of a zip")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        train.save_checkpoint(path, model_a(), iteration=2)
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["m.npz"]
    monkeypatch.undo()
    _, meta = train.load_checkpoint(path, model_a())
    assert meta["iteration"] == 1


def test_overwrite_replaces_and_creates_folders(tmp_path):
    path = tmp_path / "deep" / "er" / "m.npz"
    train.save_checkpoint(path, model_a(), iteration=1)
    train.save_checkpoint(path, model_a(), iteration=2)
    assert train.read_checkpoint(path)[0]["iteration"] == 2
    assert os.listdir(path.parent) == ["m.npz"]
    assert zipfile.is_zipfile(path)


def test_meta_must_be_json(tmp_path):
    with pytest.raises(TypeError, match="JSON"):
        train.save_checkpoint(tmp_path / "m.npz", model_a(), thing=object())
    assert not os.listdir(tmp_path)
