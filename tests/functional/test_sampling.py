"""Tests of ``F.bilinear_sample_forward/backward`` and ``F.roi_align_forward/backward``.

Independent references used (never the library against itself):

* naive loops in this file, written from the definitions: a sample is
  ``Σ_{all pixels (i, j)} x[i, j] · max(0, 1-|y-i|) · max(0, 1-|x-j|)`` (a sum over the
  *whole* image, no floor, no corner bookkeeping); RoIAlign loops over boxes, bins and
  sub-samples with torchvision's documented rules (half-pixel ``aligned`` offset, boxes at
  least 1×1 when not aligned, adaptive grid ``ceil(roi / bins)``, samples beyond one pixel
  outside read 0, samples within one pixel outside read the clamped border);
* the hand example of a linear image, where bilinear sampling is exact;
* central finite differences in float64 (``tests/reference.py``), with positions kept away
  from integers (where the position gradient has a kink);
* ``torch.nn.functional.grid_sample(padding_mode="zeros", align_corners=True)`` (only where
  ``torch`` is importable).

Thresholds: float64 vs loops or torch, scale-normalised max error < 1e-12; finite
differences < 1e-7; float32 vs the float64 reference < 1e-5.
"""

from __future__ import annotations

import math

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


# ----------------------------------------------------------------------------- references
def sample_naive(image, y, x):
    """Bilinear sample of a 2-D image at (y, x): a sum over every pixel of the tent weights."""
    h, w = image.shape
    total = 0.0
    for i in range(h):
        for j in range(w):
            total += image[i, j] * max(0.0, 1 - abs(y - i)) * max(0.0, 1 - abs(x - j))
    return total


def bilinear_sample_naive(x, coords):
    n, c = x.shape[:2]
    out = np.zeros((n, c, coords.shape[1]))
    for b in range(n):
        for ch in range(c):
            for p, (yy, xx) in enumerate(coords[b]):
                out[b, ch, p] = sample_naive(x[b, ch], yy, xx)
    return out


def roi_sample_naive(image, y, x):
    """torchvision's RoIAlign read: 0 beyond [-1, size]; else clamp into the map, then bilinear."""
    h, w = image.shape
    if y < -1.0 or y > h or x < -1.0 or x > w:
        return 0.0
    return sample_naive(image, min(max(y, 0.0), h - 1), min(max(x, 0.0), w - 1))


def roi_align_naive(x, boxes, output_size, spatial_scale=1.0, sampling_ratio=2, aligned=True):
    oh, ow = (output_size, output_size) if isinstance(output_size, int) else output_size
    k, c = len(boxes), x.shape[1]
    out = np.zeros((k, c, oh, ow))
    for r, (b, x1, y1, x2, y2) in enumerate(boxes):
        off = 0.5 if aligned else 0.0
        x1, y1, x2, y2 = (v * spatial_scale - off for v in (x1, y1, x2, y2))
        rh, rw = y2 - y1, x2 - x1
        if not aligned:
            rh, rw = max(rh, 1.0), max(rw, 1.0)
        gh = sampling_ratio if sampling_ratio > 0 else math.ceil(rh / oh)
        gw = sampling_ratio if sampling_ratio > 0 else math.ceil(rw / ow)
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    acc = 0.0
                    for a in range(gh):
                        for bb in range(gw):
                            yy = y1 + i * rh / oh + (a + 0.5) * (rh / oh) / gh
                            xx = x1 + j * rw / ow + (bb + 0.5) * (rw / ow) / gw
                            acc += roi_sample_naive(x[int(b), ch], yy, xx)
                    out[r, ch, i, j] = acc / max(gh * gw, 1)
    return out


def _coords(rng, n, p, h, w, margin=1.5):
    """Random positions in [-margin, size-1+margin], none within 1e-3 of an integer."""
    c = np.stack([rng.uniform(-margin, h - 1 + margin, (n, p)),
                  rng.uniform(-margin, w - 1 + margin, (n, p))], axis=-1)
    frac = c - np.floor(c)
    c += np.where(frac < 1e-3, 2e-3, 0.0) - np.where(frac > 1 - 1e-3, 2e-3, 0.0)
    return c


SAMPLE_CASES = [(1, 1, 4, 4, 6), (2, 3, 5, 6, 17), (2, 2, 1, 3, 5), (1, 2, 7, 2, 9)]


