"""The fast tier of ``conv.py``: the same convolutions, computed with less work.

Never graded; ``conv.py`` calls it through ``backend.fast_tier`` and the tier-agreement test
(``tests/functional/test_conv_tiers.py``) compares the two. What it does differently:

* 3×3, stride-1 convolutions run as Winograd F(2×2, 3×3) (``winograd.py``): 2.25× fewer
  multiplies in the forward pass, and in the backward pass, which is the adjoint of the
  same pipeline (the input gradient, a 3×3 stride-1 convolution of dy with the flipped
  kernel, and the weight gradient share one transform of dy). A dilated 3×3 convolution is
  an undilated one on each polyphase component of its padded input (every d-th row and
  column: DeepLab's "space-to-batch" view of atrous convolution), so Winograd serves it too.
  Only from 32 channels and 128 tiles on (``winograd_pays``): below, im2col is faster.
* A stride-1 transposed convolution *is* a convolution with the flipped kernel (lesson 04):
  it runs as one (Winograd where 3×3), not as a thin GEMM plus col2im; conv2d's stride-1
  input gradient likewise, as im2col of dy and one GEMM with ``K = C_out·kH·kW``.
* Weight gradients take the tall GEMM order (``_gemm.weight_gradient``).
* im2col and col2im (a strided transposed convolution, conv2d's strided input gradient) are
  Numba kernels on NumPy arrays (``conv_kernels.py``: one pass per image plane, each row
  split into its stride phases once, every inner loop a contiguous copy or add; on the
  7×7 stride-2 stem of ``bench_conv.py`` col2im took 0.7 ms instead of the array code's
  3.3-4.5 ms). On CuPy, array code: im2col copies only the windows inside x, zeroing the
  border, instead of first copying x into a padded array (``_unfold_arrays``); col2im runs
  output phase by output phase (``_fold_arrays``: the sub-pixel view, each output written
  once, no zeroed padded canvas, no transposed copy).

Array code otherwise: NumPy or CuPy (on NumPy the Winograd transforms are Numba kernels).
"""

from __future__ import annotations

import sys
from typing import NamedTuple

from ...backend import fast_tier, get_array_module
from .._gemm import ConvCache, add_bias, from_gemm, to_gemm, weight_gradient
from ..shapes import conv_out
from . import winograd

__all__ = ["conv2d_forward", "conv2d_backward", "conv_transpose2d_forward",
           "conv_transpose2d_backward", "winograd_pays"]

_THIS = sys.modules[__name__]
_WINOGRAD = "minisegnet.functional._fast.winograd"
_KERNELS = "minisegnet.functional._fast.conv_kernels"


class _Columns(NamedTuple):
    """Saved by a direct (im2col) convolution: its columns (C_in·kH·kW, N·L)."""

    cols: object


class _Winograd(NamedTuple):
    """Saved by a Winograd convolution (of x, or of x's polyphase batch when dilated)."""

    saved: object      # winograd.Saved


class _AsConv(NamedTuple):
    """Saved by a transposed convolution run as a convolution: that convolution's cache."""

    conv: object


# ---------------------------------------------------------------- choosing the algorithm


def winograd_pays(c_in, c_out, tiles) -> bool:
    """Whether Winograd beats im2col + GEMM for these channels and this many 2×2 tiles.

    The transforms cost about ``16·(C_in + C_out)`` additions per tile, the saving is
    ``20·C_in·C_out`` multiply-adds, and each call has a fixed cost: measured (forward +
    backward, one thread), Winograd took 0.5-0.9× im2col's time from 32 channels and 128
    tiles up, about the same with 16 channels, and 1.8-2.6× with 16-32 tiles.
    """
    return min(c_in, c_out) >= 32 and tiles >= 128


