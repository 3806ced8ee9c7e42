"""A3 public test: train the small PSPNet on ``context`` with your layers; the test scores it.

In ``context`` a boat and a car are drawn from the same shapes and colours: only the water or
the road around a vehicle says which it is (PSPNet's "mismatched relationship"). Inside a crowd
of vehicles that context lies beyond the reach of the backbone's convolutions, and only the
pyramid pooling module brings it in. So the test asks for the IoU of boat and car, the classes
that need the pyramid. Measured with this configuration (lessons/figures/data/a3.json and
a3-check.json, initial seeds 0-5, data seeds 0 and 4): the reference solution reaches 73-83 %
on them; the FCN baseline (the same network without the module) 38-55 %, and a module whose
levels skip the pooling (right shapes, no context) 36-62 %. The threshold sits in between.

Your code trains and predicts; the test generates the validation images, keeps their labels
and computes the scores itself from your predictions.
"""

import numpy as np
import pytest

SIZE, N_TRAIN, N_VAL, ITERATIONS, WIDTHS = 64, 128, 32, 120, (8, 16, 24, 32)
CLASSES = ("sky", "water", "road", "boat", "car")       # data.CONTEXT_CLASSES
BOAT, CAR = CLASSES.index("boat"), CLASSES.index("car")
VEHICLE_IOU = 0.68      # mean of boat and car IoU: above the FCN baseline's range, below PSPNet's
MEAN_IOU = 0.60         # and a sane mIoU over all five classes


def class_iou(pred, labels, k):
    """IoU per class from a confusion matrix counted here (NaN for a class absent from both)."""
    keep = labels != 255
    codes = labels[keep].astype(np.int64) * k + pred[keep].astype(np.int64)
    cm = np.bincount(codes, minlength=k * k).reshape(k, k)
    tp = np.diag(cm).astype(np.float64)
    union = cm.sum(axis=0) + cm.sum(axis=1) - tp
    return np.where(union > 0, tp / np.maximum(union, 1), np.nan)


def score_predictions(got, labels):
    """``(vehicle IoU, mIoU, per-class IoU)`` of the probe's ``pred`` against ``labels``."""
    pred = got.get("pred")
    assert isinstance(pred, np.ndarray) and pred.shape == labels.shape, (
        f"train_pspnet must return pred of shape {labels.shape} (one label per pixel of the "
        f"images it was given), got {getattr(pred, 'shape', type(pred).__name__)}")
    assert pred.dtype.kind in "iu" and pred.size and int(pred.min()) >= 0 \
        and int(pred.max()) < len(CLASSES), "pred must hold class ids 0-4"
    iou = class_iou(pred, labels, len(CLASSES))
    return 0.5 * (iou[BOAT] + iou[CAR]), float(np.nanmean(iou)), iou


def check_scores(vehicles, miou, iou):
    shown = ", ".join(f"{name} {100 * v:.1f}" for name, v in zip(CLASSES, iou))
    assert vehicles >= VEHICLE_IOU and miou >= MEAN_IOU, (
        f"boat/car IoU {100 * vehicles:.1f} % (needs {100 * VEHICLE_IOU:.0f}), mIoU "
        f"{100 * miou:.1f} % (needs {100 * MEAN_IOU:.0f}); per class: {shown}. The FCN baseline "
        f"without context reaches about 48 % on boat and car, the solution about 77 %. Hint: if "
        f"the other A3 tests pass, check that every pyramid level pools (the 1x1 level must see "
        f"the whole map) and that the levels' gradients reach x; the network also uses your A1 "
        f"convolution and A2 bilinear resizing")


@pytest.mark.points(3)
@pytest.mark.time_limit(60)
def test_train_small_pspnet_tells_boats_from_cars(student, expected):
    """MiniPSPNet trained 120 iterations on 128 64x64 context images tells boats from cars"""
    val = expected.run("context_set", n=N_VAL, split="val", size=SIZE, seed=0)
    got = student.run("train_pspnet", images=val["images"], size=SIZE, n_train=N_TRAIN,
                      iterations=ITERATIONS, widths=WIDTHS, seed=0, data_seed=0)
    check_scores(*score_predictions(got, val["labels"]))
