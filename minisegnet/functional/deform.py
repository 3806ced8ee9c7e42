"""Deformable convolution (Dai et al., ICCV 2017; modulated: Zhu et al., CVPR 2019, "DCNv2").

A 3×3 convolution reads its input on a fixed grid of nine taps around each output
position. A deformable convolution adds a learned offset to every tap, separately for
every output position, and (DCNv2) multiplies each tap by a learned modulation scalar:

    ``y[n, o, p] = b[o] + Σ_{c, k} w[o, c, k] · m[n, k, p] · x[n, c](p·s - pad + k·d + Δ[n, k, p])``

where ``k`` runs over the ``kH·kW`` taps. The offsets are fractional, so ``x(·)`` is read by
bilinear interpolation (``sampling.py``, lesson 05). Computing it reuses two ideas:

* *deformable im2col* (lesson 03): build the same ``(C·kH·kW, N·L)`` column matrix as a
  convolution, but each entry is a bilinear sample at the shifted tap instead of a plain
  read (times the mask); the convolution is then one GEMM ``W₂ @ cols``, as in ``conv.py``;
* backward: ``dw`` and ``db`` exactly as for a convolution; ``dcols = W₂ᵀ dy₂`` goes back
  through the sampler, which gives ``dx`` (its transpose: a scatter) *and* the gradient with
  respect to each sample position, which is the offset gradient; ``dmask`` is ``dcols``
  times the unmodulated samples.

With zero offsets and a mask of ones every sample lands on a pixel centre and the columns
are exactly im2col's: the result is ``conv2d_forward``'s. Offset layout is
``torchvision.ops.deform_conv2d``'s. Lesson: ``lessons/12-deformable-conv.md``.
"""

from __future__ import annotations

from typing import NamedTuple

from .._checks import check_array, check_cache, check_finite_array, check_same_kind, check_shape
from ..backend import get_array_module
from ._bilinear_points import from_rows, gather, locate, nhwc_rows, position_gradient, scatter
from ._gemm import add_bias, from_gemm, weight_gradient
from .shapes import checked_conv_output, conv_geometry

__all__ = ["deform_conv2d_forward", "deform_conv2d_backward"]


class _DeformCache(NamedTuple):
    kind: str
    x_rows: object       # x as (N·H·W, C_in) rows
    points: object       # the sampler's corners and weights for every (n, tap, output pixel)
    samples: object      # unmodulated samples (C_in, K, N, L)
    mask: object         # (K, N, L) or None
    w: object
    has_bias: bool
    x_shape: tuple
    y_shape: tuple


def _tap_positions(xp, n, kernel, stride, padding, dilation, out_size, offset, dtype):
    """Sample positions ``(N, K, L)`` for y and x: the regular grid plus the offsets.

    offset: (N, 2K, H_out, W_out) with channel ``2k`` the y-offset and ``2k+1`` the
    x-offset of tap ``k = i·kW + j`` (torchvision's layout).
    """
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (ho, wo) = kernel, stride, padding, dilation, out_size
    k = kh * kw
    rows = (xp.arange(ho) * sh - ph)[:, None] + xp.zeros(wo, dtype=xp.int64)     # (Ho, Wo)
    cols = (xp.arange(wo) * sw - pw)[None, :] + xp.zeros((ho, 1), dtype=xp.int64)
    tap_i = xp.repeat(xp.arange(kh), kw) * dh                                    # (K,)
    tap_j = xp.tile(xp.arange(kw), kh) * dw
    base_y = (tap_i[:, None] + rows.reshape(1, -1)).astype(dtype)                # (K, L)
    base_x = (tap_j[:, None] + cols.reshape(1, -1)).astype(dtype)
    delta = offset.reshape(n, k, 2, ho * wo)
    return base_y[None] + delta[:, :, 0], base_x[None] + delta[:, :, 1]