def _winograd(xp, w, stride, x_shape, out_size, dilation):
    """The Winograd module when it applies (3×3, stride 1) and pays, else None."""
    if tuple(w.shape[2:]) != (3, 3) or tuple(stride) != (1, 1):
        return None
    tiles = x_shape[0] * ((out_size[0] + 1) // 2) * ((out_size[1] + 1) // 2)
    return fast_tier(xp, _WINOGRAD, worthwhile=winograd_pays(w.shape[1], w.shape[0], tiles))


def _flipped(w):
    """A transposed-conv weight (C_in, C_out, kH, kW) as the equivalent conv weight, or back:
    kernel flipped in both axes, the two channel axes swapped."""
    xp = get_array_module(w)
    return xp.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))


def _flipped_padding(kernel, padding, dilation, in_size, out_size):
    """Padding ``d(k-1) - p`` of the stride-1 convolution that equals a stride-1 transposed
    one, or None when it would be negative or its output size would not be ``out_size``."""
    pad = tuple(d * (k - 1) - p for k, p, d in zip(kernel, padding, dilation))
    if min(pad) < 0 or any(conv_out(in_size[a], kernel[a], 1, pad[a], dilation[a]) != out_size[a]
                           for a in (0, 1)):
        return None
    return pad


# ---------------------------------------------------------------- conv2d


def conv2d_forward(x, w, b, stride, padding, dilation, out_size):
    """``conv.conv2d_forward`` on checked arguments (pairs); returns ``(y, cache)``."""
    xp = get_array_module(x)
    winograd = _winograd(xp, w, stride, x.shape, out_size, dilation)
    if winograd is None:
        y_gemm, cols = _correlate(x, w, stride, padding, dilation, out_size)
        y, saved = add_bias(from_gemm(y_gemm, x.shape[0], out_size), b), _Columns(cols)
    else:
        y, saved = winograd.conv3x3_forward(x, w, b, padding, dilation, out_size)
        saved = _Winograd(saved)
    return y, ConvCache("conv2d", saved, w, b is not None, x.shape, y.shape, stride, padding,
                        dilation, _THIS)


def conv2d_backward(dy, cache):
    """``conv.conv2d_backward`` for a cache of ``conv2d_forward`` above."""
    db = dy.sum(axis=(0, 2, 3)) if cache.has_bias else None
    if isinstance(cache.saved, _Columns):
        dy_gemm = to_gemm(dy)
        dw = weight_gradient(dy_gemm, cache.saved.cols, cache.w.shape)
        return _conv_input_gradient(dy, dy_gemm, cache), dw, db
    return (*winograd.conv3x3_backward(dy, cache.w, cache.saved.saved), db)


def _correlate(x, w, stride, padding, dilation, out_size):
    """``y₂ = W₂ @ im2col(x)``: returns ``(y₂, cols)`` (the reference tier's core).

    x: (N, C, H, W)."""
    c_out, taps = w.shape[0], w[0].size
    cols = _unfold(x, w.shape[2:], stride, padding, dilation, out_size).reshape(taps, -1)
    return w.reshape(c_out, taps) @ cols, cols


def _scatter(x_gemm, w, n, in_size, out_size, stride, padding, dilation, b=None):
    """``y = col2im(W₂ᵀ x₂) (+ b)`` with w: (C_in, C_out, kH, kW) (the reference tier's core,
    its col2im done phase by phase: ``_fold``)."""
    product = w.reshape(w.shape[0], w[0].size).T @ x_gemm             # (C_out·kH·kW, N·H·W)
    product = product.reshape(w.shape[1:] + (n,) + tuple(in_size))
    return _fold(product, out_size, stride, padding, dilation, b)


