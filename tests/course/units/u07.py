"""Unit 07's exercises for the generic driver (``tests/course/test_units.py``).

``MISTAKES``: classic wrong answers, each an exercise cell's replacement source, that must
lose points in the public check. ``INDEPENDENT``: for every compute/predict answer, the
value computed another way (the library, a training run), to compare with the instructor's.
"""

import numpy as np

from minisegnet import data, models, nn, train
from minisegnet import functional as F

_LOOP = '''def adaptive_avg_pool_loop(x, output_size):
    n, c, h, w = x.shape
    bins_h, bins_w = output_size
    y = np.zeros((n, c, bins_h, bins_w))
    for i in range(bins_h):
        top, bottom = {rows}
        for j in range(bins_w):
            left, right = {cols}
            y[:, :, i, j] = x[:, :, top:bottom, left:right].mean(axis=(2, 3))
    return y
'''
_ROWS = "(i * h) // bins_h, -(-((i + 1) * h) // bins_h)"
_COLS = "(j * w) // bins_w, -(-((j + 1) * w) // bins_w)"

MISTAKES = [
    ("07.1", "bin ends rounded down (no overlap)",
     _LOOP.format(rows="(i * h) // bins_h, ((i + 1) * h) // bins_h",
                  cols="(j * w) // bins_w, ((j + 1) * w) // bins_w")),
    ("07.1", "equal bins of size n // b (the remainder dropped)",
     _LOOP.format(rows="i * (h // bins_h), (i + 1) * (h // bins_h)",
                  cols="j * (w // bins_w), (j + 1) * (w // bins_w)")),
    ("07.1", "columns use the height and the row bins",
     _LOOP.format(rows=_ROWS, cols="(j * h) // bins_h, -(-((j + 1) * h) // bins_h)")),
    ("07.2", "bin end rounded down", "bin3 = (6, 8)\nshared_rows = 0\n"),
    ("07.3", "the levels added without the input's channels", "with_dr = 2048\nwithout_dr = 4 * 2048\n"),
    ("07.4", "poly taken for linear", 'answer_07_4 = "b"\n'),
    ("07.5", "vehicles labelled as their ground", 'answer_07_5 = "c"\n'),
]


def _bin3():
    row = F.adaptive_pool_matrix(13, 6)[3]
    inside = np.flatnonzero(row)
    return int(inside[0]), int(inside[-1]) + 1


def _shared_rows():
    return int(((F.adaptive_pool_matrix(13, 6) > 0).sum(axis=0) > 1).sum())


def _poly_option():
    half, linear = train.poly_lr(0.01, 500, 1000), 0.01 * (1 - 500 / 1000)
    return "a" if half > linear + 1e-12 else ("c" if half < linear - 1e-12 else "b")


def _baseline_mistake():
    """Train the notebook's FCN baseline (same data, seed and schedule) and count its mistakes."""
    train_set = data.make_context(96, "train", seed=0, size=64)
    val_set = data.make_context(48, "val", seed=0, size=64)
    sky, water, road, boat, car = (train_set.class_names.index(n)
                                   for n in ("sky", "water", "road", "boat", "car"))
    nn.init.seed(0)
    net = models.MiniPSPNet(train_set.num_classes, ppm=False)
    run = train.train(net, train_set, val_set, iterations=120, batch_size=8, base_lr=0.01,
                      augment=data.DEMO_AUGMENT, seed=0, progress=False)
    cm = run["final"]["confusion_matrix"]
    counts = {"a": cm[boat, car] + cm[car, boat], "b": cm[water, road] + cm[road, water],
              "c": cm[boat, water] + cm[car, road], "d": cm[sky, water] + cm[sky, road]}
    return max(counts, key=counts.get)


INDEPENDENT = {
    "bin3": _bin3,
    "shared_rows": _shared_rows,
    "with_dr": lambda: nn.PyramidPooling(2048, reduction=True).out_channels,
    "without_dr": lambda: nn.PyramidPooling(2048, reduction=False).out_channels,
    "answer_07_4": _poly_option,
    "answer_07_5": _baseline_mistake,
}
