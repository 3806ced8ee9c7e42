"""Unit 01's exercises for the generic driver (``tests/course/test_units.py``): classic
mistakes that must lose points, and the compute/predict answers computed another way (with
``minisegnet.metrics``, which the notebook itself does not use: it is A3's)."""

import numpy as np

from minisegnet import metrics

MISTAKES = [   # (exercise id, what the mistake is, the exercise cell's replacement source)
    ("01.1", "the road counted once per connected piece", "n_segments = 6\n"),
    ("01.1", "the touching cars counted as one segment", "n_segments = 4\n"),
    ("01.2", "rows and columns swapped (cm[p, t])", '''
def confusion_loop(pred, target, k, ignore_index=IGNORE):
    cm = np.zeros((k, k), np.int64)
    for p, t in zip(np.ravel(pred).tolist(), np.ravel(target).tolist()):
        if t != ignore_index:
            cm[p, t] += 1
    return cm
'''),
    ("01.2", "the ignore label not skipped (void pixels clipped into the last class)", '''
def confusion_loop(pred, target, k, ignore_index=IGNORE):
    cm = np.zeros((k, k), np.int64)
    for p, t in zip(np.ravel(pred).tolist(), np.ravel(target).tolist()):
        cm[min(t, k - 1), p] += 1
    return cm
'''),
    ("01.2", "the ignore test on the prediction instead of the target", '''
def confusion_loop(pred, target, k, ignore_index=IGNORE):
    cm = np.zeros((k, k), np.int64)
    for p, t in zip(np.ravel(pred).tolist(), np.ravel(target).tolist()):
        if p != ignore_index:
            cm[t, p] += 1
    return cm
'''),
    ("01.3", "the union without subtracting the intersection", '''
def class_iou(cm):
    cm = np.asarray(cm)
    iou = np.full(cm.shape[0], np.nan)
    for i in range(cm.shape[0]):
        union = cm[i, :].sum() + cm[:, i].sum()
        if union > 0:
            iou[i] = cm[i, i] / union
    return iou
'''),
    ("01.3", "an absent class scored 0 instead of NaN", '''
def class_iou(cm):
    cm = np.asarray(cm)
    iou = np.zeros(cm.shape[0])
    for i in range(cm.shape[0]):
        union = cm[i, :].sum() + cm[:, i].sum() - cm[i, i]
        iou[i] = cm[i, i] / union if union else 0.0
    return iou
'''),
    ("01.3", "NaN wherever the class has no target pixel (a false-positive-only class too)", '''
def class_iou(cm):
    cm = np.asarray(cm)
    iou = np.full(cm.shape[0], np.nan)
    for i in range(cm.shape[0]):
        if cm[i, :].sum() > 0:
            iou[i] = cm[i, i] / (cm[i, :].sum() + cm[:, i].sum() - cm[i, i])
    return iou
'''),
    ("01.4", "the IoU's union without the false positives", '''
class0_accuracy = 1.0
class0_iou = 10 / 10
'''),
    ("01.5", "mIoU taken to equal pixel accuracy", 'answer_01_5 = "a"\n'),
]

_T_SMALL = np.array([[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 1, 1], [2, 2, 1, 1]])


def _segments():
    cls = np.array([[0] * 8, [2, 2, 3, 3, 3, 3, 2, 4], [2, 2, 3, 3, 3, 3, 2, 4],
                    [2, 2, 3, 3, 3, 3, 2, 2]])
    inst = np.array([[0] * 8, [0, 0, 1, 1, 2, 2, 0, 3], [0, 0, 1, 1, 2, 2, 0, 3],
                     [0, 0, 1, 1, 2, 2, 0, 0]])
    stuff = np.unique(cls[inst == 0])              # one segment per stuff class present
    things = np.unique(inst[inst > 0])             # one per instance id
    return len(stuff) + len(things)


def _all_class0():
    cm = metrics.confusion_matrix(np.zeros_like(_T_SMALL), _T_SMALL, 3)
    return metrics.class_accuracy(cm)[0], metrics.iou(cm)[0]


def _lazy_answer():
    """Which of f, 1/K, f/K, f^2 the library's mIoU of a majority-everywhere prediction
    equals, on a random target where every class occurs."""
    rng = np.random.default_rng(5)
    k = 5
    target = rng.choice(k, size=(40, 50), p=[0.6, 0.1, 0.1, 0.1, 0.1])
    f = np.mean(target == 0)
    cm = metrics.confusion_matrix(np.zeros_like(target), target, k)
    got = metrics.mean_iou(cm)
    options = {"a": f, "b": 1 / k, "c": f / k, "d": f ** 2}
    return next(letter for letter, value in options.items() if np.isclose(value, got))


INDEPENDENT = {  # answer name -> a function returning the value computed another way
    "n_segments": _segments,
    "class0_accuracy": lambda: _all_class0()[0],
    "class0_iou": lambda: _all_class0()[1],
    "answer_01_5": _lazy_answer,
}
