"""Bilinear sampling at fractional positions, and RoIAlign built on it.

Upsampling reads the input on a regular grid; *sampling* reads it wherever you like. A
sample at a fractional position ``(y, x)`` (pixel units) mixes the four pixels around it:

    ``v(y, x) = Σ_{i, j} x[i, j] · max(0, 1 - |y - i|) · max(0, 1 - |x - j|)``

(only the four neighbours ``⌊y⌋ ≤ i ≤ ⌊y⌋ + 1``, ``⌊x⌋ ≤ j ≤ ⌊x⌋ + 1`` have non-zero weight,
and neighbours outside the image count as zero). The output is *linear in x*: a sparse
matrix with at most four non-zeros per sample, so ``dx`` is its transpose (a scatter of
``dy`` onto the same four pixels). It is *piecewise bilinear in the position*, so the
gradient with respect to ``(y, x)`` exists too: that is what lets a deformable
convolution (``deform.py``, lesson 12) learn where to look.

``roi_align_forward`` averages such samples on a regular grid inside each box (Mask R-CNN's
RoIAlign: no rounding of box corners, unlike RoIPool). Lessons:
``lessons/05-unpooling-and-interpolation.md`` and ``lessons/12-deformable-conv.md``.
"""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple

import numpy as np

from .._checks import check_array, check_cache, check_finite_array, check_same_kind, check_shape, pair
from ..backend import get_array_module, to_numpy
from ._bilinear_points import Points, from_rows, gather, locate, nhwc_rows, position_gradient, scatter

__all__ = [
    "bilinear_sample_forward",
    "bilinear_sample_backward",
    "roi_align_forward",
    "roi_align_backward",
    "roi_align",
]

# ---------------------------------------------------------------- bilinear sampling


class _SampleCache(NamedTuple):
    kind: str
    x_rows: object
    points: Points
    x_shape: tuple
    coords_shape: tuple


def bilinear_sample_forward(x, coords):
    """Sample every image of a batch at fractional positions, bilinearly, zeros outside.

    ``y[n, c, p] = Σ_{i,j} x[n, c, i, j] · max(0, 1 - |Y - i|) · max(0, 1 - |X - j|)``
    with ``(Y, X) = coords[n, p]``.

    Coordinates are ``(y, x)`` in *pixel units* of x's grid: ``(0, 0)`` is the centre of
    the top-left pixel, ``(H-1, W-1)`` that of the bottom-right one (PyTorch's
    ``align_corners=True`` meaning of a coordinate), so an integer position returns that
    pixel exactly. Only the four pixels around ``(Y, X)`` have non-zero weight; pixels
    outside the image count as zero (``padding_mode="zeros"``), so the value fades to 0
    over the last pixel's width beyond the border and is exactly 0 at distance ≥ 1 from
    the image. This is ``torch.nn.functional.grid_sample(x, grid, mode="bilinear",
    padding_mode="zeros", align_corners=True)`` with ``grid[..., 0] = 2X/(W-1) - 1`` and
    ``grid[..., 1] = 2Y/(H-1) - 1`` (note grid_sample's ``(x, y)`` order and unit range),
    and the sampler of ``torchvision.ops.deform_conv2d``.

    x: (N, C, H, W); coords: (N, P, 2), same float dtype and device, finite.
    Returns ``(y, cache)`` with y: (N, C, P). Lessons 05 (RoIAlign) and 12.
    """
    fn = "bilinear_sample_forward"
    check_array(fn, "x", x, 4, "(N, C, H, W)")
    check_array(fn, "coords", coords, 3, "(N, P, 2)")
    check_same_kind(fn, x=x, coords=coords)
    n, c, h, w = x.shape
    if coords.shape[0] != n or coords.shape[2] != 2:
        raise ValueError(f"{fn}: coords must have shape (N, P, 2) = ({n}, P, 2) with (y, x) "
                         f"pairs, got {tuple(coords.shape)}")
    check_finite_array(fn, "coords", coords)
    xp = get_array_module(x)
    p = coords.shape[1]
    batch = xp.repeat(xp.arange(n, dtype=xp.int64), p)
    flat = coords.reshape(n * p, 2)
    points = locate(xp, batch, flat[:, 0], flat[:, 1], h, w, x.dtype)
    x_rows = nhwc_rows(x)
    values = gather(x_rows, points)                         # (N·P, C)
    y = xp.ascontiguousarray(values.reshape(n, p, c).transpose(0, 2, 1))
    return y, _SampleCache("bilinear_sample", x_rows, points, x.shape, coords.shape)


