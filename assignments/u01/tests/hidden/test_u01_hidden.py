"""Unit 01, hidden tests: the write-it exercises on inputs the public tests do not use."""

import numpy as np
import pytest


@pytest.mark.exercise("01.2")
@pytest.mark.points(1)
def test_confusion_loop_absent_classes_and_all_void(check, data):
    """classes that never occur, and an image that is void everywhere"""
    target = data.integers((3, 8, 6), seed=141, low=0, high=3)      # classes 3..5 never occur
    target[1] = 255                                                  # image 1 all void
    pred = data.integers((3, 8, 6), seed=142, low=0, high=6)
    check("confusion_loop", pred=pred, target=target, k=6)
    check("confusion_loop", pred=np.zeros((4, 4), np.int64), target=np.full((4, 4), 255), k=2)


@pytest.mark.exercise("01.2")
@pytest.mark.points(1)
def test_confusion_loop_other_ignore_index(check, data):
    """ignore_index 7 instead of 255; uint8 labels"""
    target = data.integers((9, 5), seed=143, low=0, high=4).astype(np.uint8)
    target[::3, 1:] = 7
    pred = data.integers((9, 5), seed=144, low=0, high=4).astype(np.uint8)
    check("confusion_loop", pred=pred, target=target, k=4, ignore_index=7)


@pytest.mark.exercise("01.3")
@pytest.mark.points(1)
def test_class_iou_random_matrix(check, data):
    """a random 6x6 matrix with an empty class and a never-predicted class"""
    cm = data.integers((6, 6), seed=151, low=0, high=20)
    cm[2, :] = 0
    cm[:, 2] = 0                      # class 2: no target, no prediction
    cm[:, 4] = 0                      # class 4: never predicted
    check("class_iou", cm=cm)
