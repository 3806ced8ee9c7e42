"""Unit 12 (deformable convolution): classic mistakes and independent values of the notebook's
exercises, read by ``tests/course/test_units.py``.

``MISTAKES``: (exercise id, what the mistake is, the exercise cell's replacement source); each
must lose points in the public check. ``INDEPENDENT``: answer name -> a function computing the
instructor's answer another way (library calls and searches, not the lesson's formula).
``EQUIVALENT``: function answer name -> (library function with the same arguments and result,
keyword cases): the instructor's loop must agree with the package on every case.
"""

import itertools

import numpy as np

from minisegnet import functional as F

_SAMPLE = '''def bilinear_sample_loop(image, Y, X):
    height, width = image.shape
    value = 0.0
    for i in range(height):
        for j in range(width):
            weight = max(0.0, 1.0 - abs({Y} - i)) * max(0.0, 1.0 - abs({X} - j))
            value += weight * image[i, j]
    return value
'''

_CLAMPED = '''def bilinear_sample_loop(image, Y, X):
    height, width = image.shape
    Y = min(max(Y, 0.0), height - 1.0)        # the border pixel repeated outside
    X = min(max(X, 0.0), width - 1.0)
    i0, j0 = int(np.floor(Y)), int(np.floor(X))
    i1, j1 = min(i0 + 1, height - 1), min(j0 + 1, width - 1)
    ly, lx = Y - i0, X - j0
    return ((1 - ly) * (1 - lx) * image[i0, j0] + (1 - ly) * lx * image[i0, j1]
            + ly * (1 - lx) * image[i1, j0] + ly * lx * image[i1, j1])
'''

_NEIGHBOURS_SWAPPED = '''def bilinear_sample_loop(image, Y, X):
    height, width = image.shape
    i0, j0 = int(np.floor(Y)), int(np.floor(X))
    ly, lx = Y - i0, X - j0
    value = 0.0
    for i, wy in ((i0, ly), (i0 + 1, 1 - ly)):          # the far pixel gets the big weight
        for j, wx in ((j0, lx), (j0 + 1, 1 - lx)):
            if 0 <= i < height and 0 <= j < width:
                value += wy * wx * image[i, j]
    return value
'''

_DEFORM = '''def deform_conv2d_loop(x, offset, w, b=None, mask=None, stride=1, padding=0, dilation=1):
    n_images, c_in, height, width = x.shape
    c_out, _, kh, kw = w.shape
    h_out = F.conv_output_size(height, kh, stride, padding, dilation)
    w_out = F.conv_output_size(width, kw, stride, padding, dilation)
    rows, columns = np.arange(height), np.arange(width)
    y = np.zeros((n_images, c_out, h_out, w_out))
    for n in range(n_images):
        for q0 in range(h_out):
            for q1 in range(w_out):
                for i in range(kh):
                    for j in range(kw):
                        k = i * kw + j
                        Y = {Y}
                        X = {X}
                        m = {M}
                        tent = np.outer(np.maximum(0, 1 - np.abs(Y - rows)),
                                        np.maximum(0, 1 - np.abs(X - columns)))
                        samples = (x[n] * tent).sum(axis=(1, 2))
                        y[n, :, q0, q1] += m * (w[:, :, i, j] @ samples)
    if b is not None:
        y += b[None, :, None, None]
    return y
'''
_Y = "q0 * stride - padding + i * dilation + offset[n, 2 * k, q0, q1]"
_X = "q1 * stride - padding + j * dilation + offset[n, 2 * k + 1, q0, q1]"
_M = "1.0 if mask is None else mask[n, k, q0, q1]"

_DMASK_TAP_MAJOR = '''def dmask_zero_offsets(x, w, dy):
    n_images, c_in = x.shape[:2]
    c_out, _, k, _ = w.shape
    columns = F.im2col(x, k, padding=(k - 1) // 2)
    grad_columns = w.reshape(c_out, -1).T @ dy.reshape(n_images, c_out, -1)
    dmask = (grad_columns * columns).reshape(n_images, k * k, c_in, -1).sum(axis=2)   # rows read tap-major
    return dmask.reshape(n_images, k * k, *dy.shape[2:])
'''

MISTAKES = [
    ("12.1", "Y and X swapped", _SAMPLE.format(Y="X", X="Y")),
    ("12.1", "the border pixel repeated outside the image (clamped)", _CLAMPED),
    ("12.1", "the two neighbours' weights swapped", _NEIGHBOURS_SWAPPED),
    ("12.2", "(d-1) p_k with corner-based taps",
     "corner_taps = np.array([(i, j) for i in range(3) for j in range(3)])\n"
     "offset_d4 = 3 * corner_taps\n"),
    ("12.2", "d (p_k - p_c) instead of (d-1) (p_k - p_c)",
     "corner_taps = np.array([(i, j) for i in range(3) for j in range(3)])\n"
     "offset_d4 = 4 * (corner_taps - 1)\n"),
    ("12.3", "the window moved the wrong way", "window_start = (3 - 1 - 1, 3 - 1 + 2)\n"),
    ("12.4", "offset channels read as (dx, dy)",
     _DEFORM.format(Y=_Y.replace("2 * k,", "2 * k + 1,"), X=_X.replace("2 * k + 1,", "2 * k,"), M=_M)),
    ("12.4", "the mask ignored", _DEFORM.format(Y=_Y, X=_X, M="1.0")),
    ("12.4", "the stride left out of the position",
     _DEFORM.format(Y=_Y.replace("q0 * stride", "q0"), X=_X.replace("q1 * stride", "q1"), M=_M)),
    ("12.5", "im2col's rows read tap-major (a transposed index)", _DMASK_TAP_MAJOR),
    ("12.6", "proportional to v", 'answer_12_6 = "b"\n'),
]


