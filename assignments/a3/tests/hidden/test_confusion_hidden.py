"""A3 hidden tests of the confusion matrix and its scores.

Every branch is drawn by a chosen parameter, not left to a seed: ignore_index 255, None, a
class id (0 and K - 1); a prediction that copies the ignore mask; uint8 labels whose pair
codes overflow uint8 (K >= 17); empty inputs and all pixels ignored; matrices with absent,
only-predicted and never-predicted classes, an empty matrix and K = 1. The seeds only draw
shapes and labels.
"""

import numpy as np
import pytest

CM_CASES = {  # name: (K, ignore_index, dtype, share of ignored target pixels, pred copies them)
    "ignore-255": (5, 255, np.int64, 0.3, False),
    "ignore-255-copied-into-pred": (4, 255, np.int64, 0.3, True),
    "ignore-none": (6, None, np.int64, 0.0, False),
    "ignore-class-0": (5, 0, np.int64, 0.0, False),
    "ignore-last-class": (4, 3, np.int32, 0.0, False),
    "uint8-K20-no-ignore": (20, None, np.uint8, 0.0, False),
    "uint8-K17-ignore-255": (17, 255, np.uint8, 0.2, True),
    "empty": (3, 255, np.int64, 0.0, False),
    "all-ignored": (4, 255, np.int64, 1.0, True),
}


def _ints(data, seed, count=6):
    return [int(v) for v in data.integers((count,), seed, 0, 1 << 20)]


@pytest.mark.points(1)
@pytest.mark.parametrize("case", sorted(CM_CASES))
def test_confusion_matrix_cases(check, data, case):
    """confusion_matrix with ignore_index 255 / None / a class id, uint8 labels, empty inputs"""
    k, ignore_index, dtype, ignored, copied = CM_CASES[case]
    seed = 3200 + 10 * sorted(CM_CASES).index(case)
    r = _ints(data, seed)
    shape = (0 if case == "empty" else 1 + r[0] % 3, 2 + r[1] % 9, 2 + r[2] % 9)
    target = data.integers(shape, seed + 1, 0, k)
    pred = np.where(data.uniform(shape, seed + 2) > 0.0, target, data.integers(shape, seed + 3, 0, k))
    if ignored:
        mask = data.uniform(shape, seed + 4, 0.0, 1.0) < ignored
        target = np.where(mask, ignore_index, target)
        if copied:
            pred = np.where(mask, ignore_index, pred)
    check("confusion_matrix", pred=pred.astype(dtype), target=target.astype(dtype), num_classes=k,
          ignore_index=ignore_index)


def _matrix(data, seed, k):
    return data.integers((k, k), seed, 0, 7)


SCORE_CASES = ["absent-class", "only-predicted", "never-predicted", "empty", "one-class", "many-absent"]


@pytest.mark.points(1)
@pytest.mark.parametrize("case", SCORE_CASES)
def test_scores_cases(check, data, case):
    """all scores of confusion matrices with absent, only-predicted, never-predicted classes"""
    seed = 3300 + 10 * SCORE_CASES.index(case)
    r = _ints(data, seed)
    k = 3 + r[0] % 5
    cm = _matrix(data, seed + 1, k)
    c = r[1] % k
    if case == "absent-class":          # IoU NaN, left out of every mean
        cm[c, :] = 0
        cm[:, c] = 0
    elif case == "only-predicted":      # IoU 0 (counts in mIoU), accuracy NaN
        cm[c, :] = 0
        cm[(c + 1) % k, c] += 1
    elif case == "never-predicted":     # IoU 0 and accuracy 0
        cm[:, c] = 0
        cm[c, (c + 1) % k] += 1
    elif case == "empty":
        cm[:] = 0
    elif case == "one-class":
        cm = _matrix(data, seed + 1, 1) + 1
    else:                               # half of the classes absent, one only predicted
        k = 11
        cm = _matrix(data, seed + 2, k)
        cm[::2, :] = 0
        cm[:, ::2] = 0
        cm[1, 4] = 3
    check("scores", cm=cm)