def bilinear_sample_backward(dy, cache):
    """Gradients of ``bilinear_sample_forward`` with respect to x and to the coordinates.

    ``dx``: each ``dy[n, c, p]`` spread onto the four neighbours of sample p with the same
    weights (the transpose of the sampling matrix; several samples reading one pixel add).
    ``dcoords[n, p] = (∂/∂Y, ∂/∂X)`` of ``Σ_c dy[n, c, p] · y[n, c, p]``: the weights are
    linear in each coordinate inside a cell, so this is a difference of neighbouring pixel
    values (see ``position_gradient``); at an exactly integer coordinate the derivative
    from the right is returned.

    dy: (N, C, P); returns ``(dx (N, C, H, W), dcoords (N, P, 2))``.
    """
    fn = "bilinear_sample_backward"
    check_cache(fn, cache, "bilinear_sample")
    n, c, h, w = cache.x_shape
    p = cache.coords_shape[1]
    check_array(fn, "dy", dy, 3, "(N, C, P)")
    check_shape(fn, "dy", dy, (n, c, p))
    check_same_kind(fn, dy=dy, x=cache.x_rows)
    xp = get_array_module(dy)
    dv = xp.ascontiguousarray(dy.transpose(0, 2, 1)).reshape(n * p, c)
    dx = from_rows(scatter(dv, cache.points, n * h * w), cache.x_shape)
    dcoords = position_gradient(dv, cache.x_rows, cache.points).reshape(n, p, 2)
    return dx, dcoords


# ---------------------------------------------------------------- RoIAlign


class _RoICache(NamedTuple):
    kind: str
    points: Points
    grids: tuple       # per box: (grid_h, grid_w) samples per bin
    x_shape: tuple
    dtype: object
    output_size: tuple


def _boxes_array(fn, boxes, x):
    """``boxes`` as one (K, 5) float64 NumPy array ``[batch_index, x1, y1, x2, y2]``."""
    if isinstance(boxes, (list, tuple)):
        parts = []
        for index, b in enumerate(boxes):
            check_array(fn, f"boxes[{index}]", b, 2, "(L, 4)")
            check_same_kind(fn, x=x, **{f"boxes_{index}": b})
            if b.shape[1] != 4:
                raise ValueError(f"{fn}: boxes[{index}] must have shape (L, 4) with (x1, y1, x2, "
                                 f"y2) rows, got {tuple(b.shape)}")
            b = to_numpy(b).astype(np.float64)
            parts.append(np.concatenate([np.full((len(b), 1), float(index)), b], axis=1))
        if len(boxes) != x.shape[0]:
            raise ValueError(f"{fn}: a list of boxes needs one (L, 4) array per image: "
                             f"x has N={x.shape[0]}, got {len(boxes)} arrays")
        array = np.concatenate(parts, axis=0) if parts else np.zeros((0, 5))
    else:
        check_array(fn, "boxes", boxes, 2, "(K, 5)")
        check_same_kind(fn, x=x, boxes=boxes)
        if boxes.shape[1] != 5:
            raise ValueError(f"{fn}: boxes must have shape (K, 5) with (batch_index, x1, y1, x2, "
                             f"y2) rows, or be a list of (L, 4) arrays, got {tuple(boxes.shape)}")
        array = to_numpy(boxes).astype(np.float64)
    index = array[:, 0]
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{fn}: boxes must be finite, got NaN or inf values")
    if np.any(index != np.round(index)) or np.any(index < 0) or np.any(index >= x.shape[0]):
        raise ValueError(f"{fn}: boxes[:, 0] must be image indices in [0, N) = [0, {x.shape[0]}), "
                         f"got values {sorted(set(index.tolist()))[:5]}")
    return array


