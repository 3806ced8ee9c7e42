"""Tests of ``F.deform_conv2d_forward/backward`` (DCNv1 and modulated DCNv2).

Independent references used (never the library against itself):

* a naive loop in this file, from the definition: for every output pixel, every output and
  input channel and every tap, the bilinear read of the input at
  ``(p·s - pad + i·d + Δy, q·s - pad + j·d + Δx)`` written as a sum over *all* pixels of the
  tent weights ``max(0, 1-|y-i|)·max(0, 1-|x-j|)`` (zero outside the image), times the mask;
* ``F.conv2d_forward`` (itself tested against loops): zero offsets and a mask of ones must
  reproduce it bit for bit, and a constant integer offset ``(a, b)`` must equal a convolution
  of the input shifted by ``(a, b)`` with zero fill;
* central finite differences in float64 (``tests/reference.py``) for x, offset, w, b, mask,
  with offsets whose sample positions stay away from integers (the kinks of bilinear).

Thresholds: float64 vs loops, scale-normalised max error < 1e-12; finite differences < 1e-7;
float32 vs the float64 reference < 1e-5.
"""

from __future__ import annotations

import numpy as np
import pytest

from minisegnet import backend
from minisegnet import functional as F

try:  # `python -m pytest` from the repository root
    from tests import reference as R
except ImportError:  # plain `pytest`: tests/ itself is on sys.path
    import reference as R


def _np(a):
    return None if a is None else backend.to_numpy(a)


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _tent_sample(image, y, x):
    h, w = image.shape
    return sum(image[i, j] * max(0.0, 1 - abs(y - i)) * max(0.0, 1 - abs(x - j))
               for i in range(h) for j in range(w))


def deform_conv2d_naive(x, offset, w, b=None, mask=None, stride=1, padding=0, dilation=1):
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    n, c_in, h, wid = x.shape
    c_out, _, kh, kw = w.shape
    ho, wo = offset.shape[2:]
    y = np.zeros((n, c_out, ho, wo))
    for b_ in range(n):
        for p in range(ho):
            for q in range(wo):
                for i in range(kh):
                    for j in range(kw):
                        k = i * kw + j
                        yy = p * sh - ph + i * dh + offset[b_, 2 * k, p, q]
                        xx = q * sw - pw + j * dw + offset[b_, 2 * k + 1, p, q]
                        m = 1.0 if mask is None else mask[b_, k, p, q]
                        for c in range(c_in):
                            v = m * _tent_sample(x[b_, c], yy, xx)
                            y[b_, :, p, q] += w[:, c, i, j] * v
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


def _out(h, k, s, p, d):
    return (h + 2 * p - d * (k - 1) - 1) // s + 1


def _offsets(rng, shape, scale=1.3):
    """Random fractional offsets, none within 1e-3 of an integer (grid points are integers)."""
    off = rng.normal(0, scale, shape)
    frac = off - np.floor(off)
    return off + np.where(frac < 1e-3, 2e-3, 0.0) - np.where(frac > 1 - 1e-3, 2e-3, 0.0)


CASES = [  # (N, C_in, C_out, H, W, k, stride, padding, dilation, bias, mask)
    (1, 1, 1, 4, 4, 3, 1, 1, 1, False, False),
    (2, 2, 3, 5, 4, 3, 1, 1, 1, True, True),
    (1, 2, 2, 6, 5, (3, 2), (2, 1), (1, 0), 1, True, False),
    (2, 1, 2, 6, 6, 3, 1, 2, 2, False, True),
    (1, 3, 2, 5, 6, (2, 3), 2, (0, 1), (1, 2), True, True),
    (1, 2, 1, 3, 3, 1, 1, 0, 1, True, True),
]


