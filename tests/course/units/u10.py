"""Unit 10's exercises for the generic unit test driver: classic mistakes that must lose
points in the public check, and every predict answer computed another way (the package's
``metrics.panoptic_quality`` on the notebook's own scenes)."""

import contextlib
import functools
import io
import json
from pathlib import Path

import numpy as np

from minisegnet import metrics

NOTEBOOK = Path(__file__).resolve().parents[3] / "notebooks" / "10-panoptic.ipynb"

_MATCH = '''
def match_one_class(pred_ids, target_ids, void, crowd):
    matched_pred, tp, fn, iou_sum = set(), 0, 0, 0.0
    for g in np.unique(target_ids[target_ids > 0]):
        g_mask = target_ids == g
        found = False
        for p in np.unique(pred_ids[pred_ids > 0]):
            p_mask = pred_ids == p
            inter = int((g_mask & p_mask).sum())
            union = int(g_mask.sum()) + int(p_mask.sum()) - inter - int((p_mask & void).sum())
            if inter / union > 0.5:
                tp, iou_sum, found = tp + 1, iou_sum + inter / union, True
                matched_pred.add(p)
        fn += not found
    fp = 0
    for p in np.unique(pred_ids[pred_ids > 0]):
        p_mask = pred_ids == p
        ignored = int((p_mask & void).sum()) + int((p_mask & crowd).sum())
        if p not in matched_pred and ignored <= 0.5 * p_mask.sum():
            fp += 1
    return tp, fp, fn, iou_sum
'''


def _mistake(old, new):
    assert old in _MATCH, old
    return _MATCH.replace(old, new)


MISTAKES = [   # (exercise id, what the mistake is, the exercise cell's replacement source)
    ("10.2", "IoU >= 0.5 matches (the threshold is strict)",
     _mistake("if inter / union > 0.5:", "if inter / union >= 0.5:")),
    ("10.2", "void pixels of the prediction kept in the union",
     _mistake(" - int((p_mask & void).sum())\n", "\n")),
    ("10.2", "void and crowd judged separately, not added",
     _mistake("ignored <= 0.5 * p_mask.sum()",
              "(p_mask & void).sum() <= 0.5 * p_mask.sum() "
              "and (p_mask & crowd).sum() <= 0.5 * p_mask.sum()")),
    ("10.2", "a prediction exactly half on void ignored (>= instead of >)",
     _mistake("ignored <= 0.5 * p_mask.sum()", "ignored < 0.5 * p_mask.sum()")),
    ("10.2", "the crowd region not used",
     _mistake(" + int((p_mask & crowd).sum())", "")),
    ("10.2", "every unmatched prediction a false positive (no ignore rule)",
     _mistake("if p not in matched_pred and ignored <= 0.5 * p_mask.sum():",
              "if p not in matched_pred:")),
    ("10.1", "car 2's two parts both counted as misses",
     "car_counts = (2, 2, 1)\nperson_counts = (1, 1, 1)"),
    ("10.1", "the person on void counted as a false positive",
     "car_counts = (3, 1, 0)\nperson_counts = (1, 2, 1)"),
    ("10.3", "IoU 0.5 taken as a match", "halves_counts = (1, 1, 0)"),
    ("10.4", "void and crowd judged separately", 'answer_10_4 = "a"'),
]


@functools.lru_cache(maxsize=1)
def _scene():
    """The notebook's scene (target, pred and its constants), from its first code cells."""
    cells = [c for c in json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
             if c["cell_type"] == "code"]
    namespace = {}
    for cell in cells[:2]:
        source = "".join(cell["source"]).replace("%matplotlib inline", "")
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(source, str(NOTEBOOK), "exec"), namespace)
    return namespace


def _counts(pred, target, category, **kwargs):
    s = _scene()
    got = metrics.panoptic_quality(pred, target, s["THINGS"], s["STUFF"], **kwargs)
    got = got["per_class"][category]
    return (got["tp"], got["fp"], got["fn"])


def _scene_counts(category):
    s = _scene()
    return _counts(s["pred"], s["target"], category, void_label=s["VOID"])


def _halves():
    target = np.zeros((8, 12, 2), np.int64)
    target[...] = (2, 0)
    target[2:6, :] = (3, 1)
    pred = target.copy()
    pred[2:6, :6, 1], pred[2:6, 6:, 1] = 7, 8
    return _counts(pred, target, 3)


def _crowd_and_void():
    """The situation of 10.4 (20 void, 35 crowd, 45 road pixels under one guess): 'b' when the
    package does not count the guess as a false positive, 'a' when it does."""
    target = np.zeros((10, 10, 2), np.int64)
    target[:, :2] = 255
    crowd = np.zeros((10, 10), bool)
    crowd[:, 2:5] = crowd[:5, 5] = True
    target[crowd] = (4, 0)
    pred = np.zeros((10, 10, 2), np.int64)
    pred[...] = (4, 21)
    tp, fp, fn = _counts(pred, target, 4, void_label=255, crowd=crowd)
    return "b" if (tp, fp) == (0, 0) else "a"


INDEPENDENT = {  # answer name -> a function returning the value computed another way
    "car_counts": lambda: _scene_counts(3),
    "person_counts": lambda: _scene_counts(4),
    "halves_counts": _halves,
    "answer_10_4": _crowd_and_void,
}