# ----------------------------------------------------------------------------- sampler
@pytest.mark.parametrize("n,c,h,w,p", SAMPLE_CASES)
def test_bilinear_sample_matches_the_naive_sum(n, c, h, w, p, to_dev):
    rng = np.random.default_rng(h * 10 + w)
    x = rng.standard_normal((n, c, h, w))
    coords = _coords(rng, n, p, h, w)
    y, _ = F.bilinear_sample_forward(to_dev(x), to_dev(coords))
    R.assert_close(_np(y), bilinear_sample_naive(x, coords), 1e-12)


def test_integer_positions_read_pixels_exactly_and_far_outside_reads_zero(to_dev):
    x = np.arange(2 * 12, dtype=np.float64).reshape(1, 2, 3, 4)
    coords = np.array([[[0, 0], [2, 3], [1, 2], [-1, 0], [3, 1], [0.5, -1.0], [9.0, -7.0]]],
                      dtype=np.float64)
    y = _np(F.bilinear_sample_forward(to_dev(x), to_dev(coords))[0])[0]       # (C, P)
    np.testing.assert_array_equal(y[0, :3], [0, 11, 6])
    np.testing.assert_array_equal(y[1, :3], [12, 23, 18])
    np.testing.assert_array_equal(y[:, 3:], 0)  # at distance >= 1 from the image: zero


def test_half_a_pixel_outside_is_half_the_border_pixel(to_dev):
    x = np.full((1, 1, 2, 2), 8.0)
    coords = np.array([[[-0.5, 0.0], [0.0, 1.5], [-0.5, -0.5], [0.5, 0.5]]])
    y = _np(F.bilinear_sample_forward(to_dev(x), to_dev(coords))[0])
    np.testing.assert_allclose(y[0, 0], [4.0, 4.0, 2.0, 8.0], rtol=0, atol=1e-15)


@pytest.mark.parametrize("n,c,h,w,p", SAMPLE_CASES)
def test_bilinear_sample_gradients_match_central_differences(n, c, h, w, p, to_dev):
    rng = np.random.default_rng(h + 7 * w)
    x = rng.standard_normal((n, c, h, w))
    coords = _coords(rng, n, p, h, w)
    y, cache = F.bilinear_sample_forward(to_dev(x), to_dev(coords))
    dy = rng.standard_normal(y.shape)
    dx, dcoords = (_np(g) for g in F.bilinear_sample_backward(to_dev(dy), cache))
    num_dx = R.num_grad_array(lambda a: _np(F.bilinear_sample_forward(to_dev(a), to_dev(coords))[0]),
                              x, dy)
    num_dc = R.num_grad_array(lambda a: _np(F.bilinear_sample_forward(to_dev(x), to_dev(a))[0]),
                              coords, dy)
    R.assert_close(dx, num_dx, 1e-7)
    R.assert_close(dcoords, num_dc, 1e-7)
    assert dx.shape == x.shape and dcoords.shape == coords.shape


def test_backward_is_the_transpose_of_forward(to_dev):
    """<S x, dy> == <x, Sᵀ dy> for the linear map x ↦ y at fixed positions."""
    rng = np.random.default_rng(3)
    x, coords = rng.standard_normal((2, 3, 5, 4)), _coords(rng, 2, 11, 5, 4)
    y, cache = F.bilinear_sample_forward(to_dev(x), to_dev(coords))
    dy = rng.standard_normal(y.shape)
    dx, _ = F.bilinear_sample_backward(to_dev(dy), cache)
    assert abs(np.sum(_np(y) * dy) - np.sum(x * _np(dx))) < 1e-12 * np.sum(np.abs(_np(y) * dy))