def _check(fn, x, offset, w, b, mask, stride, padding, dilation):
    check_array(fn, "x", x, 4, "(N, C_in, H, W)")
    check_array(fn, "offset", offset, 4, "(N, 2*kH*kW, H_out, W_out)")
    check_array(fn, "w", w, 4, "(C_out, C_in, kH, kW)")
    if b is not None:
        check_array(fn, "b", b, 1, "(C_out,)")
    if mask is not None:
        check_array(fn, "mask", mask, 4, "(N, kH*kW, H_out, W_out)")
    check_same_kind(fn, x=x, offset=offset, w=w, b=b, mask=mask)
    if min(w.shape) < 1:
        raise ValueError(f"{fn}: w must have no empty dimension, got shape {tuple(w.shape)}")
    if w.shape[1] != x.shape[1]:
        raise ValueError(f"{fn}: channel mismatch: x has C={x.shape[1]} channels but w "
                         f"(C_out, C_in, kH, kW) has {w.shape[1]} input channels "
                         f"(w.shape={tuple(w.shape)})")
    if b is not None and b.shape[0] != w.shape[0]:
        raise ValueError(f"{fn}: b must have length C_out={w.shape[0]}, got shape {tuple(b.shape)}")
    kernel, stride, padding, dilation = conv_geometry(fn, w.shape[2:], stride, padding, dilation)
    out = checked_conv_output(fn, x.shape[2:], kernel, stride, padding, dilation)
    n, k = x.shape[0], kernel[0] * kernel[1]
    if tuple(offset.shape) != (n, 2 * k) + out:
        raise ValueError(
            f"{fn}: offset must have shape (N, 2*kH*kW, H_out, W_out) = {(n, 2 * k) + out} "
            f"(a (dy, dx) pair per tap of the {kernel[0]}×{kernel[1]} kernel at every output "
            f"position), got {tuple(offset.shape)}")
    if mask is not None and tuple(mask.shape) != (n, k) + out:
        raise ValueError(
            f"{fn}: mask must have shape (N, kH*kW, H_out, W_out) = {(n, k) + out} (one "
            f"modulation scalar per tap at every output position), got {tuple(mask.shape)}")
    check_finite_array(fn, "offset", offset)
    return kernel, stride, padding, dilation, out


def deform_conv2d_forward(x, offset, w, b=None, mask=None, stride=1, padding=0, dilation=1):
    """Deformable (DCNv1) or modulated deformable (DCNv2) 2-D convolution.

    ``y[n, o, p, q] = b[o] + Σ_{c,i,j} w[o, c, i, j] · m · v(x[n, c], Y, X)`` with
    ``Y = p·s_h - pad_h + i·d_h + offset[n, 2k, p, q]``,
    ``X = q·s_w - pad_w + j·d_w + offset[n, 2k+1, p, q]``, ``k = i·kW + j``,
    ``m = mask[n, k, p, q]`` (1 when mask is None), and ``v`` the bilinear sample of
    ``bilinear_sample_forward`` (zero outside the image, which also plays the part of the
    zero padding). The same definition, offset layout and sampling rule as
    ``torchvision.ops.deform_conv2d(x, offset, w, b, stride, padding, dilation, mask)`` with
    one offset group (torchvision's kernels read zero outside the image the same way).

    x: (N, C_in, H, W); offset: (N, 2·kH·kW, H_out, W_out), finite; w: (C_out, C_in, kH, kW);
    b: (C_out,) or None; mask: (N, kH·kW, H_out, W_out) or None; H_out, W_out as for
    ``conv2d_forward``. Returns ``(y, cache)``, y: (N, C_out, H_out, W_out). Lesson 12.
    """
    fn = "deform_conv2d_forward"
    kernel, stride, padding, dilation, out = _check(fn, x, offset, w, b, mask, stride, padding,
                                                    dilation)
    xp = get_array_module(x)
    n, c, h, wid = x.shape
    k, length = kernel[0] * kernel[1], out[0] * out[1]
    pos_y, pos_x = _tap_positions(xp, n, kernel, stride, padding, dilation, out, offset, x.dtype)
    batch = xp.repeat(xp.arange(n, dtype=xp.int64), k * length)
    points = locate(xp, batch, pos_y.reshape(-1), pos_x.reshape(-1), h, wid, x.dtype)
    x_rows = nhwc_rows(x)
    # Deformable im2col: (N·K·L, C) samples → (C, K, N, L), the GEMM layout of conv2d's columns.
    samples = xp.ascontiguousarray(gather(x_rows, points).reshape(n, k, length, c)
                                   .transpose(3, 1, 0, 2))
    mask_knl = None
    cols = samples
    if mask is not None:
        mask_knl = xp.ascontiguousarray(mask.reshape(n, k, length).transpose(1, 0, 2))
        cols = samples * mask_knl[None]
    y_gemm = w.reshape(w.shape[0], -1) @ cols.reshape(c * k, n * length)
    y = add_bias(from_gemm(y_gemm, n, out), b)
    cache = _DeformCache("deform_conv2d", x_rows, points, samples, mask_knl, w, b is not None,
                         x.shape, y.shape)
    return y, cache


