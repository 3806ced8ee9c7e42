"""Unit 05's exercises for the generic driver (``tests/course/test_units.py``).

``MISTAKES``: classic wrong answers, each an exercise cell's replacement source, that must
lose points in the public check. ``INDEPENDENT``: for every compute/predict answer, the
value computed another way (the library, a count), to compare with the instructor's.
"""

import numpy as np

from minisegnet import functional as F

_UNPOOL = '''def max_unpool_loop(x, indices, output_size):
    n, c, h, w = x.shape
    h_out, w_out = {size}
    y = np.zeros((n, c, h_out, w_out), dtype=x.dtype)
    for b in range(n):
        for ch in range(c):
            for p in range(h):
                for q in range(w):
                    row, col = divmod(int(indices[b, ch, p, q]), {width})
                    y[b, ch, row, col] = x[b, ch, p, q]
    return y
'''

_BILINEAR = '''def bilinear_upsample_loop(x, size, align_corners=False):
    n, c, h, w = x.shape
    h_out, w_out = size

    def source(i, n_in, n_out):
        if {flag}:
            s = i * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        else:
            s = (i + 0.5) * n_in / n_out - 0.5
        return {clamp}

    y = np.zeros((n, c, h_out, w_out), dtype=x.dtype)
    for i in range(h_out):
        r = source(i, h, h_out)
        r0 = int(r)
        r1, a = min(r0 + 1, h - 1), r - r0
        for j in range(w_out):
            s = source(j, w, w_out)
            c0 = int(s)
            c1, b = min(c0 + 1, w - 1), s - c0
            y[:, :, i, j] = ({wa} * ({wb} * x[:, :, r0, c0] + {b} * x[:, :, r0, c1])
                             + {a} * ({wb} * x[:, :, r1, c0] + {b} * x[:, :, r1, c1]))
    return y
'''
_RIGHT = dict(flag="align_corners", clamp="min(max(s, 0.0), n_in - 1)", wa="(1 - a)",
              wb="(1 - b)", a="a", b="b")

MISTAKES = [
    ("05.1", "flat position split with H_out instead of W_out (transposed index)",
     _UNPOOL.format(size="output_size", width="h_out")),
    ("05.1", "output size taken as twice the input instead of output_size",
     _UNPOOL.format(size="2 * h, 2 * w", width="2 * w")),
    ("05.3", "the two align_corners conventions swapped",
     _BILINEAR.format(**dict(_RIGHT, flag="not align_corners"))),
    ("05.3", "source coordinate not clamped (int() truncates -0.25 to 0: extrapolation)",
     _BILINEAR.format(**dict(_RIGHT, clamp="s"))),
    ("05.3", "weights swapped between the two neighbours",
     _BILINEAR.format(**dict(_RIGHT, wa="a", a="(1 - a)", wb="b", b="(1 - b)"))),
    ("05.2", "windows counted without the padding", "middle_gradient = 9\nstrided_gradient = 1\n"),
    ("05.5", "align_corners=True formula used for both",
     "row_false = (1 / 3, 2 / 3, 0.0)\nrow_true = (1 / 3, 2 / 3, 0.0)\n"),
    ("05.6", "box corners not shifted by half a pixel",
     "roi_linear = [[5.0, 7.0], [13.0, 15.0]]\n"),
]


def _peak_gradient(where, stride):
    """The max-pool gradient (kernel 3, padding 1, dy = 1) of the only large pixel."""
    img = 0.01 * np.arange(25.0).reshape(1, 1, 5, 5)
    img[(0, 0) + where] = 10.0
    y, cache = F.max_pool2d_forward(img, kernel_size=3, stride=stride, padding=1)
    return int(F.max_pool2d_backward(np.ones_like(y), cache)[(0, 0) + where])


def _least_gradient():
    """The option of 05.4 that the column sums of the 4 -> 8 matrices support."""
    sums = {ac: F.interpolation_matrix(4, 8, align_corners=ac).sum(axis=0) for ac in (False, True)}
    border_less = {ac: bool(max(s[0], s[-1]) < s[1:-1].min() - 1e-12) for ac, s in sums.items()}
    flat = {ac: bool(np.allclose(s, s[0])) for ac, s in sums.items()}
    options = {"a": flat[False] and flat[True], "b": border_less[True] and flat[False],
               "c": border_less[False] and flat[True], "d": border_less[False] and border_less[True]}
    (answer,) = [k for k, v in options.items() if v]
    return answer


def _roi_linear():
    linear = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    box = np.array([[0, 0.0, 0.0, 4.0, 4.0]])
    return F.roi_align(linear, box, 2, sampling_ratio=2, aligned=True)[0, 0]


INDEPENDENT = {
    "middle_gradient": lambda: _peak_gradient((2, 2), 1),
    "strided_gradient": lambda: _peak_gradient((1, 1), 2),
    "answer_05_4": _least_gradient,
    "row_false": lambda: F.interpolation_matrix(3, 7, align_corners=False)[2],
    "row_true": lambda: F.interpolation_matrix(3, 7, align_corners=True)[2],
    "roi_linear": _roi_linear,
}