def test_repeated_positions_accumulate_in_dx(to_dev):
    x = np.zeros((1, 1, 3, 3))
    coords = np.array([[[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]])
    _, cache = F.bilinear_sample_forward(to_dev(x), to_dev(coords))
    dx, _ = F.bilinear_sample_backward(to_dev(np.array([[[1.0, 2.0, 3.0]]])), cache)
    assert _np(dx)[0, 0, 1, 1] == 6.0 and _np(dx).sum() == 6.0


def test_float32_in_float32_out(to_dev):
    rng = np.random.default_rng(1)
    x, coords = rng.standard_normal((2, 2, 4, 5)), _coords(rng, 2, 7, 4, 5)
    y, cache = F.bilinear_sample_forward(to_dev(x.astype(np.float32)),
                                         to_dev(coords.astype(np.float32)))
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx, dc = F.bilinear_sample_backward(to_dev(dy), cache)
    assert y.dtype == dx.dtype == dc.dtype == np.float32
    R.assert_close(_np(y), bilinear_sample_naive(x, coords.astype(np.float32)), 1e-5)


def test_matches_torch_grid_sample():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    n, c, h, w, p = 2, 3, 5, 6, 23
    x, coords = rng.standard_normal((n, c, h, w)), _coords(rng, n, p, h, w)
    grid = np.stack([2 * coords[..., 1] / (w - 1) - 1, 2 * coords[..., 0] / (h - 1) - 1], -1)
    tx = torch.tensor(x, requires_grad=True)
    tg = torch.tensor(grid[:, None], requires_grad=True)           # (N, 1, P, 2), (x, y) order
    ty = torch.nn.functional.grid_sample(tx, tg, mode="bilinear", padding_mode="zeros",
                                         align_corners=True)[:, :, 0]
    y, cache = F.bilinear_sample_forward(x, coords)
    R.assert_close(y, ty.detach().numpy(), 1e-12)
    dy = rng.standard_normal(y.shape)
    ty.backward(torch.tensor(dy))
    dx, dcoords = F.bilinear_sample_backward(dy, cache)
    R.assert_close(dx, tx.grad.numpy(), 1e-12)
    tgrad = tg.grad.numpy()[:, 0]                                   # d/dgrid → d/dpixel
    R.assert_close(dcoords, np.stack([tgrad[..., 1] * 2 / (h - 1), tgrad[..., 0] * 2 / (w - 1)],
                                     -1), 1e-12)


def test_sampler_errors():
    x = np.zeros((2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"coords must have shape \(N, P, 2\)"):
        F.bilinear_sample_forward(x, np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match=r"coords must have shape \(N, P, 2\) = \(2, P, 2\)"):
        F.bilinear_sample_forward(x, np.zeros((1, 5, 2)))
    with pytest.raises(ValueError, match="coords must have 3 dims"):
        F.bilinear_sample_forward(x, np.zeros((10, 2)))
    with pytest.raises(TypeError, match="float32 and float64 arrays mixed"):
        F.bilinear_sample_forward(x, np.zeros((2, 5, 2), np.float32))
    with pytest.raises(ValueError, match="coords must be finite"):
        F.bilinear_sample_forward(x, np.full((2, 5, 2), np.nan))
    with pytest.raises(TypeError, match="x must be float32 or float64"):
        F.bilinear_sample_forward(x.astype(int), np.zeros((2, 5, 2)))
    _, cache = F.bilinear_sample_forward(x, np.zeros((2, 5, 2)))
    with pytest.raises(ValueError, match=r"dy must have shape \(2, 3, 5\)"):
        F.bilinear_sample_backward(np.zeros((2, 3, 4)), cache)
    with pytest.raises(TypeError, match="cache must be the cache returned by bilinear_sample"):
        F.bilinear_sample_backward(np.zeros((2, 3, 5)), ("not", "a", "cache"))


# ----------------------------------------------------------------------------- RoIAlign
def test_roi_align_on_a_linear_image_by_hand(to_dev):
    """x[i, j] = 4i + j is linear, so every bilinear sample is exact and a bin's mean is the
    value at the mean sample position. Box (0, 0)-(4, 4), aligned: sample positions span
    [-0.5, 3.5]; 2×2 bins with 2×2 samples at 0, 1 | 2, 3: means 0.5 and 2.5."""
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    boxes = np.array([[0, 0.0, 0.0, 4.0, 4.0]])
    y = _np(F.roi_align(to_dev(x), to_dev(boxes), 2))
    np.testing.assert_allclose(y[0, 0], [[2.5, 4.5], [10.5, 12.5]], rtol=0, atol=1e-14)
    # not aligned: positions span [0, 4]; samples 0.5, 1.5 | 2.5, 3.5 (3.5 clamps to 3)
    y = _np(F.roi_align(to_dev(x), to_dev(boxes), 2, aligned=False))
    np.testing.assert_allclose(y[0, 0], [[5.0, 6.75], [12.0, 13.75]], rtol=0, atol=1e-14)


ROI_CASES = [
    dict(output_size=2, spatial_scale=1.0, sampling_ratio=2, aligned=True),
    dict(output_size=(3, 2), spatial_scale=0.5, sampling_ratio=1, aligned=True),
    dict(output_size=(2, 3), spatial_scale=1.0, sampling_ratio=3, aligned=False),
    dict(output_size=2, spatial_scale=0.25, sampling_ratio=-1, aligned=False),
    dict(output_size=3, spatial_scale=1.0, sampling_ratio=0, aligned=True),
]


def _boxes(rng, k, n, h, w, scale):
    """Boxes in image coordinates, some reaching past the border, one degenerate."""
    x1 = rng.uniform(-2, w / scale, k)
    y1 = rng.uniform(-2, h / scale, k)
    bw, bh = rng.uniform(0.5, w / scale, k), rng.uniform(0.5, h / scale, k)
    boxes = np.stack([rng.integers(0, n, k).astype(float), x1, y1, x1 + bw, y1 + bh], 1)
    boxes[0, 3:] = boxes[0, 1:3]        # a zero-size box
    return boxes


@pytest.mark.parametrize("params", ROI_CASES, ids=lambda p: "-".join(map(str, p.values())))
def test_roi_align_matches_the_naive_loops(params, to_dev):
    rng = np.random.default_rng(11)
    n, c, h, w = 2, 3, 6, 7
    x = rng.standard_normal((n, c, h, w))
    boxes = _boxes(rng, 6, n, h, w, params["spatial_scale"])
    y, cache = F.roi_align_forward(to_dev(x), to_dev(boxes), **params)
    R.assert_close(_np(y), roi_align_naive(x, boxes, **params), 1e-12)
    dy = rng.standard_normal(y.shape)
    dx = _np(F.roi_align_backward(to_dev(dy), cache))
    num = R.num_grad_array(lambda a: _np(F.roi_align_forward(to_dev(a), to_dev(boxes), **params)[0]),
                           x, dy)
    R.assert_close(dx, num, 1e-7)


def test_roi_align_list_of_boxes_equals_the_indexed_form(to_dev):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 2, 5, 5))
    per_image = [np.array([[0.5, 1.0, 3.0, 4.5]]), np.array([[0.0, 0.0, 5.0, 5.0], [1, 1, 2, 3.0]])]
    indexed = np.array([[0, 0.5, 1.0, 3.0, 4.5], [1, 0, 0, 5, 5], [1, 1, 1, 2, 3.0]])
    a = F.roi_align(to_dev(x), [to_dev(b) for b in per_image], (2, 3))
    b = F.roi_align(to_dev(x), to_dev(indexed), (2, 3))
    np.testing.assert_array_equal(_np(a), _np(b))


