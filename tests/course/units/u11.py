"""Unit 11 (generalising across data sets): classic mistakes and independent values of the
notebook's exercises, read by ``tests/course/test_units.py``.

``MISTAKES``: (exercise id, what the mistake is, the exercise cell's replacement source); each
must lose points in the public check. ``INDEPENDENT``: answer name -> a function computing the
instructor's answer another way (library calls, a bisection, a scored one-pixel example).
``EQUIVALENT``: function answer name -> (how to call it on a case, the package's value for
the case, cases): the instructor's loop must agree with the package on every case.
"""

import numpy as np

from minisegnet import metrics as M

_IN_PLACE = '''def remap_loop(labels, mapping, ignore_index=255):
    out = np.array(labels, dtype=np.int64)
    for source_id, target_id in mapping.items():
        out[out == source_id] = target_id          # reads what it has already written
    out[~np.isin(np.asarray(labels), list(mapping))] = ignore_index
    return out
'''

_UNNAMED_KEPT = '''def remap_loop(labels, mapping, ignore_index=255):
    labels = np.asarray(labels)
    out = labels.astype(np.int64)                  # ids the mapping does not name stay as they are
    for source_id, target_id in mapping.items():
        out[labels == source_id] = target_id
    return out
'''

_IGNORE_FIXED = '''def remap_loop(labels, mapping, ignore_index=255):
    labels = np.asarray(labels)
    out = np.full(labels.shape, 255, dtype=np.int64)     # ignore_index not used
    for source_id, target_id in mapping.items():
        out[labels == source_id] = target_id
    return out
'''

MISTAKES = [
    ("11.1", "the label map updated in place (a pixel remapped twice)", _IN_PLACE),
    ("11.1", "ids the mapping does not name kept instead of ignored", _UNNAMED_KEPT),
    ("11.1", "255 written instead of ignore_index", _IGNORE_FIXED),
    ("11.2", "the Streets confusion kept", 'answer_11_2 = "b"\n'),
    ("11.3", "water's share of the pixels instead of its IoU", "water_iou = 0.2\n"),
    ("11.4", "the root above 1", "w_half = (13 + np.sqrt(13 ** 2 - 4 * 2.5 * 1.6)) / 5\n"),
    ("11.4", "H = A / 2 solved with n = 2", "w_half = 0.8 / 3\n"),
    ("11.5", "ScanNet left at 2.1",
     "mapillary_scannet_100 = 6 / (1/22.5 + 1/13.6 + 1/82.1 + 1/55.4 + 1/67.7 + 1/2.1)\n"),
    ("11.5", "the arithmetic mean", "mapillary_scannet_100 = (22.5 + 13.6 + 82.1 + 55.4 + 67.7 + 100) / 6\n"),
]

STREETS = ["sky", "vegetation", "road", "sidewalk", "person", "car", "truck", "traffic sign"]
UNIVERSAL = ["sky", "vegetation", "ground", "water", "person", "vehicle"]


def _merged_confusion():
    """Score one pixel, target car and prediction truck, after moving both to the universal
    taxonomy: 'a' when it lands on the diagonal."""
    to_u = M.mapping_from_names(STREETS, UNIVERSAL, aliases={
        "road": "ground", "sidewalk": "ground", "car": "vehicle", "truck": "vehicle"})
    pred = M.remap_labels(np.array([[STREETS.index("truck")]], np.uint8), to_u)
    target = M.remap_labels(np.array([[STREETS.index("car")]], np.uint8), to_u)
    cm = M.confusion_matrix(pred, target, len(UNIVERSAL))
    return {1: "a"}.get(int(np.trace(cm)), "b" if cm.sum() else "c")


def _water_iou_never_predicted():
    """The IoU that SegmentationMeter gives a class present in the targets and never predicted."""
    target = np.array([[0, 3, 3], [1, 3, 2]], np.uint8)
    pred = np.where(target == 3, 0, target).astype(np.uint8)        # water never predicted
    meter = M.SegmentationMeter(len(UNIVERSAL))
    meter.update(pred, target)
    return float(meter.compute()["iou"][3])


def _bisect(f, lo, hi, steps=200):
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if (f(lo) > 0) == (f(mid) > 0) else (lo, mid)
    return 0.5 * (lo + hi)


def _w_half():
    """H(0.8, 0.8, w) - A(0.8, 0.8, w) / 2 changes sign once in (0, 1): bisect it (to the three
    decimals the exercise asks for and checks)."""
    return round(_bisect(lambda w: M.harmonic_mean([0.8, 0.8, w]) - np.mean([0.8, 0.8, w]) / 2,
                         1e-6, 1.0), 3)


INDEPENDENT = {
    "answer_11_2": _merged_confusion,
    "water_iou": _water_iou_never_predicted,
    "w_half": _w_half,
    "mapillary_scannet_100": lambda: M.harmonic_mean([22.5, 13.6, 82.1, 55.4, 67.7, 100.0]),
}


def _labels(seed, shape, high, dtype=np.uint8):
    return np.random.default_rng(seed).integers(0, high, shape).astype(dtype)


EQUIVALENT = {   # name -> (call of the answer on a case, the package's value for it, cases)
    "remap_loop": (
        lambda fn, labels, mapping, ignore_index=255: np.asarray(
            fn(labels, mapping, ignore_index=ignore_index)).astype(np.int64),
        lambda labels, mapping, ignore_index=255: M.remap_labels(
            labels, mapping, ignore_index=ignore_index).astype(np.int64),
        [dict(labels=_labels(1, (6, 9), 8), mapping={0: 0, 1: 1, 2: 2, 3: 2, 4: 4, 5: 5, 6: 5}),
         dict(labels=_labels(2, (3, 4, 5), 4, np.int64), mapping={0: 1, 1: 2, 2: 0}),
         dict(labels=_labels(3, (5, 5), 6), mapping={1: 0, 4: 3}, ignore_index=250)]),
}
