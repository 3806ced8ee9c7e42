"""Unit 02's exercises for the generic driver (``tests/course/test_units.py``): classic
mistakes that must lose points, and the compute/predict answers computed another way
(masks, the library's convolution and pooling, and a one-hot measurement of the field)."""

import numpy as np

from minisegnet import functional as F

_LOOP = '''
def cross_entropy_loop(logits, target, ignore_index=255):
    n, _, h, w = logits.shape
    total, counted = 0.0, 0
    for b in range(n):
        for r in range(h):
            for c in range(w):
                t = target[b, r, c]
                SKIP
                z = logits[b, :, r, c]
                LOGSOFTMAX
                total -= log_softmax[t]
                counted += 1
    return total / DENOMINATOR if counted else 0.0
'''
_SKIP = "if t == ignore_index:\n                    continue"
_STABLE = "log_softmax = z - z.max() - np.log(np.exp(z - z.max()).sum())"


def _loop(skip=_SKIP, log_softmax=_STABLE, denominator="counted"):
    return (_LOOP.replace("SKIP", skip).replace("LOGSOFTMAX", log_softmax)
            .replace("DENOMINATOR", denominator))


MISTAKES = [   # (exercise id, what the mistake is, the exercise cell's replacement source)
    ("02.1", "the whole window counted", "shared_pixels = WINDOW * WINDOW\n"),
    ("02.2", "the window's input counted instead of the layers' outputs",
     "positions_L5 = 100 * 100 * sum((2 * l + 1) ** 2 for l in range(1, 6))\n"),
    ("02.3", "C_in and C_out swapped", "fc6_weights = 4096 * 256 * 6 * 6\nfc6_as_conv = (256, 4096, 6, 6)\n"),
    ("02.4", "divided by all pixels, ignored ones included (wrong normalisation)",
     _loop(denominator="target.size")),
    ("02.4", "no max subtracted (overflow on large logits)",
     _loop(log_softmax="log_softmax = np.log(np.exp(z) / np.exp(z).sum())")),
    ("02.4", "the ignore label not skipped (void pixels scored as the last class)",
     _loop(skip="t = min(t, len(logits[0]) - 1)")),
    ("02.5", "the strides ignored (1 + 2L)", "field_strided, jump_strided = 11, 1\n"),
    ("02.5", "a stride applied to its own layer's growth",
     "field_strided, jump_strided = 27, 4\n"),
    ("02.6", "listed shallow first", "score_sizes = (16, 8, 4)\n"),
]


def _shared_pixels():
    left = np.zeros((9, 10), bool)
    right = np.zeros((9, 10), bool)
    left[:, :9] = True
    right[:, 1:] = True
    return int(np.count_nonzero(left & right))


def _positions_l5():
    """Output positions of one 11x11 window through five valid 3x3 convolutions, measured
    on actual outputs, times the 100 x 100 windows."""
    x, total = np.zeros((1, 1, 11, 11)), 0
    for _ in range(5):
        x, _ = F.conv2d_forward(x, np.zeros((1, 1, 3, 3)))
        total += x.shape[2] * x.shape[3]
    return 100 * 100 * total


def _fc6():
    n = 227
    for k, s, p in [(11, 4, 0), (3, 2, 0), (5, 1, 2), (3, 2, 0), (3, 1, 1), (3, 1, 1),
                    (3, 1, 1), (3, 2, 0)]:                       # conv1 .. pool5
        x, _ = F.conv2d_forward(np.zeros((1, 1, n, n)), np.zeros((1, 1, k, k)), stride=s,
                                padding=p)
        n = x.shape[2]
    shape = (4096, 256, n, n)
    return int(np.prod(shape)), shape


def _field_and_jump():
    """The receptive field measured: one one-hot image per input pixel through five positive
    linear convolutions; the centre output's non-zero weights span the field."""
    layers = [(3, 1), (3, 2), (3, 1), (3, 2), (3, 1)]
    size = 33
    x = np.eye(size * size).reshape(size * size, 1, size, size)
    for k, s in layers:
        x, _ = F.conv2d_forward(x, np.ones((1, 1, k, k)), stride=s, padding=k // 2)
    centre = x[:, 0, x.shape[2] // 2, x.shape[3] // 2].reshape(size, size)
    rows = np.flatnonzero(centre.any(axis=1))
    jump = int(np.prod([s for _, s in layers]))
    return int(rows.max() - rows.min() + 1), jump


def _score_sizes():
    x, sides = np.zeros((1, 1, 32, 32)), []
    for _ in range(3):
        x, _ = F.conv2d_forward(x, np.zeros((1, 1, 3, 3)), padding=1)
        x, _ = F.max_pool2d_forward(x, 2, 2)
        sides.append(x.shape[2])
    return tuple(reversed(sides))


INDEPENDENT = {  # answer name -> a function returning the value computed another way
    "shared_pixels": _shared_pixels,
    "positions_L5": _positions_l5,
    "fc6_weights": lambda: _fc6()[0],
    "fc6_as_conv": lambda: _fc6()[1],
    "field_strided": lambda: _field_and_jump()[0],
    "jump_strided": lambda: _field_and_jump()[1],
    "score_sizes": _score_sizes,
}