def test_roi_align_float32(to_dev):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 2, 5, 6))
    boxes = np.array([[0, 0.3, 0.7, 4.1, 3.9]])
    y, cache = F.roi_align_forward(to_dev(x.astype(np.float32)), to_dev(boxes.astype(np.float32)), 2)
    assert y.dtype == np.float32
    assert F.roi_align_backward(to_dev(np.ones(y.shape, np.float32)), cache).dtype == np.float32
    R.assert_close(_np(y), roi_align_naive(x, boxes, 2), 1e-5)


def test_roi_align_errors():
    x = np.zeros((2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"boxes must have shape \(K, 5\)"):
        F.roi_align(x, np.zeros((3, 4)), 2)
    with pytest.raises(ValueError, match=r"boxes\[:, 0\] must be image indices in \[0, N\)"):
        F.roi_align(x, np.array([[2.0, 0, 0, 1, 1]]), 2)
    with pytest.raises(ValueError, match="one \\(L, 4\\) array per image"):
        F.roi_align(x, [np.zeros((1, 4))], 2)
    with pytest.raises(ValueError, match="output_size must be >= 1"):
        F.roi_align(x, np.zeros((1, 5)), 0)
    with pytest.raises(ValueError, match="spatial_scale must be a finite positive number"):
        F.roi_align(x, np.zeros((1, 5)), 2, spatial_scale=0)
    with pytest.raises(TypeError, match="sampling_ratio must be an int"):
        F.roi_align(x, np.zeros((1, 5)), 2, sampling_ratio=1.5)
    with pytest.raises(ValueError, match="boxes must be finite"):
        F.roi_align(x, np.array([[0, np.nan, 0, 1, 1]]), 2)
    _, cache = F.roi_align_forward(x, np.zeros((1, 5)), 2)
    with pytest.raises(ValueError, match=r"dy must have shape \(1, 3, 2, 2\)"):
        F.roi_align_backward(np.zeros((1, 3, 2, 3)), cache)
