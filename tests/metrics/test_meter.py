"""Tests of the streaming ``SegmentationMeter``, its table and its plots (Agg backend)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from minisegnet import backend
from minisegnet import metrics as M

from ._reference import confusion_loop


def _batches(seed=0, k=5):
    """Batches of different leading shapes, with ignored pixels."""
    rng = np.random.default_rng(seed)
    out = []
    for shape in [(2, 6, 7), (6, 7), (1, 3, 6, 7), (3, 6, 7)]:
        target = rng.integers(0, k, shape)
        pred = np.where(rng.random(shape) < 0.7, target, rng.integers(0, k, shape))
        target[rng.random(shape) < 0.1] = 255
        out.append((pred, target))
    return out


def test_streaming_equals_one_shot(to_dev):
    k = 5
    batches = _batches()
    meter = M.SegmentationMeter(k)
    for pred, target in batches:
        meter.update(to_dev(pred), to_dev(target))
    got = meter.compute()
    all_pred = np.concatenate([p.ravel() for p, _ in batches])
    all_target = np.concatenate([t.ravel() for _, t in batches])
    cm = confusion_loop(all_pred, all_target, k)
    np.testing.assert_array_equal(got["confusion_matrix"], cm)
    assert isinstance(got["confusion_matrix"], np.ndarray)
    assert got["pixel_accuracy"] == pytest.approx(M.pixel_accuracy(cm))
    assert got["mean_accuracy"] == pytest.approx(M.mean_accuracy(cm))
    assert got["mean_iou"] == pytest.approx(M.mean_iou(cm))
    assert got["frequency_weighted_iou"] == pytest.approx(M.frequency_weighted_iou(cm))
    np.testing.assert_allclose(got["iou"], M.iou(cm))
    np.testing.assert_allclose(got["class_accuracy"], M.class_accuracy(cm))
    np.testing.assert_allclose(got["class_frequency"], cm.sum(1) / cm.sum())
    assert got["num_pixels"] == int(cm.sum()) and meter.num_updates == 4
    # averaging per-batch mIoUs is a different (wrong) number
    per_batch = np.mean([M.mean_iou(confusion_loop(p, t, k)) for p, t in batches])
    assert per_batch != pytest.approx(got["mean_iou"], abs=1e-9)


def test_reset_and_empty_meter():
    meter = M.SegmentationMeter(3, ignore_index=None)
    got = meter.compute()
    np.testing.assert_array_equal(got["confusion_matrix"], np.zeros((3, 3)))
    assert math.isnan(got["mean_iou"]) and math.isnan(got["pixel_accuracy"])
    meter.update(np.array([0, 1, 2]), np.array([0, 1, 1]))
    assert meter.compute()["num_pixels"] == 3
    meter.reset()
    assert meter.compute()["num_pixels"] == 0 and meter.num_updates == 0


def test_bad_batch_leaves_meter_unchanged(to_dev):
    meter = M.SegmentationMeter(3)
    meter.update(to_dev(np.array([0, 1, 2])), to_dev(np.array([0, 1, 255])))
    before = meter.confusion_matrix
    with pytest.raises(ValueError, match="target labels must be in"):
        meter.update(to_dev(np.array([0, 1, 2, 0])), to_dev(np.array([0, 1, 2, 7])))
    with pytest.raises(ValueError, match="same shape"):
        meter.update(to_dev(np.array([0, 1])), to_dev(np.array([0, 1, 2])))
    np.testing.assert_array_equal(meter.confusion_matrix, before)
    assert meter.num_updates == 1


@pytest.mark.parametrize("args, error, text", [
    ((0,), ValueError, "num_classes must be >= 1"),
    ((2.5,), TypeError, "num_classes must be an int"),
    ((3, "x"), TypeError, "ignore_index must be an int"),
])  # fmt: skip
def test_bad_constructor(args, error, text):
    with pytest.raises(error, match=f"SegmentationMeter: {text}"):
        M.SegmentationMeter(*args)
    with pytest.raises(ValueError, match="class_names must be 2 strings"):
        M.SegmentationMeter(2, class_names=["a"])


def test_table_lists_classes_and_summary():
    meter = M.SegmentationMeter(4)
    # class 3 never occurs: its accuracy and IoU print as "-"
    meter.update(np.array([[0, 1, 1, 2]]), np.array([[0, 1, 2, 2]]))
    text = meter.table(class_names=["road", "car", "sky", "boat"])
    lines = text.splitlines()
    assert lines[0].split() == ["id", "class", "pixels", "%", "acc", "%", "IoU", "%"]
    assert lines[2].split() == ["0", "road", "25.0", "100.0", "100.0"]
    assert lines[3].split() == ["1", "car", "25.0", "100.0", "50.0"]
    assert lines[4].split() == ["2", "sky", "50.0", "50.0", "50.0"]
    assert lines[5].split() == ["3", "boat", "0.0", "-", "-"]
    assert "mean IoU:" in text and "66.7" in text  # (1 + 1/2 + 1/2) / 3
    assert "pixel accuracy:" in text and "75.0" in text
    default = M.SegmentationMeter(2)
    default.update(np.array([0, 1]), np.array([0, 1]))
    assert default.table().splitlines()[2].split()[:2] == ["0", "0"]
    assert "SegmentationMeter(num_classes=4" in repr(meter)


def test_plots_with_agg():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    meter = M.SegmentationMeter(3, class_names=["a", "b", "c"])
    meter.update(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 2, 0]))
    fig, ax = meter.plot_confusion_matrix()
    image = ax.get_images()[0].get_array()
    np.testing.assert_allclose(np.asarray(image).sum(axis=1), 1.0)  # rows normalised
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    plt.close(fig)
    fig, ax = meter.plot_iou()
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, M.iou(meter.confusion_matrix))
    plt.close(fig)
    # NaN IoU: empty slot; drawing into given axes; counts without normalising
    fig, axes = plt.subplots(1, 2)
    _, ax = M.plot_class_iou(np.array([0.5, np.nan]), ax=axes[0])
    assert ax is axes[0] and [p.get_height() for p in ax.patches] == [0.5, 0.0]
    _, ax = M.plot_confusion_matrix(np.array([[3, 1], [0, 0]]), normalize=None, ax=axes[1])
    np.testing.assert_array_equal(np.asarray(ax.get_images()[0].get_array()), [[3, 1], [0, 0]])
    plt.close(fig)
    with pytest.raises(ValueError, match="normalize must be"):
        M.plot_confusion_matrix(np.eye(2), normalize="rows")


def test_normalize_confusion():
    cm = np.array([[2, 2], [0, 0]])
    np.testing.assert_allclose(M.normalize_confusion(cm, "true"), [[0.5, 0.5], [0, 0]])
    np.testing.assert_allclose(M.normalize_confusion(cm, "pred"), [[1, 1], [0, 0]])
    np.testing.assert_allclose(M.normalize_confusion(cm, "all"), [[0.5, 0.5], [0, 0]])


def test_meter_on_device_batches(to_dev, device):
    meter = M.SegmentationMeter(5)
    for pred, target in _batches(1):
        meter.update(to_dev(pred), to_dev(target))
    assert isinstance(meter.compute()["iou"], np.ndarray)
    assert backend.device_of(meter.confusion_matrix) == "cpu"