def _roi_sample_positions(box, height, width, out, spatial_scale, sampling_ratio, aligned):
    """One box's sample positions, torchvision's rules: returns ``(ys, xs, (gh, gw))``.

    ys, xs: float64 arrays (oh·gh·ow·gw,) in the order (bin row, sample row, bin column,
    sample column); points beyond ``[-1, size]`` are moved to -2 (they read zero), the
    others are clamped into ``[0, size - 1]`` (torchvision replicates the border pixel for
    samples up to one pixel outside).
    """
    offset = 0.5 if aligned else 0.0
    x1, y1, x2, y2 = (v * spatial_scale - offset for v in box[1:])
    roi_h, roi_w = y2 - y1, x2 - x1
    if not aligned:                       # torchvision: malformed boxes become 1×1
        roi_h, roi_w = max(roi_h, 1.0), max(roi_w, 1.0)
    bin_h, bin_w = roi_h / out[0], roi_w / out[1]
    gh = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_h / out[0])
    gw = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_w / out[1])
    gh, gw = max(gh, 0), max(gw, 0)
    ys = y1 + np.arange(out[0])[:, None] * bin_h + (np.arange(gh)[None, :] + 0.5) * bin_h / max(gh, 1)
    xs = x1 + np.arange(out[1])[:, None] * bin_w + (np.arange(gw)[None, :] + 0.5) * bin_w / max(gw, 1)
    ys = np.broadcast_to(ys[:, :, None, None], (out[0], gh, out[1], gw)).reshape(-1)
    xs = np.broadcast_to(xs[None, None], (out[0], gh, out[1], gw)).reshape(-1)
    keep = (ys >= -1) & (ys <= height) & (xs >= -1) & (xs <= width)
    ys = np.where(keep, np.clip(ys, 0, height - 1), -2.0)
    xs = np.where(keep, np.clip(xs, 0, width - 1), -2.0)
    return ys, xs, (gh, gw)


