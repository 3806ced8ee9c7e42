"""Numba kernels for the three tile transforms of Winograd's F(2×2, 3×3), on NumPy arrays.

Each kernel fuses what ``winograd.py``'s array code does in several passes (polyphase copy,
row transform, column transform; output transform and tile layout) into one pass per image
plane, split over threads. Same signatures and results as the twins in ``winograd.py``,
which run on CuPy arrays and against which these are tested. This module imports
``numba`` at its top: ``backend.fast_tier(..., cpu_only=True)`` imports it on first use.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["input_transform", "output_transform", "output_transform_adjoint"]


def input_transform(x, padding, tiles, v):
    """``v[4k + l, c, tile] = (Bᵀ d B)[k, l]``: see ``winograd.input_transform``."""
    _input_tiles(x, padding[0], padding[1], tiles.th, tiles.tw, v)


def output_transform(m, tiles, b, y):
    """``y = Aᵀ M A (+ b)``: see ``winograd.output_transform``."""
    bias = np.zeros(m.shape[1], dtype=m.dtype) if b is None else b
    _output_tiles(m, tiles.th, tiles.tw, bias, y)


def output_transform_adjoint(dy, tiles, dm):
    """``dM = A dY Aᵀ``: see ``winograd.output_transform_adjoint``."""
    _output_tiles_adjoint(dy, tiles.th, tiles.tw, dm)


@numba.njit(cache=True, parallel=True)
def _input_tiles(x, pad_h, pad_w, th, tw, v):
    n, c, h, w = x.shape
    for plane in numba.prange(n * c):
        image, channel = plane // c, plane % c
        # The padded plane's polyphase components q[a, b, u, s] = x_pad[2u + a, 2s + b].
        q = np.zeros((2, 2, th + 1, tw + 1), dtype=x.dtype)
        for i in range(h):
            row = i + pad_h
            if row >= 2 * th + 2:
                break
            for b in range(2):
                first = max(0, (pad_w - b + 1) // 2)
                last = min(tw + 1, (w + pad_w - b + 1) // 2)
                for s in range(first, last):
                    q[row % 2, b, row // 2, s] = x[image, channel, i, 2 * s + b - pad_w]
        rows = np.empty((4, 2, tw + 1), dtype=x.dtype)
        for t in range(th):
            for b in range(2):           # Bᵀ down the columns: taps (0,t), (1,t), (0,t+1), (1,t+1)
                for s in range(tw + 1):
                    d0, d1 = q[0, b, t, s], q[1, b, t, s]
                    d2, d3 = q[0, b, t + 1, s], q[1, b, t + 1, s]
                    rows[0, b, s] = d0 - d2
                    rows[1, b, s] = d1 + d2
                    rows[2, b, s] = d2 - d1
                    rows[3, b, s] = d1 - d3
            base = (image * th + t) * (tw + 1)
            for k in range(4):           # Bᵀ along the rows: taps (0,s), (1,s), (0,s+1), (1,s+1)
                for s in range(tw):
                    e0, e1 = rows[k, 0, s], rows[k, 1, s]
                    e2, e3 = rows[k, 0, s + 1], rows[k, 1, s + 1]
                    v[4 * k, channel, base + s] = e0 - e2
                    v[4 * k + 1, channel, base + s] = e1 + e2
                    v[4 * k + 2, channel, base + s] = e2 - e1
                    v[4 * k + 3, channel, base + s] = e1 - e3
                for col in range(4):
                    v[4 * k + col, channel, base + tw] = 0


@numba.njit(cache=True, parallel=True)
def _output_tiles(m, th, tw, bias, y):
    n, c_out, ho, wo = y.shape
    for plane in numba.prange(n * c_out):
        image, o = plane // c_out, plane % c_out
        beta = bias[o]
        for t in range(th):
            base = (image * th + t) * (tw + 1)
            for s in range(tw):
                i = base + s
                r00 = m[0, o, i] + m[4, o, i] + m[8, o, i]
                r01 = m[1, o, i] + m[5, o, i] + m[9, o, i]
                r02 = m[2, o, i] + m[6, o, i] + m[10, o, i]
                r03 = m[3, o, i] + m[7, o, i] + m[11, o, i]
                r10 = m[4, o, i] - m[8, o, i] - m[12, o, i]
                r11 = m[5, o, i] - m[9, o, i] - m[13, o, i]
                r12 = m[6, o, i] - m[10, o, i] - m[14, o, i]
                r13 = m[7, o, i] - m[11, o, i] - m[15, o, i]
                p, q = 2 * t, 2 * s
                y[image, o, p, q] = r00 + r01 + r02 + beta
                if q + 1 < wo:
                    y[image, o, p, q + 1] = r01 - r02 - r03 + beta
                if p + 1 < ho:
                    y[image, o, p + 1, q] = r10 + r11 + r12 + beta
                    if q + 1 < wo:
                        y[image, o, p + 1, q + 1] = r11 - r12 - r13 + beta


@numba.njit(cache=True, parallel=True)
def _output_tiles_adjoint(dy, th, tw, dm):
    n, c_out, ho, wo = dy.shape
    zero = dy.dtype.type(0)
    for plane in numba.prange(n * c_out):
        image, o = plane // c_out, plane % c_out
        for t in range(th):
            base = (image * th + t) * (tw + 1)
            p = 2 * t
            for s in range(tw):
                q = 2 * s
                g00 = dy[image, o, p, q]
                g01 = dy[image, o, p, q + 1] if q + 1 < wo else zero
                g10 = dy[image, o, p + 1, q] if p + 1 < ho else zero
                g11 = dy[image, o, p + 1, q + 1] if p + 1 < ho and q + 1 < wo else zero
                # e[a, l] = (dY Aᵀ)[a, l], then dM[k, l] = (A e)[k, l].
                e00, e01, e02, e03 = g00, g00 + g01, g00 - g01, -g01
                e10, e11, e12, e13 = g10, g10 + g11, g10 - g11, -g11
                i = base + s
                dm[0, o, i], dm[1, o, i], dm[2, o, i], dm[3, o, i] = e00, e01, e02, e03
                dm[4, o, i], dm[5, o, i] = e00 + e10, e01 + e11
                dm[6, o, i], dm[7, o, i] = e02 + e12, e03 + e13
                dm[8, o, i], dm[9, o, i] = e00 - e10, e01 - e11
                dm[10, o, i], dm[11, o, i] = e02 - e12, e03 - e13
                dm[12, o, i], dm[13, o, i], dm[14, o, i], dm[15, o, i] = -e10, -e11, -e12, -e13
            for k in range(16):
                dm[k, o, base + tw] = zero
