"""Tests of the confusion matrix and the accuracy / IoU family.

References: hand-computed matrices and scores (the numbers are written in the tests), a
Python loop over pixels (``_reference.confusion_loop``), and torchmetrics'
``MulticlassConfusionMatrix`` / ``MulticlassJaccardIndex`` where torchmetrics is installed.
The tests of the counting run on both tiers (the ``tier`` fixture; the fast tier also with
chunks of 7 pixels, so that every path of the chunked counter is hit many times).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from minisegnet import backend
from minisegnet import metrics as M
from minisegnet.metrics import _fast as F

from ._reference import confusion_loop

# A 2 x 5 example with 3 classes and two ignored pixels (255):
#   target  0 0 1 1 2        pred  0 1 1 1 2
#           2 2 255 1 255          2 0 0 1 0
TARGET = np.array([[0, 0, 1, 1, 2], [2, 2, 255, 1, 255]])
PRED = np.array([[0, 1, 1, 1, 2], [2, 0, 0, 1, 0]])
# rows = target, columns = prediction; counted pixels: 8
CM = np.array([[1, 1, 0],
               [0, 3, 0],
               [1, 0, 2]])  # fmt: skip


def _np(a):
    return backend.to_numpy(a)


@pytest.fixture(params=["reference", "fast", "fast-chunk7"])
def tier(request, monkeypatch):
    """Runs the test on the reference tier, the fast tier, and the fast tier in 7-pixel chunks."""
    if request.param == "fast-chunk7":
        monkeypatch.setattr(F, "CHUNK", 7)
    with backend.use_impl(request.param.split("-")[0]):
        yield request.param


def _random_maps(rng, shape, k, ignore_index=255, ignored=0.2, dtype=np.int64):
    target = rng.integers(0, k, shape)
    pred = np.where(rng.random(shape) < 0.6, target, rng.integers(0, k, shape))
    if ignore_index is not None:
        target = np.where(rng.random(shape) < ignored, ignore_index, target)
    return pred.astype(dtype), target.astype(dtype)


# ============================================================================ by hand
def test_hand_example(to_dev):
    cm = M.confusion_matrix(to_dev(PRED), to_dev(TARGET), 3)
    assert cm.dtype == np.int64 and backend.device_of(cm) == backend.device_of(to_dev(PRED))
    np.testing.assert_array_equal(_np(cm), CM)
    cm = to_dev(CM)
    assert M.pixel_accuracy(cm) == pytest.approx(6 / 8)
    np.testing.assert_allclose(_np(M.class_accuracy(cm)), [1 / 2, 3 / 3, 2 / 3])
    assert M.mean_accuracy(cm) == pytest.approx((1 / 2 + 1 + 2 / 3) / 3)
    # IoU_c = cm[c,c] / (row_c + col_c - cm[c,c]): rows 2,3,3; columns 2,4,2
    np.testing.assert_allclose(_np(M.iou(cm)), [1 / 3, 3 / 4, 2 / 3])
    assert M.mean_iou(cm) == pytest.approx((1 / 3 + 3 / 4 + 2 / 3) / 3)
    np.testing.assert_allclose(_np(M.class_frequency(cm)), [2 / 8, 3 / 8, 3 / 8])
    assert M.frequency_weighted_iou(cm) == pytest.approx(2 / 8 * 1 / 3 + 3 / 8 * 3 / 4 + 3 / 8 * 2 / 3)


def test_absent_and_predicted_only_classes():
    """Class 2 absent from both: IoU NaN, left out of the means; class 3 only predicted: IoU 0,
    counted in mIoU but not in mean accuracy (no target pixel)."""
    target = np.array([0, 0, 1, 1, 1, 0])
    pred = np.array([0, 3, 1, 1, 0, 0])
    cm = M.confusion_matrix(pred, target, 4)
    np.testing.assert_array_equal(cm, [[2, 0, 0, 1], [1, 2, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    ious = M.iou(cm)
    np.testing.assert_allclose(ious[[0, 1, 3]], [2 / 4, 2 / 3, 0.0])
    assert math.isnan(ious[2])
    assert M.mean_iou(cm) == pytest.approx((2 / 4 + 2 / 3 + 0) / 3)
    acc = M.class_accuracy(cm)
    assert math.isnan(acc[2]) and math.isnan(acc[3])
    assert M.mean_accuracy(cm) == pytest.approx((2 / 3 + 2 / 3) / 2)
    assert M.frequency_weighted_iou(cm) == pytest.approx(3 / 6 * 2 / 4 + 3 / 6 * 2 / 3)


def test_imbalance_pixel_accuracy_misleads():
    """Lesson 01: predicting the 95% background everywhere scores 95% pixel accuracy but
    mIoU 0.475 and mean accuracy 0.5."""
    target = np.zeros(100, dtype=np.int64)
    target[:5] = 1
    cm = M.confusion_matrix(np.zeros(100, dtype=np.int64), target, 2)
    assert M.pixel_accuracy(cm) == pytest.approx(0.95)
    assert M.mean_accuracy(cm) == pytest.approx(0.5)
    assert M.mean_iou(cm) == pytest.approx(0.475)


def test_empty_inputs_give_zero_matrix_and_nan_scores(tier, to_dev):
    cm = M.confusion_matrix(to_dev(np.zeros((0, 4), np.int64)), to_dev(np.zeros((0, 4), np.int64)), 3)
    np.testing.assert_array_equal(_np(cm), np.zeros((3, 3)))
    all_ignored = M.confusion_matrix(to_dev(np.zeros(5, np.int64)), to_dev(np.full(5, 255)), 3)
    np.testing.assert_array_equal(_np(all_ignored), np.zeros((3, 3)))
    for f in (M.pixel_accuracy, M.mean_accuracy, M.mean_iou, M.frequency_weighted_iou):
        assert math.isnan(f(cm))
    assert np.isnan(_np(M.iou(cm))).all()


# ============================================================================ vs loops
CASES = [  # shape, K, ignore_index, dtype
    ((2, 7, 9), 5, 255, np.int64),
    ((3, 6, 5), 4, 255, np.uint8),
    ((40,), 3, None, np.int32),
    ((4, 5, 6), 6, -1, np.int16),
    ((2, 8, 8), 6, 0, np.int64),        # ignore_index is a class id (ADE20K's "other")
    ((2, 8, 8), 7, 1000, np.int64),     # ignored pixels counted in row 1000, then dropped
    ((2, 8, 8), 7, 70000, np.int64),    # too many rows for that: masked instead
    ((1, 9, 11), 1, 255, np.int64),
    ((5, 3, 4, 6), 19, 255, np.uint16),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-K{c[1]}-ign{c[2]}-{np.dtype(c[3]).name}")
def test_matches_loop(case, tier, to_dev):
    """Random maps vs the pixel loop; in chunks of 7 pixels every path of the fast tier is
    hit many times (chunks with and without ignored pixels, ragged last chunk)."""
    shape, k, ign, dtype = case
    pred, target = _random_maps(np.random.default_rng(len(shape) * k), shape, k, ign, dtype=dtype)
    cm = M.confusion_matrix(to_dev(pred), to_dev(target), k, ignore_index=ign)
    np.testing.assert_array_equal(_np(cm), confusion_loop(pred, target, k, ign))


def test_pred_may_copy_the_ignore_mask(tier, to_dev):
    """pred == ignore_index is allowed where the target is ignored (and changes nothing)."""
    pred, target = _random_maps(np.random.default_rng(3), (3, 6, 6), 4, 255)
    masked = np.where(target == 255, 255, pred)
    for ign in (255, -1):
        t = np.where(target == 255, ign, target)
        p = np.where(target == 255, ign, pred)
        np.testing.assert_array_equal(_np(M.confusion_matrix(to_dev(p), to_dev(t), 4, ign)),
                                      confusion_loop(pred, target, 4, 255))
    np.testing.assert_array_equal(_np(M.confusion_matrix(to_dev(masked), to_dev(target), 4)),
                                  confusion_loop(pred, target, 4, 255))


# ============================================================================ properties
def test_perfect_prediction_scores_one(to_dev):
    _, target = _random_maps(np.random.default_rng(1), (2, 10, 10), 5)
    pred = np.where(target == 255, 0, target)
    cm = M.confusion_matrix(to_dev(pred), to_dev(target), 5)
    for f in (M.pixel_accuracy, M.mean_accuracy, M.mean_iou, M.frequency_weighted_iou):
        assert f(cm) == pytest.approx(1.0)


def test_consistent_class_swap_changes_nothing(to_dev):
    k = 6
    pred, target = _random_maps(np.random.default_rng(2), (3, 9, 9), k)
    perm = np.random.default_rng(9).permutation(k)
    lut = np.append(perm, np.zeros(256 - k, np.int64))
    lut[255] = 255
    cm = _np(M.confusion_matrix(to_dev(pred), to_dev(target), k))
    cm2 = _np(M.confusion_matrix(to_dev(lut[pred]), to_dev(lut[target]), k))
    np.testing.assert_array_equal(cm2[np.ix_(perm, perm)], cm)  # classes relabelled, nothing else
    for f in (M.pixel_accuracy, M.mean_accuracy, M.mean_iou, M.frequency_weighted_iou):
        assert f(cm2) == pytest.approx(f(cm))
    np.testing.assert_allclose(M.iou(cm2)[perm], M.iou(cm))


def test_ignored_pixels_change_nothing(to_dev):
    """Whatever the prediction says at ignored pixels, the matrix is the same; ignoring
    pixels equals dropping them."""
    k = 5
    pred, target = _random_maps(np.random.default_rng(4), (2, 12, 12), k, ignored=0.3)
    other = np.where(target == 255, (pred + 1) % k, pred)
    cm = _np(M.confusion_matrix(to_dev(pred), to_dev(target), k))
    np.testing.assert_array_equal(_np(M.confusion_matrix(to_dev(other), to_dev(target), k)), cm)
    keep = target != 255
    dropped = M.confusion_matrix(to_dev(pred[keep]), to_dev(target[keep]), k, ignore_index=None)
    np.testing.assert_array_equal(_np(dropped), cm)


def test_sum_over_batches_equals_whole(to_dev):
    pred, target = _random_maps(np.random.default_rng(5), (6, 7, 8), 4)
    parts = sum(_np(M.confusion_matrix(to_dev(pred[i]), to_dev(target[i]), 4)) for i in range(6))
    np.testing.assert_array_equal(parts, _np(M.confusion_matrix(to_dev(pred), to_dev(target), 4)))


def test_non_contiguous_inputs(to_dev):
    pred, target = _random_maps(np.random.default_rng(6), (4, 10, 12), 5)
    cm = M.confusion_matrix(to_dev(pred)[:, ::2, 1::3], to_dev(target)[:, ::2, 1::3], 5)
    np.testing.assert_array_equal(_np(cm), confusion_loop(pred[:, ::2, 1::3], target[:, ::2, 1::3], 5))


# ============================================================================ bad input
def test_bad_label_arrays_raise(to_dev):
    t, p = to_dev(TARGET), to_dev(PRED)
    with pytest.raises(ValueError, match=r"pred and target must have the same shape.*\(2, 5\).*\(5, 2\)"):
        M.confusion_matrix(p, to_dev(TARGET.T.copy()), 3)
    with pytest.raises(TypeError, match="pred must hold integer labels, got dtype float32"):
        M.confusion_matrix(to_dev(PRED.astype(np.float32)), t, 3)
    with pytest.raises(TypeError, match="target must hold integer labels, got dtype float64"):
        M.confusion_matrix(p, to_dev(TARGET.astype(np.float64)), 3)
    with pytest.raises(TypeError, match="target must hold integer labels, got dtype bool"):
        M.confusion_matrix(p, to_dev(TARGET > 0), 3)
    with pytest.raises(TypeError, match="pred must be a NumPy or CuPy array, got list"):
        M.confusion_matrix(PRED.tolist(), t, 3)


@pytest.mark.parametrize("num_classes, error", [(0, ValueError), (-2, ValueError), (2.0, TypeError),
                                                (True, TypeError), (None, TypeError)])
def test_bad_num_classes(num_classes, error):
    with pytest.raises(error, match="confusion_matrix: num_classes must be"):
        M.confusion_matrix(PRED, TARGET, num_classes)


def test_bad_ignore_index():
    with pytest.raises(TypeError, match="ignore_index must be an int"):
        M.confusion_matrix(PRED, TARGET, 3, ignore_index=255.0)


@pytest.mark.parametrize("who, value, ign", [
    ("target", 3, 255), ("target", 100, 255), ("target", -1, 255), ("target", 300, 255),
    ("target", 255, None), ("target", 5, 0), ("target", 7, -1), ("target", 2000, 1000),
    ("pred", 3, 255), ("pred", -1, 255), ("pred", 255, None), ("pred", 254, 255), ("pred", 4, 1),
])  # fmt: skip
def test_out_of_range_labels_name_the_array(who, value, ign, tier, to_dev):
    pred, target = PRED.copy(), np.where(TARGET == 255, 0 if ign is None else ign, TARGET)
    (pred if who == "pred" else target)[1, 3] = value
    pattern = rf"confusion_matrix: {who} labels must be in \[0, 3\).*got label {value}"
    with pytest.raises(ValueError, match=pattern):
        M.confusion_matrix(to_dev(pred), to_dev(target), 3, ignore_index=ign)


def test_ignore_index_outside_the_label_dtype(tier, to_dev):
    """uint8 maps with ignore_index -1 or 1000: nothing equals it, nothing wraps around."""
    p, t = np.array([0, 1, 2, 1], np.uint8), np.array([0, 1, 2, 2], np.uint8)
    for ign in (-1, 1000, 70000):
        np.testing.assert_array_equal(_np(M.confusion_matrix(to_dev(p), to_dev(t), 3, ign)),
                                      [[1, 0, 0], [0, 1, 0], [0, 1, 1]])
        with pytest.raises(ValueError, match=rf"target labels .* ignore_index {ign}, got label 7"):
            M.confusion_matrix(to_dev(p), to_dev(np.array([0, 1, 7, 2], np.uint8)), 3, ign)
        with pytest.raises(ValueError, match=r"pred labels .* got label 9"):
            M.confusion_matrix(to_dev(np.array([0, 1, 9, 2], np.uint8)), to_dev(t), 3, ign)


def test_pred_ignore_on_a_counted_pixel_raises(tier, to_dev):
    pred = PRED.copy()
    pred[0, 0] = 255  # target 0 there
    pattern = "pred holds the ignore_index 255 at 1 pixels whose target is a class"
    with pytest.raises(ValueError, match=pattern):
        M.confusion_matrix(to_dev(pred), to_dev(TARGET), 3)


def test_mixed_devices_raise():
    if not backend.gpu_available():
        pytest.skip("needs CuPy and a GPU")
    with pytest.raises(TypeError, match="NumPy and CuPy arrays mixed"):
        M.confusion_matrix(PRED, backend.to_device(TARGET, "gpu"), 3)


@pytest.mark.parametrize("f", [M.pixel_accuracy, M.class_accuracy, M.mean_accuracy, M.iou, M.mean_iou,
                               M.frequency_weighted_iou, M.class_frequency])
def test_bad_confusion_matrices(f, to_dev):
    name = f.__name__
    with pytest.raises(ValueError, match=rf"{name}: cm must have 2 dims \(K, K\), got shape \(3,\)"):
        f(to_dev(np.ones(3)))
    with pytest.raises(ValueError, match=rf"{name}: cm must be square"):
        f(to_dev(np.ones((2, 3))))
    with pytest.raises(ValueError, match=rf"{name}: cm must hold non-negative counts"):
        f(to_dev(-np.eye(3)))
    with pytest.raises(ValueError, match=rf"{name}: cm contains NaN or inf"):
        f(to_dev(np.full((2, 2), np.nan)))
    with pytest.raises(TypeError, match=rf"{name}: cm must hold counts"):
        f(to_dev(np.eye(2, dtype=bool)))


def test_float_confusion_matrix_accepted(to_dev):
    assert M.mean_iou(to_dev(CM.astype(np.float32))) == pytest.approx(M.mean_iou(CM))


# ============================================================================ torchmetrics
def test_against_torchmetrics():
    torch = pytest.importorskip("torch")
    tm = pytest.importorskip("torchmetrics.classification")
    k = 7
    for seed in range(3):
        pred, target = _random_maps(np.random.default_rng(seed), (3, 16, 20), k, ignored=0.15)
        target[target == 6] = 5  # class 6 only ever predicted: IoU 0
        pred[pred == 4] = 3      # class 4 only in the target
        cm = M.confusion_matrix(pred, target, k)
        p, t = torch.from_numpy(pred), torch.from_numpy(target)
        ref_cm = tm.MulticlassConfusionMatrix(num_classes=k, ignore_index=255)(p, t).numpy()
        np.testing.assert_array_equal(cm, ref_cm)
        jac = tm.MulticlassJaccardIndex(num_classes=k, average="macro", ignore_index=255)(p, t)
        assert M.mean_iou(cm) == pytest.approx(float(jac), abs=1e-6)
        acc = tm.MulticlassAccuracy(num_classes=k, average="micro", ignore_index=255)(p, t)
        assert M.pixel_accuracy(cm) == pytest.approx(float(acc), abs=1e-6)
