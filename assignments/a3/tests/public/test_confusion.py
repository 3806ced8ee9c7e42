"""A3 public tests: the confusion matrix and the scores read off it."""

import numpy as np
import pytest

ROWS = ("cm[i, j] counts pixels whose TARGET is i and PREDICTION is j (rows = truth): "
        "bincount(target * K + pred, minlength=K*K).reshape(K, K)")
IGNORE = ("pixels whose target equals ignore_index are not counted at all (neither as a "
          "row nor through their prediction); pred may hold ignore_index there")


def _transposed(got, want):
    return got["cm"].shape == want["cm"].shape and np.array_equal(got["cm"], want["cm"].T)


def _counts_ignored(got, want):
    return int(got["cm"].sum()) > int(want["cm"].sum())


def _counts_lost(got, want):
    return int(got["cm"].sum()) < int(want["cm"].sum())


# each hint fires when the student's matrix shows its cause
CONFUSION = [(_transposed, "the matrix is the transpose of the expected one: " + ROWS),
             (_counts_ignored, "your matrix counts more pixels than it should: " + IGNORE),
             (_counts_lost, "your matrix counts fewer pixels than it should: every pixel whose "
                            "target is not ignore_index counts once, whatever its prediction")]
NAN = ("IoU_c = cm[c,c] / (row_c + col_c - cm[c,c]) is 0/0 = NaN for a class absent from "
       "both target and prediction (not 0!), and 0 for a class that is only predicted or only "
       "in the target; means skip the NaNs (nanmean)")


@pytest.mark.points(2)
def test_confusion_matrix_rows_are_the_target(check, data):
    """confusion_matrix: rows are the target, columns the prediction"""
    target = np.array([[0, 0, 1, 2], [2, 2, 1, 0]])
    pred = np.array([[0, 1, 1, 1], [2, 0, 1, 0]])
    check("confusion_matrix", pred=pred, target=target, num_classes=3, hint=[ROWS] + CONFUSION[1:])
    pred = data.integers((2, 5, 6), seed=331, low=0, high=4)
    target = data.integers((2, 5, 6), seed=332, low=0, high=4)
    check("confusion_matrix", pred=pred, target=target, num_classes=4, hint=CONFUSION)


@pytest.mark.points(2)
def test_confusion_matrix_ignores_pixels(check, data):
    """confusion_matrix: ignore_index 255 (also in pred), and ignore_index None"""
    target = data.integers((3, 6, 5), seed=333, low=0, high=4)
    target[:, :2, :] = 255
    pred = data.integers((3, 6, 5), seed=334, low=0, high=4)
    check("confusion_matrix", pred=pred, target=target, num_classes=4, hint=CONFUSION)
    pred[:, 0, :] = 255   # a prediction that copies the ignore mask
    check("confusion_matrix", pred=pred, target=target, num_classes=4, hint=CONFUSION)
    target = data.integers((2, 4, 4), seed=335, low=0, high=3)
    pred = data.integers((2, 4, 4), seed=336, low=0, high=3)
    check("confusion_matrix", pred=pred, target=target, num_classes=3, ignore_index=None,
          hint="ignore_index=None counts every pixel")


@pytest.mark.points(2)
def test_confusion_matrix_ignore_index_is_a_class_id(check, data):
    """confusion_matrix: ignore_index 0 ("unlabelled") is also a class id"""
    target = data.integers((2, 6, 7), seed=341, low=0, high=5)
    pred = data.integers((2, 6, 7), seed=342, low=0, high=5)
    check("confusion_matrix", pred=pred, target=target, num_classes=5, ignore_index=0,
          hint="ignore_index may be a class id (0 = unlabelled): target pixels equal to it "
               "are not counted (row 0 stays empty) although 0 < K; pred 0 elsewhere is "
               "class 0 and counts in column 0")


def _counts_lost_to_wrapping(got, want):
    """Codes that wrapped at 256 land in the first cells: rows 0..13 gain what 13..18 lose."""
    return (int(got["cm"].sum()) == int(want["cm"].sum())
            and int(got["cm"][13:].sum()) < int(want["cm"][13:].sum()))


@pytest.mark.points(2)
def test_confusion_matrix_uint8_labels_with_many_classes(check, data):
    """confusion_matrix: uint8 labels with K = 19, where target * K + pred exceeds 255"""
    target = data.integers((2, 9, 10), seed=343, low=0, high=19).astype(np.uint8)
    pred = data.integers((2, 9, 10), seed=344, low=0, high=19).astype(np.uint8)
    target[:, :, :2] = 255
    check("confusion_matrix", pred=pred, target=target, num_classes=19,
          hint=CONFUSION + [(_counts_lost_to_wrapping, "uint8 labels must not overflow target * K "
                            "+ pred (up to 18 * 19 + 18 = 360 here): cast to int64 first")])


@pytest.mark.points(2)
def test_iou_is_nan_for_an_absent_class(check):
    """iou: NaN for a class in neither target nor prediction, 0 for a class only predicted"""
    cm = np.array([[5, 1, 0, 2],
                   [0, 3, 0, 0],
                   [0, 0, 0, 0],
                   [0, 0, 0, 0]], dtype=np.int64)
    check("scores", cm=cm, hint=NAN)


@pytest.mark.points(1)
def test_mean_iou_skips_nan_classes(check):
    """mean_iou, mean_accuracy: the mean over the classes where the score is defined"""
    cm = np.array([[4, 0, 0, 1, 0],
                   [0, 0, 0, 0, 0],
                   [2, 0, 6, 0, 0],
                   [0, 0, 0, 0, 0],
                   [0, 0, 1, 0, 3]], dtype=np.int64)
    check("scores", cm=cm,
          hint="mIoU = nanmean(IoU): class 1 (absent) does not count, class 3 (only predicted, "
               "IoU 0) does; mean accuracy averages only classes with target pixels")


@pytest.mark.points(1)
def test_scores_of_a_segmentation_with_ignored_pixels(check, data):
    """pixel_accuracy, frequency_weighted_iou and all scores of a prediction with ignored pixels"""
    target = data.integers((2, 8, 8), seed=337, low=0, high=5)
    target[target == 4] = 255
    target[0, :3, :] = 2
    pred = np.where(data.uniform((2, 8, 8), seed=338) > 0.0, target,
                    data.integers((2, 8, 8), seed=339, low=0, high=4))
    pred[target == 255] = data.integers((2, 8, 8), seed=340, low=0, high=4)[target == 255]
    check("segmentation_scores", pred=pred, target=target, num_classes=5,
          hint="ignored pixels count neither as right nor as wrong (pixel accuracy = trace / "
               "cm.sum() of the matrix without them); FWIoU = sum_c (row_c / total) IoU_c "
               "over classes with target pixels")


@pytest.mark.points(1)
def test_scores_of_an_empty_matrix(check):
    """scores of an all-zero confusion matrix: NaN, not 0 and no warning"""
    check("scores", cm=np.zeros((3, 3), dtype=np.int64),
          hint="no pixel counted: every score is undefined (NaN); guard the divisions "
               "instead of dividing by zero")