def deform_conv2d_backward(dy, cache):
    """Gradients of ``deform_conv2d_forward``: ``(dx, doffset, dw, db, dmask)``.

    ``dw₂ = dy₂ @ colsᵀ`` and ``db = Σ dy`` as for a convolution; ``dcols = W₂ᵀ dy₂``;
    ``dmask = Σ_c dcols · samples``; ``dcols · mask`` goes back through the bilinear sampler,
    whose transpose gives ``dx`` and whose position gradient gives ``doffset`` (a sample's
    position is its grid point plus its offset, so the two gradients are equal). At an offset
    that puts a sample exactly on a pixel row or column the derivative from the right is used.

    dy: (N, C_out, H_out, W_out). Returns fresh arrays shaped like x, offset, w, b, mask
    (``None`` for b and mask when they were ``None``).
    """
    fn = "deform_conv2d_backward"
    check_cache(fn, cache, "deform_conv2d")
    check_array(fn, "dy", dy, 4, "(N, C_out, H_out, W_out)")
    check_shape(fn, "dy", dy, cache.y_shape)
    check_same_kind(fn, dy=dy, w=cache.w)
    xp = get_array_module(dy)
    n, c, h, wid = cache.x_shape
    _, c_out, ho, wo = cache.y_shape
    c_in, k, _, length = cache.samples.shape
    dy_gemm = dy.transpose(1, 0, 2, 3).reshape(c_out, n * length)
    cols = cache.samples if cache.mask is None else cache.samples * cache.mask[None]
    dw = weight_gradient(dy_gemm, cols.reshape(c_in * k, n * length), cache.w.shape)
    db = dy.sum(axis=(0, 2, 3)) if cache.has_bias else None
    dcols = (cache.w.reshape(c_out, -1).T @ dy_gemm).reshape(c_in, k, n, length)
    dmask = None
    dsamples = dcols
    if cache.mask is not None:
        dmask_knl = (dcols * cache.samples).sum(axis=0)                     # (K, N, L)
        dmask = xp.ascontiguousarray(dmask_knl.transpose(1, 0, 2)).reshape(n, k, ho, wo)
        dsamples = dcols * cache.mask[None]
    dv = xp.ascontiguousarray(dsamples.transpose(2, 1, 3, 0)).reshape(n * k * length, c_in)
    dx = from_rows(scatter(dv, cache.points, n * h * wid), cache.x_shape)
    dpos = position_gradient(dv, cache.x_rows, cache.points)               # (N·K·L, 2)
    doffset = xp.ascontiguousarray(dpos.reshape(n, k, length, 2).transpose(0, 1, 3, 2))
    return dx, doffset.reshape(n, 2 * k, ho, wo), dw, db, dmask
