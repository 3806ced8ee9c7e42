"""Unit 04's exercises for the generic driver (``tests/course/test_units.py``): classic
mistakes that must lose points, and the compute/predict answers computed another way (with
the library's transposed convolution, zero insertion and bilinear layers)."""

import numpy as np

from minisegnet import functional as F
from minisegnet import nn

_SCATTER = '''
def conv_transpose_scatter(x, w, stride=1, padding=0, output_padding=0):
    n, c_in, h, wd = x.shape
    k = w.shape[2]
    canvas = np.zeros((n, w.shape[1], (h - 1) * stride + k + output_padding,
                       (wd - 1) * stride + k + output_padding))
    for b in range(n):
        for c in range(c_in):
            for i in range(h):
                for j in range(wd):
                    top, left = i * stride, j * stride
                    canvas[b, :, top:top + k, left:left + k] STAMP
    h_out = (h - 1) * stride - 2 * padding + k + output_padding
    w_out = (wd - 1) * stride - 2 * padding + k + output_padding
    return CROP
'''
_RIGHT_STAMP = "+= x[b, c, i, j] * w[c]"
_RIGHT_CROP = "canvas[:, :, padding:padding + h_out, padding:padding + w_out]"


def _scatter(stamp=_RIGHT_STAMP, crop=_RIGHT_CROP):
    return _SCATTER.replace("STAMP", stamp).replace("CROP", crop)


MISTAKES = [   # (exercise id, what the mistake is, the exercise cell's replacement source)
    ("04.1", "overlapping stamps overwrite instead of adding", _scatter(stamp="= x[b, c, i, j] * w[c]")),
    ("04.1", "the kernel flipped (a convolution's habit)",
     _scatter(stamp="+= x[b, c, i, j] * w[c, :, ::-1, ::-1]")),
    ("04.1", "the padding cropped at the bottom and right only",
     _scatter(crop="canvas[:, :, :h_out, :w_out]")),
    ("04.1", "the channel axes of the weight swapped",
     _scatter(stamp="+= x[b, c, i, j] * w[:, c].reshape(w.shape[1], k, k)")),
    ("04.2", "output_padding off by one", "size_k4 = 14\nop_stride3 = 1\n"),
    ("04.2", "the convolution's size formula used instead",
     "size_k4 = (7 + 2 - 4) // 2 + 1\nop_stride3 = 2\n"),
    ("04.3", "the share of input pixels instead of zeros", "zero_share = 256 / 31 ** 2\n"),
    ("04.4", "the kernel sizes at least the stride", "even_sizes = (3, 4, 5, 6)\n"),
    ("04.5", "kernel s and no padding", "fcn32_kernel = 32\nfcn32_padding = 0\n"),
]


def _size_k4():
    out, _ = F.conv_transpose2d_forward(np.zeros((1, 1, 7, 7)), np.zeros((1, 1, 4, 4)), stride=2,
                                        padding=1)
    return out.shape[-1]


def _op_stride3():
    y, _ = F.conv2d_forward(np.zeros((1, 1, 14, 14)), np.zeros((1, 1, 3, 3)), stride=3)
    for op in range(3):
        out, _ = F.conv_transpose2d_forward(y, np.zeros((1, 1, 3, 3)), stride=3, output_padding=op)
        if out.shape[-1] == 14:
            return op
    raise AssertionError("no output_padding gives 14")


def _zero_share():
    spread, _ = F.unpool_bed_of_nails_forward(np.ones((1, 1, 16, 16)), 2)
    kept = spread[0, 0, :31, :31]                   # (n-1)s + 1 rows and columns
    return np.count_nonzero(kept == 0) / kept.size


def _even_sizes():
    const = np.ones((1, 1, 8, 8))
    even = []
    for k in (3, 4, 5, 6):
        out, _ = F.conv_transpose2d_forward(const, np.ones((1, 1, k, k)), stride=3)
        if np.ptp(out[0, 0, k:-k, k:-k]) == 0:
            even.append(k)
    return tuple(even)


def _fcn32():
    """The (kernel, padding) of a stride-32 bilinear transposed convolution that maps 3x3 to
    96x96 and equals bilinear interpolation away from the border, by search."""
    scores = np.random.default_rng(0).standard_normal((1, 1, 3, 3))
    ref, _ = F.bilinear_upsample_forward(scores, scale_factor=32)
    for k in range(2, 130, 2):
        p, rest = divmod(k - 32, 2)          # (3 - 1) * 32 - 2p + k == 96
        if p < 0 or rest:
            continue
        w = nn.init.bilinear_kernel(1, k).astype(np.float64)
        up, _ = F.conv_transpose2d_forward(scores, w, stride=32, padding=p)
        if np.max(np.abs(up - ref)[..., 16:-16, 16:-16]) < 1e-10:
            return k, p
    raise AssertionError("no layer found")


INDEPENDENT = {  # answer name -> a function returning the value computed another way
    "size_k4": _size_k4,
    "op_stride3": _op_stride3,
    "zero_share": _zero_share,
    "even_sizes": _even_sizes,
    "fcn32_kernel": lambda: _fcn32()[0],
    "fcn32_padding": lambda: _fcn32()[1],
}