def _dilation_offsets(d=4):
    """For each tap alone (a one-hot kernel), the integer shift of a deformable convolution
    with padding 1 that reproduces the dilated convolution of rate d, found by search."""
    x = np.random.default_rng(12).standard_normal((1, 1, 11, 13))
    found = []
    for k in range(9):
        w = np.zeros((1, 1, 3, 3))
        w.flat[k] = 1.0
        dilated, _ = F.conv2d_forward(x, w, padding=d, dilation=d)
        hits = []
        for dy, dx in itertools.product(range(-d, d + 1), repeat=2):
            offset = np.zeros((1, 18) + dilated.shape[2:])
            offset[0, 2 * k], offset[0, 2 * k + 1] = dy, dx
            deformed, _ = F.deform_conv2d_forward(x, offset, w, padding=1)
            if np.allclose(deformed, dilated):
                hits.append((dy, dx))
        assert len(hits) == 1, hits
        found.append(hits[0])
    return np.array(found)


def _window_start():
    """The window of the 3-padded input whose plain convolution equals the deformable one with
    the constant offset (1, -2), found by search."""
    rng = np.random.default_rng(13)
    x, w = rng.standard_normal((1, 2, 7, 8)), rng.standard_normal((3, 2, 3, 3))
    offset = np.zeros((1, 18, 7, 8))
    offset[:, 0::2], offset[:, 1::2] = 1.0, -2.0
    target, _ = F.deform_conv2d_forward(x, offset, w, padding=1)
    padded = np.pad(x, ((0, 0), (0, 0), (3, 3), (3, 3)))
    hits = [(top, left) for top in range(padded.shape[2] - 8) for left in range(padded.shape[3] - 9)
            if np.allclose(F.conv2d_forward(np.ascontiguousarray(
                padded[:, :, top:top + 9, left:left + 10]), w)[0], target)]
    assert len(hits) == 1, hits
    return hits[0]


def _flat_image_offset_gradient():
    """'a' when the offset gradient vanishes wherever the image is flat (interior samples)."""
    rng = np.random.default_rng(14)
    flat = np.full((1, 2, 9, 9), -1.3)
    offset = rng.uniform(-0.45, 0.45, (1, 18, 9, 9))
    y, cache = F.deform_conv2d_forward(flat, offset, rng.standard_normal((3, 2, 3, 3)), padding=1)
    doffset = F.deform_conv2d_backward(rng.standard_normal(y.shape), cache)[1]
    return "a" if np.abs(doffset[..., 2:-2, 2:-2]).max() < 1e-12 < np.abs(doffset).max() else "?"


INDEPENDENT = {
    "offset_d4": _dilation_offsets,
    "window_start": _window_start,
    "answer_12_6": _flat_image_offset_gradient,
}


def _sample_points(image, points):
    values, _ = F.bilinear_sample_forward(np.asarray(image, float)[None, None],
                                          np.asarray(points, float)[None])
    return values[0, 0]


def _dmask_library(x, w, dy):
    offset = np.zeros((x.shape[0], 18) + dy.shape[2:])
    mask = np.ones((x.shape[0], 9) + dy.shape[2:])
    _, cache = F.deform_conv2d_forward(x, offset, w, mask=mask, padding=1)
    return F.deform_conv2d_backward(dy, cache)[4]


def _rand(seed, *shape, low=-1.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, shape)


EQUIVALENT = {   # name -> (call of the answer on a case, the package's value for it, cases)
    "bilinear_sample_loop": (
        lambda fn, image, points: np.array([fn(image, y, x) for y, x in points]),
        _sample_points,
        [dict(image=_rand(1, 5, 7), points=_rand(2, 30, 2, low=-1.5, high=7.5)),
         dict(image=_rand(3, 1, 1), points=np.array([[0.0, 0.0], [0.5, -0.5], [2.0, 0.0]]))]),
    "deform_conv2d_loop": (
        lambda fn, **case: fn(**case),
        lambda **case: F.deform_conv2d_forward(**case)[0],
        [dict(x=_rand(4, 1, 2, 5, 6), offset=_rand(5, 1, 18, 5, 6, low=-2, high=2),
              w=_rand(6, 3, 2, 3, 3), b=_rand(7, 3), mask=_rand(8, 1, 9, 5, 6, low=0), padding=1),
         dict(x=_rand(9, 2, 1, 7, 8), offset=_rand(10, 2, 12, 3, 2, low=-3, high=3),
              w=_rand(11, 2, 1, 2, 3), stride=2, padding=0, dilation=2)]),
    "dmask_zero_offsets": (
        lambda fn, **case: fn(**case),
        _dmask_library,
        [dict(x=_rand(12, 2, 3, 4, 7), w=_rand(13, 2, 3, 3, 3), dy=_rand(14, 2, 2, 4, 7))]),
}
