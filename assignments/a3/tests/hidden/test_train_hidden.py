"""A3 hidden test: the training test of ``public/test_train_pspnet.py`` on data you have not
seen (another seed of ``context`` for training and validation, other initial weights). The
validation labels never leave the trusted side; the scores are computed here."""

import numpy as np
import pytest

SIZE, N_TRAIN, N_VAL, ITERATIONS, WIDTHS = 64, 128, 32, 120, (8, 16, 24, 32)
CLASSES = ("sky", "water", "road", "boat", "car")       # data.CONTEXT_CLASSES
BOAT, CAR = CLASSES.index("boat"), CLASSES.index("car")
VEHICLE_IOU, MEAN_IOU = 0.68, 0.60                        # as in the public test
DATA_SEED, SEED = 4, 1


def _class_iou(pred, labels, k):
    keep = labels != 255
    codes = labels[keep].astype(np.int64) * k + pred[keep].astype(np.int64)
    cm = np.bincount(codes, minlength=k * k).reshape(k, k)
    tp = np.diag(cm).astype(np.float64)
    union = cm.sum(axis=0) + cm.sum(axis=1) - tp
    return np.where(union > 0, tp / np.maximum(union, 1), np.nan)


@pytest.mark.points(3)
@pytest.mark.time_limit(60)
def test_train_small_pspnet_on_unseen_context_data(student, expected):
    """MiniPSPNet trained on another seed of context tells boats from cars on unseen images"""
    val = expected.run("context_set", n=N_VAL, split="val", size=SIZE, seed=DATA_SEED)
    got = student.run("train_pspnet", images=val["images"], size=SIZE, n_train=N_TRAIN,
                      iterations=ITERATIONS, widths=WIDTHS, seed=SEED, data_seed=DATA_SEED)
    pred, labels = got.get("pred"), val["labels"]
    assert isinstance(pred, np.ndarray) and pred.shape == labels.shape, "pred has the wrong shape"
    assert pred.dtype.kind in "iu" and int(pred.min()) >= 0 and int(pred.max()) < len(CLASSES), \
        "pred must hold class ids 0-4"
    iou = _class_iou(pred, labels, len(CLASSES))
    vehicles, miou = 0.5 * (iou[BOAT] + iou[CAR]), float(np.nanmean(iou))
    assert vehicles >= VEHICLE_IOU and miou >= MEAN_IOU, (
        f"boat/car IoU {100 * vehicles:.1f} % (needs {100 * VEHICLE_IOU:.0f}), mIoU {100 * miou:.1f} % "
        f"(needs {100 * MEAN_IOU:.0f})")
