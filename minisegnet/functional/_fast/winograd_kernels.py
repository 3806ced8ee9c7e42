"""Numba kernels for the tile transforms of Winograd's F(2×2, 3×3), on NumPy arrays.

Each kernel fuses what ``winograd.py``'s array code does in several passes (polyphase split,
row transform, column transform; output transform and tile layout) into one pass over each
image plane. Same signatures and results as the array code
(the twins in ``winograd.py``, which run on CuPy arrays and against which these are tested),
but their own tile layout: no junk column, and a dilated convolution's polyphase
components are read in place (no space-to-batch copies), each with its own tile grid.

Tile layout. Along each axis, output phase ``α`` (the outputs ``α, α + d, α + 2d, ...``) has
``u_α = ceil((H_out - α) / d)`` outputs and ``ceil(u_α / 2)`` tiles; an image's tile grid
is ``T_h × T_w`` with ``T_h = Σ_α ceil(u_α / 2)``, the phases one after another. Tile
``(t, s)`` of phase ``(α, β)`` gives outputs ``(α + d_h(2t + a), β + d_w(2s + b))`` for
``a, b ∈ {0, 1}`` and reads the padded input at ``(α + d_h(2t + i), β + d_w(2s + j))``,
``i, j ∈ 0..3``. V, M, dM and dV arrive as C-contiguous (16, ≥ C·count) arrays, matrix ``k``
of channel ``c`` starting at ``[k, c·count]``.

Threads: the kernels are serial and release the GIL; ``winograd.py`` runs chunks of images
on worker threads. Not Numba's ``parallel=True``: the GEMMs between the transforms run on
BLAS's threads, and Numba's OpenMP thread team spinning next to them on the same cores cost
more than it saved (case 1 of ``bench_conv.py`` on 2 threads of a busy 2-core machine: 10 s
instead of 0.25 s).

This module imports ``numba`` at its top: ``backend.fast_tier(..., cpu_only=True)`` imports
it on first use. Every kernel moves an image row through a contiguous scratch
``line`` and reads or writes the strided phases there: indexing the 4-D arrays with
computed offsets directly kept the loops from vectorising (2-4× slower).
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

__all__ = ["Tiles", "tiles_for", "input_transform", "input_transform_adjoint", "output_transform",
           "output_transform_adjoint"]


class Tiles(NamedTuple):
    """The tile grid of one chunk of ``n`` images (see the module docstring)."""

    n: int
    out_size: tuple
    dilation: tuple
    th: int            # T_h: tile rows of all row phases
    tw: int            # T_w
    count: int         # n·T_h·T_w: columns of V and M


def tiles_for(n, out_size, dilation=(1, 1)) -> Tiles:
    """The tile grid of ``n`` images with output ``out_size`` and this dilation."""
    th = sum(_axis_tiles(out_size[0], dilation[0], a) for a in range(dilation[0]))
    tw = sum(_axis_tiles(out_size[1], dilation[1], b) for b in range(dilation[1]))
    return Tiles(n, tuple(out_size), tuple(dilation), th, tw, n * th * tw)


def input_transform(x, padding, tiles, v):
    """``V[4k + l, c, tile] = (Bᵀ d B)[k, l]``: see ``winograd.input_transform``."""
    (ho, wo), (dh, dw) = tiles.out_size, tiles.dilation
    _input_tiles(x, padding[0], padding[1], ho, wo, dh, dw, tiles.th, tiles.tw, tiles.count, v)


def input_transform_adjoint(dv, tiles, dx, padding):
    """``dx = Σ_tiles B dV Bᵀ`` (overlaps add): see ``winograd.input_transform_adjoint``."""
    (ho, wo), (dh, dw) = tiles.out_size, tiles.dilation
    _input_tiles_adjoint(dv, padding[0], padding[1], ho, wo, dh, dw, tiles.th, tiles.tw,
                         tiles.count, dx)


def output_transform(m, tiles, b, y):
    """``y = Aᵀ M A (+ b)``: see ``winograd.output_transform``."""
    bias = np.zeros(y.shape[1], dtype=y.dtype) if b is None else b
    dh, dw = tiles.dilation
    _output_tiles(m, dh, dw, tiles.th, tiles.tw, tiles.count, bias, y)


def output_transform_adjoint(dy, tiles, dm):
    """``dM = A dY Aᵀ``: see ``winograd.output_transform_adjoint``."""
    dh, dw = tiles.dilation
    _output_tiles_adjoint(dy, dh, dw, tiles.th, tiles.tw, tiles.count, dm)


@numba.njit(cache=True)
def _axis_tiles(size, d, phase):
    """Tiles along one axis for output phase ``phase``: ``ceil(ceil((size - phase) / d) / 2)``."""
    outputs = (size - phase + d - 1) // d
    return (outputs + 1) // 2


@numba.njit(cache=True)
def _inside(d, phase, pad, size, count):
    """``[first, stop)``: the phase positions ``v < count`` whose input index
    ``phase + d·v - pad`` lies in ``[0, size)``."""
    first = max(0, (pad - phase + d - 1) // d)
    stop = min(count, (size + pad - phase + d - 1) // d)
    return first, max(first, stop)


@numba.njit(cache=True, nogil=True)
def _input_tiles(x, pad_h, pad_w, ho, wo, dh, dw, th_total, tw_total, count, v):
    n, c, h, w = x.shape
    th_max, tw_max = _axis_tiles(ho, dh, 0), _axis_tiles(wo, dw, 0)
    for plane in range(n * c):
        image, channel = plane // c, plane % c
        source = x[image, channel]
        q = np.empty((2, 2, th_max + 1, tw_max + 1), dtype=x.dtype)   # q[a, b, u, s]: phase
        line = np.empty(2 * tw_max + 2, dtype=x.dtype)                 # row 2u + a, column 2s + b
        rows = np.empty((4, 2, tw_max + 1), dtype=x.dtype)
        row_offset = 0
        for alpha in range(dh):
            th = _axis_tiles(ho, dh, alpha)
            col_offset = 0
            for beta in range(dw):
                tw = _axis_tiles(wo, dw, beta)
                first, stop = _inside(dw, beta, pad_w, w, 2 * tw + 2)
                line[:] = 0
                for uu in range(2 * th + 2):         # the phase's padded rows, polyphase-split
                    i = alpha + dh * uu - pad_h
                    if 0 <= i < h:
                        for vv in range(first, stop):
                            line[vv] = source[i, beta + dw * vv - pad_w]
                        for s in range(tw + 1):
                            q[uu % 2, 0, uu // 2, s] = line[2 * s]
                            q[uu % 2, 1, uu // 2, s] = line[2 * s + 1]
                    else:
                        for s in range(tw + 1):
                            q[uu % 2, 0, uu // 2, s] = 0
                            q[uu % 2, 1, uu // 2, s] = 0
                for t in range(th):
                    for b in range(2):   # Bᵀ down the columns: taps (0,t), (1,t), (0,t+1), (1,t+1)
                        for s in range(tw + 1):
                            d0, d1 = q[0, b, t, s], q[1, b, t, s]
                            d2, d3 = q[0, b, t + 1, s], q[1, b, t + 1, s]
                            rows[0, b, s] = d0 - d2
                            rows[1, b, s] = d1 + d2
                            rows[2, b, s] = d2 - d1
                            rows[3, b, s] = d1 - d3
                    base = channel * count + (image * th_total + row_offset + t) * tw_total + col_offset
                    for k in range(4):   # Bᵀ along the rows: taps (0,s), (1,s), (0,s+1), (1,s+1)
                        out0, out1, out2, out3 = v[4 * k], v[4 * k + 1], v[4 * k + 2], v[4 * k + 3]
                        for s in range(tw):
                            e0, e1 = rows[k, 0, s], rows[k, 1, s]
                            e2, e3 = rows[k, 0, s + 1], rows[k, 1, s + 1]
                            out0[base + s] = e0 - e2
                            out1[base + s] = e1 + e2
                            out2[base + s] = e2 - e1
                            out3[base + s] = e1 - e3
                col_offset += tw
            row_offset += th


@numba.njit(cache=True, nogil=True)
def _input_tiles_adjoint(dv, pad_h, pad_w, ho, wo, dh, dw, th_total, tw_total, count, dx):
    n, c, h, w = dx.shape
    th_max, tw_max = _axis_tiles(ho, dh, 0), _axis_tiles(wo, dw, 0)
    for plane in range(n * c):
        image, channel = plane // c, plane % c
        target = dx[image, channel]
        target[:] = 0                                # pixels that no tile reads
        dq = np.empty((2, 2, th_max + 1, tw_max + 1), dtype=dx.dtype)  # gradient of the phases
        into = np.empty((4, 2, tw_max + 1), dtype=dx.dtype)    # B along a tile row: tile s adds
        spill = np.empty((4, 2, tw_max + 1), dtype=dx.dtype)   # into phase columns s and s + 1
        line = np.empty(2 * tw_max + 2, dtype=dx.dtype)
        row_offset = 0
        for alpha in range(dh):
            th = _axis_tiles(ho, dh, alpha)
            col_offset = 0
            for beta in range(dw):
                tw = _axis_tiles(wo, dw, beta)
                dq[:, :, 0, :] = 0
                for t in range(th):
                    base = channel * count + (image * th_total + row_offset + t) * tw_total + col_offset
                    for k in range(4):
                        in0, in1, in2, in3 = dv[4 * k], dv[4 * k + 1], dv[4 * k + 2], dv[4 * k + 3]
                        for s in range(tw):
                            d0, d1, d2, d3 = in0[base + s], in1[base + s], in2[base + s], in3[base + s]
                            into[k, 0, s] = d0
                            into[k, 1, s] = d1 - d2 + d3
                            spill[k, 0, s + 1] = d1 + d2 - d0
                            spill[k, 1, s + 1] = -d3
                        into[k, 0, tw] = into[k, 1, tw] = spill[k, 0, 0] = spill[k, 1, 0] = 0
                    for b in range(2):   # B down the columns: tile row t adds into rows t, t + 1
                        for s in range(tw + 1):
                            e0 = into[0, b, s] + spill[0, b, s]
                            e1 = into[1, b, s] + spill[1, b, s]
                            e2 = into[2, b, s] + spill[2, b, s]
                            e3 = into[3, b, s] + spill[3, b, s]
                            dq[0, b, t, s] += e0
                            dq[1, b, t, s] += e1 - e2 + e3
                            dq[0, b, t + 1, s] = e1 + e2 - e0     # row t + 1 is fresh here
                            dq[1, b, t + 1, s] = -e3
                first, stop = _inside(dw, beta, pad_w, w, 2 * tw + 2)
                for uu in range(2 * th + 2 if th > 0 else 0):   # back onto the input
                    i = alpha + dh * uu - pad_h
                    if 0 <= i < h:
                        for s in range(tw + 1):
                            line[2 * s] = dq[uu % 2, 0, uu // 2, s]
                            line[2 * s + 1] = dq[uu % 2, 1, uu // 2, s]
                        for vv in range(first, stop):
                            target[i, beta + dw * vv - pad_w] = line[vv]
                col_offset += tw
            row_offset += th


@numba.njit(cache=True, nogil=True)
def _output_tiles(m, dh, dw, th_total, tw_total, count, bias, y):
    n, c_out, ho, wo = y.shape
    tw_max = _axis_tiles(wo, dw, 0)
    for plane in range(n * c_out):
        image, o = plane // c_out, plane % c_out
        beta_o = bias[o]
        target = y[image, o]
        lines = np.empty((2, 2 * tw_max), dtype=y.dtype)     # phase rows 2t and 2t + 1
        row_offset = 0
        for alpha in range(dh):
            th = _axis_tiles(ho, dh, alpha)
            col_offset = 0
            for beta in range(dw):
                tw = _axis_tiles(wo, dw, beta)
                outputs = (wo - beta + dw - 1) // dw
                for t in range(th):
                    base = o * count + (image * th_total + row_offset + t) * tw_total + col_offset
                    for s in range(tw):
                        i = base + s
                        r00 = m[0, i] + m[4, i] + m[8, i]
                        r01 = m[1, i] + m[5, i] + m[9, i]
                        r02 = m[2, i] + m[6, i] + m[10, i]
                        r03 = m[3, i] + m[7, i] + m[11, i]
                        r10 = m[4, i] - m[8, i] - m[12, i]
                        r11 = m[5, i] - m[9, i] - m[13, i]
                        r12 = m[6, i] - m[10, i] - m[14, i]
                        r13 = m[7, i] - m[11, i] - m[15, i]
                        lines[0, 2 * s] = r00 + r01 + r02 + beta_o
                        lines[0, 2 * s + 1] = r01 - r02 - r03 + beta_o
                        lines[1, 2 * s] = r10 + r11 + r12 + beta_o
                        lines[1, 2 * s + 1] = r11 - r12 - r13 + beta_o
                    for a in range(2):
                        row = alpha + dh * (2 * t + a)
                        if row < ho:
                            for vv in range(outputs):
                                target[row, beta + dw * vv] = lines[a, vv]
                col_offset += tw
            row_offset += th


@numba.njit(cache=True, nogil=True)
def _output_tiles_adjoint(dy, dh, dw, th_total, tw_total, count, dm):
    n, c_out, ho, wo = dy.shape
    tw_max = _axis_tiles(wo, dw, 0)
    for plane in range(n * c_out):
        image, o = plane // c_out, plane % c_out
        source = dy[image, o]
        lines = np.empty((2, 2 * tw_max), dtype=dy.dtype)    # dy phase rows 2t, 2t + 1; 0 past the edge
        row_offset = 0
        for alpha in range(dh):
            th = _axis_tiles(ho, dh, alpha)
            col_offset = 0
            for beta in range(dw):
                tw = _axis_tiles(wo, dw, beta)
                outputs = (wo - beta + dw - 1) // dw
                for t in range(th):
                    for a in range(2):
                        row = alpha + dh * (2 * t + a)
                        lines[a, :] = 0
                        if row < ho:
                            for vv in range(outputs):
                                lines[a, vv] = source[row, beta + dw * vv]
                    base = o * count + (image * th_total + row_offset + t) * tw_total + col_offset
                    for s in range(tw):
                        g00, g01 = lines[0, 2 * s], lines[0, 2 * s + 1]
                        g10, g11 = lines[1, 2 * s], lines[1, 2 * s + 1]
                        # e = dY Aᵀ row by row, then dM = A e.
                        e01, e02, e11, e12 = g00 + g01, g00 - g01, g10 + g11, g10 - g11
                        i = base + s
                        dm[0, i] = g00
                        dm[1, i] = e01
                        dm[2, i] = e02
                        dm[3, i] = -g01
                        dm[4, i] = g00 + g10
                        dm[5, i] = e01 + e11
                        dm[6, i] = e02 + e12
                        dm[7, i] = -g01 - g11
                        dm[8, i] = g00 - g10
                        dm[9, i] = e01 - e11
                        dm[10, i] = e02 - e12
                        dm[11, i] = g11 - g01
                        dm[12, i] = -g10
                        dm[13, i] = -e11
                        dm[14, i] = -e12
                        dm[15, i] = g11
                col_offset += tw
            row_offset += th