def _valid(start, step, size, count):
    """``[first, stop)``: the positions ``p < count`` whose input index ``p·step + start``
    lies in ``[0, size)`` (an empty range as ``first == stop``)."""
    first = min(count, max(0, -(start // step)))
    stop = max(first, min(count, (size - start + step - 1) // step))
    return first, stop


def _unfold(x, kernel, stride, padding, dilation, out_size):
    """``conv_matrix.unfold_gemm`` of x: (N, C, H, W); returns cols (C, kH, kW, N, H_out, W_out).

    NumPy arrays go to the Numba kernel (``conv_kernels.unfold``), others to the array code."""
    xp = get_array_module(x)
    kernels = fast_tier(xp, _KERNELS, cpu_only=True)
    if kernels is not None:
        return kernels.unfold(xp.ascontiguousarray(x), kernel, stride, padding, dilation, out_size)
    return _unfold_arrays(x, kernel, stride, padding, dilation, out_size)


def _unfold_arrays(x, kernel, stride, padding, dilation, out_size):
    """``_unfold`` as array code, without ``unfold_gemm``'s padded copy of x: each kernel
    offset copies the window that lies inside x and zeroes only the border its padding
    would have filled."""
    xp = get_array_module(x)
    x_cnhw = x.transpose(1, 0, 2, 3)
    c, n, h, w = x_cnhw.shape
    cols = xp.empty((c, *kernel, n, *out_size), dtype=x_cnhw.dtype)
    for i in range(kernel[0]):
        row0 = i * dilation[0] - padding[0]
        p0, p1 = _valid(row0, stride[0], h, out_size[0])
        for j in range(kernel[1]):
            col0 = j * dilation[1] - padding[1]
            q0, q1 = _valid(col0, stride[1], w, out_size[1])
            patch = cols[:, i, j]
            if (p0, p1, q0, q1) != (0, out_size[0], 0, out_size[1]):
                patch[:, :, :p0] = patch[:, :, p1:] = 0
                patch[:, :, p0:p1, :q0] = patch[:, :, p0:p1, q1:] = 0
            if p1 > p0 and q1 > q0:
                patch[:, :, p0:p1, q0:q1] = x_cnhw[:, :, row0 + p0 * stride[0]:
                                                   row0 + (p1 - 1) * stride[0] + 1:stride[0],
                                                   col0 + q0 * stride[1]:
                                                   col0 + (q1 - 1) * stride[1] + 1:stride[1]]
    return cols


def _phase_taps(kernel, stride, padding, dilation, in_size, out_size):
    """Per output phase ``r < stride`` along one axis, the kernel taps that reach it.

    Output ``o = r + stride·m`` receives tap ``i`` from input ``m + offset`` when
    ``r + padding - dilation·i = stride·offset``. Returns ``[(r, count, taps)]`` with
    ``count`` outputs in phase ``r`` and ``taps = [(i, offset, m0, m1)]`` (``m`` in
    ``[m0, m1)`` has its input inside), the taps that cover the whole phase first.
    """
    phases = []
    for r in range(min(stride, out_size)):
        count = (out_size - r + stride - 1) // stride
        taps = []
        for i in range(kernel):
            shift = r + padding - dilation * i
            if shift % stride == 0:
                m0, m1 = _valid(shift // stride, 1, in_size, count)
                if m1 > m0:
                    taps.append((i, shift // stride, m0, m1))
        taps.sort(key=lambda tap: tap[3] - tap[2], reverse=True)
        phases.append((r, count, taps))
    return phases


def _fold(product, out_size, stride, padding, dilation, b):
    """``conv_matrix.fold_gemm`` (+ b) of product: (C_out, kH, kW, N, H, W); returns y
    (N, C_out, H_out, W_out). NumPy arrays go to the Numba kernel (``conv_kernels.fold``),
    others to the array code."""
    xp = get_array_module(product)
    kernels = fast_tier(xp, _KERNELS, cpu_only=True)
    if kernels is not None:
        return kernels.fold(xp.ascontiguousarray(product), out_size, stride, padding, dilation, b)
    return _fold_arrays(product, out_size, stride, padding, dilation, b)


def _fold_arrays(product, out_size, stride, padding, dilation, b):
    """``_fold`` as array code, written output phase by output phase.

    A transposed convolution's output ``(r + s_h·m, t + s_w·l)`` gathers the taps of phase
    ``(r, t)`` only, each from an unstrided shifted window of ``product``: the sub-pixel
    view of a strided transposed convolution. Every output is written once, straight into
    y (no zeroed padded canvas, no transposed copy at the end).
    """
    xp = get_array_module(product)
    c, kh, kw, n, h, w = product.shape
    y = xp.empty((n, c, *out_size), dtype=product.dtype)
    y_cn = y.transpose(1, 0, 2, 3)
    rows = _phase_taps(kh, stride[0], padding[0], dilation[0], h, out_size[0])
    cols = _phase_taps(kw, stride[1], padding[1], dilation[1], w, out_size[1])
    for r, rows_count, row_taps in rows:
        for t, cols_count, col_taps in cols:
            phase = y_cn[:, :, r::stride[0], t::stride[1]]
            pairs = [(row, col) for row in row_taps for col in col_taps]
            full = bool(pairs) and pairs[0][0][2:] == (0, rows_count) \
                and pairs[0][1][2:] == (0, cols_count)
            if not full:
                phase[...] = 0
            for k, ((i, di, m0, m1), (j, dj, l0, l1)) in enumerate(pairs):
                window = product[:, i, j, :, m0 + di:m1 + di, l0 + dj:l1 + dj]
                if k == 0 and full:
                    phase[...] = window
                else:
                    phase[:, :, m0:m1, l0:l1] += window
    # The bias last, on contiguous y: adding it in the strided first write was slower.
    return add_bias(y, b)


def _conv_input_gradient(dy, dy_gemm, cache):
    """``dx = Cᵀ dy``: with stride 1 a convolution of dy with the flipped kernel (one GEMM with
    ``K = C_out·kH·kW`` after im2col), else a GEMM and col2im."""
    kernel, in_size = cache.w.shape[2:], cache.x_shape[2:]
    pad = None
    if cache.stride == (1, 1):
        pad = _flipped_padding(kernel, cache.padding, cache.dilation, dy.shape[2:], in_size)
    if pad is None:
        return _scatter(dy_gemm, cache.w, dy.shape[0], dy.shape[2:], in_size, cache.stride,
                        cache.padding, cache.dilation)
    dx_gemm, _ = _correlate(dy, _flipped(cache.w), (1, 1), pad,
                            cache.dilation, in_size)
    return from_gemm(dx_gemm, dy.shape[0], in_size)


# ---------------------------------------------------------------- conv_transpose2d


def conv_transpose2d_forward(x, w, b, stride, padding, dilation, out_size):
    """``conv.conv_transpose2d_forward`` on checked arguments; returns ``(y, cache)``."""
    pad = None
    if stride == (1, 1):
        pad = _flipped_padding(w.shape[2:], padding, dilation, x.shape[2:], out_size)
    if pad is not None:     # a convolution with the flipped kernel (Winograd if 3×3)
        y, conv_cache = conv2d_forward(x, _flipped(w), b, stride, pad, dilation, out_size)
        saved = _AsConv(conv_cache)
    else:
        saved = to_gemm(x)
        y = _scatter(saved, w, x.shape[0], x.shape[2:], out_size, stride, padding, dilation, b)
    return y, ConvCache("conv_transpose2d", saved, w, b is not None, x.shape, y.shape, stride,
                        padding, dilation, _THIS)


def conv_transpose2d_backward(dy, cache):
    """``conv.conv_transpose2d_backward`` for a cache of ``conv_transpose2d_forward`` above."""
    if isinstance(cache.saved, _AsConv):
        dx, dw_conv, db = conv2d_backward(dy, cache.saved.conv)
        return dx, _flipped(dw_conv), db
    in_size = cache.x_shape[2:]
    dx_gemm, dy_cols = _correlate(dy, cache.w, cache.stride, cache.padding,
                                  cache.dilation, in_size)
    db = dy.sum(axis=(0, 2, 3)) if cache.has_bias else None
    return (from_gemm(dx_gemm, cache.x_shape[0], in_size),
            weight_gradient(cache.saved, dy_cols, cache.w.shape), db)
