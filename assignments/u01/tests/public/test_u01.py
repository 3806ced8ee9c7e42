"""Unit 01, public tests of the notebook's exercises (what ``check`` runs)."""

import numpy as np
import pytest

T_SMALL = np.array([[0, 0, 0, 0],      # the notebook's 4 x 4 example
                    [0, 0, 0, 0],
                    [0, 0, 1, 1],
                    [2, 2, 1, 1]])
P_SMALL = np.array([[0, 0, 0, 0],
                    [0, 0, 0, 1],
                    [0, 0, 1, 1],
                    [0, 2, 1, 0]])
ROWS = "rows are the target (truth), columns the prediction: cm[t, p] += 1, not cm[p, t]"


@pytest.mark.exercise("01.1")
@pytest.mark.points(1)
def test_number_of_segments(check):
    """segments of the 4x8 panoptic map"""
    check("number", name="n_segments", secret=True,
          hint="the road is one segment although the cars cut it in two; the two touching "
               "cars are two segments")


@pytest.mark.exercise("01.2")
@pytest.mark.points(1)
def test_confusion_loop_lecture_example(check):
    """the 4x4 example of section 5, 3 classes"""
    check("confusion_loop", pred=P_SMALL, target=T_SMALL, k=3, hint=ROWS)


@pytest.mark.exercise("01.2")
@pytest.mark.points(1)
def test_confusion_loop_ignore_label_not_counted(check, data):
    """pixels labelled 255 are not counted, whatever was predicted there"""
    target = data.integers((6, 7), seed=121, low=0, high=4)
    target[1:3, 2:6] = 255                       # a void band
    target[5, 0] = 255
    pred = data.integers((6, 7), seed=122, low=0, high=4)
    check("confusion_loop", pred=pred, target=target, k=4,
          hint="skip a pixel when its TARGET is ignore_index (255): it must not be counted "
               "in any cell, and the matrix stays k x k")


@pytest.mark.exercise("01.2")
@pytest.mark.points(1)
def test_confusion_loop_batch_with_void(check, data):
    """a batch (2, 5, 9) of 5 classes, some targets void"""
    target = data.integers((2, 5, 9), seed=123, low=0, high=5)
    target[data.integers((2, 5, 9), seed=124, low=0, high=6) == 0] = 255
    pred = data.integers((2, 5, 9), seed=125, low=0, high=5)
    check("confusion_loop", pred=pred, target=target, k=5,
          hint="a batch is (N, H, W): loop over all of its pixels (np.ravel both). " + ROWS)


CM_SMALL = np.array([[9, 1, 0], [1, 3, 0], [1, 0, 1]])


@pytest.mark.exercise("01.3")
@pytest.mark.points(1)
def test_class_iou_lecture_example(check):
    """the 3x3 matrix of the 4x4 example"""
    check("class_iou", cm=CM_SMALL,
          hint="the union is t_i + p_i - n_ii (row sum + column sum - diagonal): the diagonal "
               "is in both sums; n_ii / t_i is the accuracy, not the IoU")


@pytest.mark.exercise("01.3")
@pytest.mark.points(1)
def test_class_iou_absent_and_false_positive_classes(check):
    """class 2 absent everywhere (NaN), class 3 only predicted (IoU 0)"""
    cm = np.array([[5, 1, 0, 2],
                   [0, 4, 0, 1],
                   [0, 0, 0, 0],
                   [0, 0, 0, 0]])
    check("class_iou", cm=cm,
          hint="NaN only when the union is 0 (no target AND no predicted pixel); a class that "
               "is only predicted has union > 0 and IoU 0")


@pytest.mark.exercise("01.4")
@pytest.mark.points(1)
def test_class0_accuracy_when_predicting_class0_everywhere(check):
    """class-0 accuracy, class 0 predicted on every pixel"""
    check("rounded", name="class0_accuracy", secret=True,
          hint="accuracy (recall) is n_00 / t_0: how many class-0 pixels were found")


@pytest.mark.exercise("01.4")
@pytest.mark.points(1)
def test_class0_iou_when_predicting_class0_everywhere(check):
    """class-0 IoU, class 0 predicted on every pixel"""
    check("rounded", name="class0_iou", secret=True,
          hint="the union is t_0 + p_0 - n_00, and p_0 is now all 16 pixels")


@pytest.mark.exercise("01.5")
@pytest.mark.points(1)
def test_miou_of_the_lazy_predictor(check):
    """the mIoU of a predictor that outputs the majority class everywhere"""
    check("choice", name="answer_01_5", options="abcd", secret=True)
