"""Numba kernels for im2col and col2im (``_unfold`` and ``_fold`` of ``conv.py`` here), on NumPy arrays.

Same results as the array code in ``conv.py`` (which runs on CuPy arrays, and against which
these are tested), in one pass over each image plane instead of one strided array operation
per kernel tap: on the strided cases of ``bench_conv.py`` those took as long as a GEMM.
Every inner loop here is a contiguous copy or add:

* a stride ``s`` along the rows is undone once per row, by splitting the padded row into its
  ``s`` phases (``phases[r, m] = row_pad[m·s + r]``); kernel column ``j`` then reads, or
  writes, ``phases[(j·d) mod s, m + (j·d) div s]`` for consecutive ``m``. Strides 1 and 2
  have their own split loops: with the stride known when compiling, LLVM vectorises the
  (de)interleaving (3× faster than with a stride read at run time).

One thread: both kernels only move memory, and on the 2-core development machine two
threads streaming memory at once ran no faster than one (often slower), unlike GEMMs.

Imports ``numba`` at its top: ``backend.fast_tier(..., cpu_only=True)`` imports this module
on first use only.
"""

from __future__ import annotations

import numba
import numpy as np

from ._flat import add, copy, fill, u

__all__ = ["unfold", "fold"]


def unfold(x, kernel, stride, padding, dilation, out_size):
    """im2col: ``cols[c, i, j, n, p, q] = x_pad[n, c, p·s_h + i·d_h, q·s_w + j·d_w]``.

    x: (N, C, H, W), NumPy, C-contiguous; returns cols (C, kH, kW, N, H_out, W_out).
    """
    n, c = x.shape[:2]
    cols = np.empty((c, *kernel, n, *out_size), dtype=x.dtype)
    _unfold_planes(x, *kernel, *stride, *padding, *dilation, cols)
    return cols


def fold(product, out_size, stride, padding, dilation, b):
    """col2im (+ b): ``y[n, o, p, q] = b[o] + Σ product[o, i, j, n, u, v]`` over the taps with
    ``p = u·s_h - p_h + i·d_h`` and ``q = v·s_w - p_w + j·d_w``.

    product: (C_out, kH, kW, N, H, W), NumPy, C-contiguous; returns y (N, C_out, H_out, W_out).
    """
    c, _, _, n = product.shape[:4]
    y = np.empty((n, c, *out_size), dtype=product.dtype)
    bias = np.zeros(c, dtype=y.dtype) if b is None else np.ascontiguousarray(b, dtype=y.dtype)
    _fold_planes(product, *stride, *padding, *dilation, bias, y)
    return y


# The inner loops index flat arrays with unsigned integers (``_flat.py`` says why).


@numba.njit(cache=True, nogil=True)
def _split(line, stride, phases, at, size):
    """``phases[at + r·size + m] = line[m·stride + r]`` for ``r < stride``, ``m < size``."""
    if stride == 1:
        copy(phases, at, line, 0, size, 1)
    elif stride == 2:
        for m in range(size):
            phases[u(at + m)] = line[u(2 * m)]
            phases[u(at + size + m)] = line[u(2 * m + 1)]
    else:
        for r in range(stride):
            copy(phases, at + r * size, line, r, size, stride)


@numba.njit(cache=True, nogil=True)
def _merge(phases, stride, size, pad, bias, y, at, count):
    """``y[at + q] = phases[r·size + m] + bias`` for the padded column ``q + pad = m·stride + r``,
    ``q < count``: ``_split``'s inverse, cropped and biased."""
    if stride == 2:   # q = 2k reads phase pad % 2, q = 2k + 1 the other, one column later if odd
        even, odd = (pad % 2) * size + pad // 2, (1 - pad % 2) * size + pad // 2 + pad % 2
        for k in range(count // 2):
            y[u(at + 2 * k)] = phases[u(even + k)] + bias
            y[u(at + 2 * k + 1)] = phases[u(odd + k)] + bias
        if count % 2:
            y[u(at + count - 1)] = phases[u(even + count // 2)] + bias
    else:
        for q in range(count):
            column = q + pad
            y[u(at + q)] = phases[u((column % stride) * size + column // stride)] + bias


@numba.njit(cache=True, nogil=True)
def _unfold_planes(x, kh, kw, sh, sw, ph, pw, dh, dw, cols):
    """``unfold``, plane by plane: the plane's rows are split into phases once (``rows``),
    then copied out window row by window row."""
    n_images, channels, h, w = x.shape
    ho, wo = cols.shape[4], cols.shape[5]
    size = wo + ((kw - 1) * dw) // sw + 1       # phase length: every column a tap reads
    line = np.zeros(sw * size, dtype=x.dtype)   # a padded row (as far as the taps read)
    inside = max(0, min(w, sw * size - pw))     # how much of a row lands in it
    rows = np.empty(h * sw * size, dtype=x.dtype)
    flat_x, flat_cols = x.reshape(-1), cols.reshape(-1)
    step = n_images * ho * wo                    # from cols[c, i, j] to cols[c, i, j + 1]
    for channel in range(channels):
        for image in range(n_images):
            start = (image * channels + channel) * h * w
            for row in range(h):
                copy(line, pw, flat_x, start + row * w, inside, 1)
                _split(line, sw, rows, row * sw * size, size)
            for i in range(kh):
                for p in range(ho):
                    row = p * sh - ph + i * dh
                    out = (((channel * kh + i) * kw * n_images + image) * ho + p) * wo  # j = 0
                    for j in range(kw):
                        if row < 0 or row >= h:
                            fill(flat_cols, out + j * step, wo, 0)
                        else:
                            copy(flat_cols, out + j * step, rows,
                                  (row * sw + (j * dw) % sw) * size + (j * dw) // sw, wo, 1)


@numba.njit(cache=True, nogil=True)
def _fold_planes(product, sh, sw, ph, pw, dh, dw, bias, y):
    """``fold``, row by row of each plane: the taps that reach the row are added into it,
    split into phases, then merged into y."""
    channels, kh, kw, n_images, h, w = product.shape
    ho, wo = y.shape[2], y.shape[3]
    # phases[r·size + m]: padded output column m·sw + r; wide enough for every tap and output.
    size = max(w + ((kw - 1) * dw) // sw, (wo + pw + sw - 1) // sw) + 1
    phases = np.empty(sw * size, dtype=y.dtype)
    flat_product, flat_y = product.reshape(-1), y.reshape(-1)
    for channel in range(channels):
        for image in range(n_images):
            for p in range(ho):
                fill(phases, 0, sw * size, 0)
                for i in range(kh):
                    t = p + ph - i * dh          # = u·sh for the input row u that reaches p
                    if t < 0 or t % sh != 0 or t // sh >= h:
                        continue
                    for j in range(kw):
                        add(phases, ((j * dw) % sw) * size + (j * dw) // sw, flat_product,
                             ((((channel * kh + i) * kw + j) * n_images + image) * h + t // sh) * w,
                             w)
                _merge(phases, sw, size, pw, bias[channel], flat_y,
                       ((image * channels + channel) * ho + p) * wo, wo)