def roi_align_forward(x, boxes, output_size, spatial_scale=1.0, sampling_ratio=2, aligned=True):
    """RoIAlign (He et al., Mask R-CNN, ICCV 2017) with ``torchvision.ops.roi_align``'s rules.

    For box k and bin ``(i, j)`` of an ``oh×ow`` grid over the box, the output is the mean
    of ``gh × gw`` bilinear samples at the centres of a regular sub-grid of the bin:

        ``y[k, c, i, j] = 1/(gh·gw) Σ_{a<gh, b<gw} v(y1 + (i + (a+½)/gh)·bin_h,
                                                    x1 + (j + (b+½)/gw)·bin_w)``

    with box corners ``x1 = box_x1·spatial_scale - ½`` etc. when ``aligned`` (the pixel-centre
    correction: pixel ``(0, 0)`` covers ``[0, 1)²`` in box coordinates, and its centre is
    sample position 0), no ``-½`` and boxes at least 1×1 when not.
    ``gh = sampling_ratio`` (or ``ceil(roi_h / oh)`` when ``sampling_ratio <= 0``, adaptive).
    Samples farther than one pixel outside the map read 0; samples up to one pixel outside
    read the border pixel (torchvision's clamp) — so this is the sampler of
    ``bilinear_sample_forward`` after clamping positions into the map.

    x: (N, C, H, W); boxes: (K, 5) rows ``(batch_index, x1, y1, x2, y2)`` in input-image
    coordinates, or a list of N arrays (L_n, 4); output_size: int or ``(oh, ow)``.
    Defaults differ from torchvision's (``sampling_ratio=-1, aligned=False``): here a fixed
    2×2 grid per bin and the half-pixel correction, as Detectron2's ``ROIAlignV2``.
    Returns ``(y, cache)``, y: (K, C, oh, ow). Lesson 05.
    """
    fn = "roi_align_forward"
    check_array(fn, "x", x, 4, "(N, C, H, W)")
    out = pair(fn, "output_size", output_size, minimum=1)
    if not isinstance(sampling_ratio, numbers.Integral) or isinstance(sampling_ratio, bool):
        raise TypeError(f"{fn}: sampling_ratio must be an int (<= 0 for adaptive), "
                        f"got {sampling_ratio!r}")
    if (not isinstance(spatial_scale, numbers.Real) or isinstance(spatial_scale, bool)
            or not math.isfinite(spatial_scale) or spatial_scale <= 0):
        raise ValueError(f"{fn}: spatial_scale must be a finite positive number, got {spatial_scale!r}")
    array = _boxes_array(fn, boxes, x)
    xp = get_array_module(x)
    n, c, h, w = x.shape
    batch, ys, xs, grids = [], [], [], []
    for box in array:
        by, bx, grid = _roi_sample_positions(box, h, w, out, float(spatial_scale),
                                             int(sampling_ratio), bool(aligned))
        batch.append(np.full(by.shape, int(box[0]), dtype=np.int64))
        ys.append(by)
        xs.append(bx)
        grids.append(grid)

    def cat(parts, dt):
        return xp.asarray(np.concatenate(parts) if parts else np.zeros(0, dt))

    points = locate(xp, cat(batch, np.int64), cat(ys, np.float64), cat(xs, np.float64), h, w,
                     x.dtype)
    values = gather(nhwc_rows(x), points)                  # (M, C)
    y = xp.zeros((len(array), c) + out, dtype=x.dtype)
    start = 0
    for k, (gh, gw) in enumerate(grids):
        count = out[0] * gh * out[1] * gw
        if count:
            block = values[start:start + count].reshape(out[0], gh, out[1], gw, c)
            y[k] = block.sum(axis=(1, 3)).transpose(2, 0, 1) / (gh * gw)
        start += count
    return y, _RoICache("roi_align", points, tuple(grids), x.shape, x.dtype, out)


def roi_align_backward(dy, cache):
    """Gradient of ``roi_align_forward`` with respect to x (boxes get none, as in torchvision).

    Each ``dy[k, c, i, j] / (gh·gw)`` goes to every sample of its bin, and from each sample to
    its four pixels with the bilinear weights: the sampler's transpose.
    dy: (K, C, oh, ow); returns dx: (N, C, H, W).
    """
    fn = "roi_align_backward"
    check_cache(fn, cache, "roi_align")
    n, c, h, w = cache.x_shape
    check_array(fn, "dy", dy, 4, "(K, C, oh, ow)")
    check_shape(fn, "dy", dy, (len(cache.grids), c) + cache.output_size)
    if dy.dtype != cache.dtype:
        raise TypeError(f"{fn}: dy has dtype {dy.dtype} but x had {cache.dtype}; use one dtype")
    xp = get_array_module(dy)
    oh, ow = cache.output_size
    parts = []
    for k, (gh, gw) in enumerate(cache.grids):
        if gh * gw:
            share = dy[k].transpose(1, 2, 0)[:, None, :, None, :] / (gh * gw)  # (oh,1,ow,1,C)
            parts.append(xp.broadcast_to(share, (oh, gh, ow, gw, c)).reshape(-1, c))
    dv = xp.concatenate(parts) if parts else xp.zeros((0, c), dtype=dy.dtype)
    return from_rows(scatter(dv, cache.points, n * h * w), cache.x_shape)


def roi_align(x, boxes, output_size, spatial_scale=1.0, sampling_ratio=2, aligned=True):
    """``roi_align_forward(...)[0]``: the pooled features only, torchvision's call shape."""
    return roi_align_forward(x, boxes, output_size, spatial_scale, sampling_ratio, aligned)[0]