def _case(params, seed=0):
    n, c_in, c_out, h, w, k, s, p, d, bias, use_mask = params
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = _pair(k), _pair(s), _pair(p), _pair(d)
    ho, wo = _out(h, kh, sh, ph, dh), _out(w, kw, sw, pw, dw)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c_in, h, w))
    offset = _offsets(rng, (n, 2 * kh * kw, ho, wo))
    weight = rng.standard_normal((c_out, c_in, kh, kw))
    b = rng.standard_normal(c_out) if bias else None
    mask = rng.uniform(0.1, 1.0, (n, kh * kw, ho, wo)) if use_mask else None
    return x, offset, weight, b, mask, dict(stride=s, padding=p, dilation=d)


def _ids(c):
    return "n{}ci{}co{}-{}x{}-k{}-s{}-p{}-d{}-b{}-m{}".format(*c).replace(" ", "")


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_forward_matches_the_naive_loop(case, to_dev):
    x, offset, w, b, mask, geo = _case(case)
    def d(a):
        return None if a is None else to_dev(a)

    y, _ = F.deform_conv2d_forward(d(x), d(offset), d(w), d(b), d(mask), **geo)
    R.assert_close(_np(y), deform_conv2d_naive(x, offset, w, b, mask, **geo), 1e-12)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_zero_offsets_and_ones_mask_give_conv2d_exactly(case, to_dev):
    x, offset, w, b, mask, geo = _case(case)
    def d(a):
        return None if a is None else to_dev(a)

    y_conv, conv_cache = F.conv2d_forward(d(x), d(w), d(b), **geo)
    zeros, ones = np.zeros_like(offset), np.ones((offset.shape[0], offset.shape[1] // 2)
                                                 + offset.shape[2:])
    y_plain, cache = F.deform_conv2d_forward(d(x), d(zeros), d(w), d(b), None, **geo)
    y_mod, _ = F.deform_conv2d_forward(d(x), d(zeros), d(w), d(b), d(ones), **geo)
    np.testing.assert_array_equal(_np(y_plain), _np(y_conv))
    np.testing.assert_array_equal(_np(y_mod), _np(y_conv))
    # ... and the same gradients for x, w and b
    dy = np.random.default_rng(1).standard_normal(y_conv.shape)
    dx_c, dw_c, db_c = F.conv2d_backward(d(dy), conv_cache)
    dx, _, dw, db, dmask = F.deform_conv2d_backward(d(dy), cache)
    R.assert_close(_np(dx), _np(dx_c), 1e-13)
    R.assert_close(_np(dw), _np(dw_c), 1e-13)
    if b is not None:
        R.assert_close(_np(db), _np(db_c), 1e-13)
    assert dmask is None


@pytest.mark.parametrize("shift", [(1, 0), (0, -2), (-1, 1), (2, 2)])
def test_a_constant_integer_offset_is_a_shifted_convolution(shift, to_dev):
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((2, 2, 6, 7)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    a, c = shift
    # The shifted input, zero-filled: window[..., r, s] = x[..., r - 1 + a, s - 1 + c] (0 outside),
    # with room for the padding of 1, so a plain unpadded conv of it reads what the taps read.
    big = 1 + max(abs(a), abs(c))
    xpad = np.pad(x, ((0, 0), (0, 0), (big, big), (big, big)))
    h, wid = x.shape[2:]
    window = xpad[:, :, big - 1 + a:big + 1 + a + h, big - 1 + c:big + 1 + c + wid]
    y_ref, _ = F.conv2d_forward(to_dev(np.ascontiguousarray(window)), to_dev(w), to_dev(b))
    offset = np.zeros((2, 18, 6, 7))
    offset[:, 0::2], offset[:, 1::2] = a, c
    y, _ = F.deform_conv2d_forward(to_dev(x), to_dev(offset), to_dev(w), to_dev(b), padding=1)
    R.assert_close(_np(y), _np(y_ref), 1e-14)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_every_gradient_matches_central_differences(case, to_dev):
    x, offset, w, b, mask, geo = _case(case, seed=3)
    def d(a):
        return None if a is None else to_dev(a)

    inputs = dict(x=x, offset=offset, w=w, b=b, mask=mask)

    def run(**changed):
        args = {**inputs, **changed}
        y, _ = F.deform_conv2d_forward(*(d(args[k]) for k in ("x", "offset", "w", "b", "mask")),
                                       **geo)
        return _np(y)

    y, cache = F.deform_conv2d_forward(d(x), d(offset), d(w), d(b), d(mask), **geo)
    dy = np.random.default_rng(4).standard_normal(y.shape)
    grads = dict(zip(("x", "offset", "w", "b", "mask"),
                     (_np(g) for g in F.deform_conv2d_backward(d(dy), cache))))
    for name, value in inputs.items():
        if value is None:
            assert grads[name] is None, f"{name} was None, its gradient must be None"
            continue
        num = R.num_grad_array(lambda a, name=name: run(**{name: a}), value, dy)
        assert grads[name].shape == value.shape
        R.assert_close(grads[name], num, 1e-7)


def test_float32_in_float32_out(to_dev):
    x, offset, w, b, mask, geo = _case(CASES[1])
    def f32(a):
        return to_dev(a.astype(np.float32))

    y, cache = F.deform_conv2d_forward(f32(x), f32(offset), f32(w), f32(b), f32(mask), **geo)
    grads = F.deform_conv2d_backward(f32(np.ones(y.shape)), cache)
    assert y.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)
    ref = deform_conv2d_naive(*(a.astype(np.float32) for a in (x, offset, w, b, mask)), **geo)
    R.assert_close(_np(y), ref, 1e-5)


def test_clear_errors():
    x, w = np.zeros((2, 3, 5, 5)), np.zeros((4, 3, 3, 3))
    good = np.zeros((2, 18, 5, 5))
    with pytest.raises(ValueError, match=r"offset must have shape \(N, 2\*kH\*kW, H_out, W_out\) = "
                                         r"\(2, 18, 5, 5\).*got \(2, 9, 5, 5\)"):
        F.deform_conv2d_forward(x, np.zeros((2, 9, 5, 5)), w, padding=1)
    with pytest.raises(ValueError, match=r"offset must have shape .* = \(2, 18, 3, 3\)"):
        F.deform_conv2d_forward(x, good, w)                     # no padding: 3×3 outputs
    with pytest.raises(ValueError, match=r"mask must have shape \(N, kH\*kW, H_out, W_out\) = "
                                         r"\(2, 9, 5, 5\).*got \(2, 18, 5, 5\)"):
        F.deform_conv2d_forward(x, good, w, mask=good, padding=1)
    with pytest.raises(ValueError, match="offset must have 4 dims"):
        F.deform_conv2d_forward(x, np.zeros((18, 5, 5)), w, padding=1)
    with pytest.raises(ValueError, match="channel mismatch"):
        F.deform_conv2d_forward(x, good, np.zeros((4, 2, 3, 3)), padding=1)
    with pytest.raises(ValueError, match="b must have length C_out=4"):
        F.deform_conv2d_forward(x, good, w, np.zeros(3), padding=1)
    with pytest.raises(TypeError, match="float32 and float64 arrays mixed"):
        F.deform_conv2d_forward(x, good.astype(np.float32), w, padding=1)
    with pytest.raises(ValueError, match="offset must be finite"):
        F.deform_conv2d_forward(x, np.full((2, 18, 5, 5), np.inf), w, padding=1)
    with pytest.raises(ValueError, match="output size would be"):
        F.deform_conv2d_forward(np.zeros((2, 3, 2, 2)), good, w)
    _, cache = F.deform_conv2d_forward(x, good, w, padding=1)
    with pytest.raises(ValueError, match=r"dy must have shape \(2, 4, 5, 5\)"):
        F.deform_conv2d_backward(np.zeros((2, 4, 5, 4)), cache)
    with pytest.raises(TypeError, match="cache must be the cache returned by deform_conv2d_forward"):
        F.deform_conv2d_backward(np.zeros((2, 4, 5, 5)), None)
