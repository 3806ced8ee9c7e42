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
computed offsets directly kept the loops from vectorising (2-4× slower). For the same
reason every array is indexed flat, with unsigned indices (``_flat.u``: a signed index gets
Numba's negative-index wrap-around test, which also kept loops from vectorising).
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from ._flat import fill, u

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
    """``V[4k + l, c, tile] = (Bᵀ d B)[k, l]``: see ``winograd.input_transform``. x may have
    any layout (the kernel reads it flat, so a strided view is copied first)."""
    (ho, wo), (dh, dw) = tiles.out_size, tiles.dilation
    _input_tiles(np.ascontiguousarray(x), padding[0], padding[1], ho, wo, dh, dw, tiles.th,
                 tiles.tw, tiles.count, v)


def input_transform_adjoint(dv, tiles, dx, padding):
    """``dx = Σ_tiles B dV Bᵀ`` (overlaps add): see ``winograd.input_transform_adjoint``.
    dx: C-contiguous, written in place."""
    (ho, wo), (dh, dw) = tiles.out_size, tiles.dilation
    _input_tiles_adjoint(dv, padding[0], padding[1], ho, wo, dh, dw, tiles.th, tiles.tw,
                         tiles.count, dx)


def output_transform(m, tiles, b, y):
    """``y = Aᵀ M A (+ b)``: see ``winograd.output_transform``. y: C-contiguous, written in
    place."""
    bias = np.zeros(y.shape[1], dtype=y.dtype) if b is None else b
    dh, dw = tiles.dilation
    _output_tiles(m, dh, dw, tiles.th, tiles.tw, tiles.count, bias, y)


def output_transform_adjoint(dy, tiles, dm):
    """``dM = A dY Aᵀ``: see ``winograd.output_transform_adjoint``. dy may have any layout
    (copied first when strided)."""
    dh, dw = tiles.dilation
    _output_tiles_adjoint(np.ascontiguousarray(dy), dh, dw, tiles.th, tiles.tw, tiles.count, dm)


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
    width = tw_max + 1                                # phase columns
    phase = (th_max + 1) * width
    q = np.empty(4 * phase, dtype=x.dtype)            # q[a, b, u, s]: row 2u + a, column 2s + b
    line = np.empty(2 * width, dtype=x.dtype)
    rows = np.empty(8 * width, dtype=x.dtype)         # rows[k, b, s]
    flat_x, flat_v, k_step = x.reshape(-1), v.reshape(-1), v.shape[1]
    for plane in range(n * c):
        image, channel = plane // c, plane % c
        source = (image * c + channel) * h * w
        row_offset = 0
        for alpha in range(dh):
            th = _axis_tiles(ho, dh, alpha)
            col_offset = 0
            for beta in range(dw):
                tw = _axis_tiles(wo, dw, beta)
                first, stop = _inside(dw, beta, pad_w, w, 2 * tw + 2)
                fill(line, 0, 2 * width, 0)
                for uu in range(2 * th + 2):         # the phase's padded rows, polyphase-split
                    i = alpha + dh * uu - pad_h
                    q0 = (2 * (uu % 2)) * phase + (uu // 2) * width
                    if 0 <= i < h:
                        row = source + i * w + beta - pad_w
                        for vv in range(first, stop):
                            line[u(vv)] = flat_x[u(row + dw * vv)]
                        for s in range(tw + 1):
                            q[u(q0 + s)] = line[u(2 * s)]
                            q[u(q0 + phase + s)] = line[u(2 * s + 1)]
                    else:
                        fill(q, q0, tw + 1, 0)
                        fill(q, q0 + phase, tw + 1, 0)
                for t in range(th):
                    for b in range(2):   # Bᵀ down the columns: taps (0,t), (1,t), (0,t+1), (1,t+1)
                        top, bottom = b * phase + t * width, (2 + b) * phase + t * width
                        for s in range(tw + 1):
                            d0, d1 = q[u(top + s)], q[u(bottom + s)]
                            d2, d3 = q[u(top + width + s)], q[u(bottom + width + s)]
                            rows[u(b * width + s)] = d0 - d2
                            rows[u((2 + b) * width + s)] = d1 + d2
                            rows[u((4 + b) * width + s)] = d2 - d1
                            rows[u((6 + b) * width + s)] = d1 - d3
                    base = channel * count + (image * th_total + row_offset + t) * tw_total + col_offset
                    for k in range(4):   # Bᵀ along the rows: taps (0,s), (1,s), (0,s+1), (1,s+1)
                        out, r0, r1 = 4 * k * k_step + base, 2 * k * width, (2 * k + 1) * width
                        for s in range(tw):
                            e0, e1 = rows[u(r0 + s)], rows[u(r1 + s)]
                            e2, e3 = rows[u(r0 + s + 1)], rows[u(r1 + s + 1)]
                            flat_v[u(out + s)] = e0 - e2
                            flat_v[u(out + k_step + s)] = e1 + e2
                            flat_v[u(out + 2 * k_step + s)] = e2 - e1
                            flat_v[u(out + 3 * k_step + s)] = e1 - e3
                col_offset += tw
            row_offset += th


@numba.njit(cache=True, nogil=True)
def _input_tiles_adjoint(dv, pad_h, pad_w, ho, wo, dh, dw, th_total, tw_total, count, dx):
    n, c, h, w = dx.shape
    th_max, tw_max = _axis_tiles(ho, dh, 0), _axis_tiles(wo, dw, 0)
    width = tw_max + 1                                # phase columns
    phase = (th_max + 1) * width
    dq = np.empty(4 * phase, dtype=dx.dtype)          # gradient of the phases: dq[a, b, t, s]
    into = np.empty(8 * width, dtype=dx.dtype)        # B along a tile row: tile s adds into
    spill = np.empty(8 * width, dtype=dx.dtype)       # phase columns s and s + 1: [k, b, s]
    line = np.empty(2 * width, dtype=dx.dtype)
    flat_dv, flat_dx, k_step = dv.reshape(-1), dx.reshape(-1), dv.shape[1]
    for plane in range(n * c):
        image, channel = plane // c, plane % c
        target = (image * c + channel) * h * w
        fill(flat_dx, target, h * w, 0)              # pixels that no tile reads
        row_offset = 0
        for alpha in range(dh):
            th = _axis_tiles(ho, dh, alpha)
            col_offset = 0
            for beta in range(dw):
                tw = _axis_tiles(wo, dw, beta)
                for ab in range(4):
                    fill(dq, ab * phase, width, 0)   # dq[:, :, 0, :]
                for t in range(th):
                    base = channel * count + (image * th_total + row_offset + t) * tw_total + col_offset
                    for k in range(4):
                        r0 = 4 * k * k_step + base
                        i0, i1 = 2 * k * width, (2 * k + 1) * width
                        for s in range(tw):
                            d0, d1 = flat_dv[u(r0 + s)], flat_dv[u(r0 + k_step + s)]
                            d2, d3 = flat_dv[u(r0 + 2 * k_step + s)], flat_dv[u(r0 + 3 * k_step + s)]
                            into[u(i0 + s)] = d0
                            into[u(i1 + s)] = d1 - d2 + d3
                            spill[u(i0 + s + 1)] = d1 + d2 - d0
                            spill[u(i1 + s + 1)] = -d3
                        into[u(i0 + tw)] = into[u(i1 + tw)] = spill[u(i0)] = spill[u(i1)] = 0
                    for b in range(2):   # B down the columns: tile row t adds into rows t, t + 1
                        q0, q1 = b * phase + t * width, (2 + b) * phase + t * width
                        for s in range(tw + 1):
                            e0 = into[u(b * width + s)] + spill[u(b * width + s)]
                            e1 = into[u((2 + b) * width + s)] + spill[u((2 + b) * width + s)]
                            e2 = into[u((4 + b) * width + s)] + spill[u((4 + b) * width + s)]
                            e3 = into[u((6 + b) * width + s)] + spill[u((6 + b) * width + s)]
                            dq[u(q0 + s)] += e0
                            dq[u(q1 + s)] += e1 - e2 + e3
                            dq[u(q0 + width + s)] = e1 + e2 - e0     # row t + 1 is fresh here
                            dq[u(q1 + width + s)] = -e3
                first, stop = _inside(dw, beta, pad_w, w, 2 * tw + 2)
                for uu in range(2 * th + 2 if th > 0 else 0):   # back onto the input
                    i = alpha + dh * uu - pad_h
                    if 0 <= i < h:
                        p0 = (2 * (uu % 2)) * phase + (uu // 2) * width
                        for s in range(tw + 1):
                            line[u(2 * s)] = dq[u(p0 + s)]
                            line[u(2 * s + 1)] = dq[u(p0 + phase + s)]
                        row = target + i * w + beta - pad_w
                        for vv in range(first, stop):
                            flat_dx[u(row + dw * vv)] = line[u(vv)]
                col_offset += tw
            row_offset += th


@numba.njit(cache=True, nogil=True)
def _output_tiles(m, dh, dw, th_total, tw_total, count, bias, y):
    n, c_out, ho, wo = y.shape
    tw_max = _axis_tiles(wo, dw, 0)
    lines = np.empty(4 * tw_max, dtype=y.dtype)       # phase rows 2t and 2t + 1
    flat_m, flat_y, k = m.reshape(-1), y.reshape(-1), m.shape[1]
    for plane in range(n * c_out):
        image, o = plane // c_out, plane % c_out
        beta_o = bias[o]
        target = (image * c_out + o) * ho * wo
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
                        m0, m1, m2, m3 = (flat_m[u(i)], flat_m[u(k + i)], flat_m[u(2 * k + i)],
                                          flat_m[u(3 * k + i)])
                        m4, m5, m6, m7 = (flat_m[u(4 * k + i)], flat_m[u(5 * k + i)],
                                          flat_m[u(6 * k + i)], flat_m[u(7 * k + i)])
                        m8, m9, m10, m11 = (flat_m[u(8 * k + i)], flat_m[u(9 * k + i)],
                                            flat_m[u(10 * k + i)], flat_m[u(11 * k + i)])
                        m12, m13, m14, m15 = (flat_m[u(12 * k + i)], flat_m[u(13 * k + i)],
                                              flat_m[u(14 * k + i)], flat_m[u(15 * k + i)])
                        r00, r01, r02, r03 = m0 + m4 + m8, m1 + m5 + m9, m2 + m6 + m10, m3 + m7 + m11
                        r10, r11 = m4 - m8 - m12, m5 - m9 - m13
                        r12, r13 = m6 - m10 - m14, m7 - m11 - m15
                        lines[u(2 * s)] = r00 + r01 + r02 + beta_o
                        lines[u(2 * s + 1)] = r01 - r02 - r03 + beta_o
                        lines[u(2 * tw_max + 2 * s)] = r10 + r11 + r12 + beta_o
                        lines[u(2 * tw_max + 2 * s + 1)] = r11 - r12 - r13 + beta_o
                    for a in range(2):
                        row = alpha + dh * (2 * t + a)
                        if row < ho:
                            start = target + row * wo + beta
                            for vv in range(outputs):
                                flat_y[u(start + dw * vv)] = lines[u(2 * tw_max * a + vv)]
                col_offset += tw
            row_offset += th


@numba.njit(cache=True, nogil=True)
def _output_tiles_adjoint(dy, dh, dw, th_total, tw_total, count, dm):
    n, c_out, ho, wo = dy.shape
    tw_max = _axis_tiles(wo, dw, 0)
    lines = np.empty(4 * tw_max, dtype=dy.dtype)      # dy phase rows 2t, 2t + 1; 0 past the edge
    flat_dy, flat_dm, k = dy.reshape(-1), dm.reshape(-1), dm.shape[1]
    for plane in range(n * c_out):
        image, o = plane // c_out, plane % c_out
        source = (image * c_out + o) * ho * wo
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
                        fill(lines, 2 * tw_max * a, 2 * tw_max, 0)
                        if row < ho:
                            start = source + row * wo + beta
                            for vv in range(outputs):
                                lines[u(2 * tw_max * a + vv)] = flat_dy[u(start + dw * vv)]
                    base = o * count + (image * th_total + row_offset + t) * tw_total + col_offset
                    for s in range(tw):
                        g00, g01 = lines[u(2 * s)], lines[u(2 * s + 1)]
                        g10, g11 = lines[u(2 * tw_max + 2 * s)], lines[u(2 * tw_max + 2 * s + 1)]
                        # e = dY Aᵀ row by row, then dM = A e.
                        e01, e02, e11, e12 = g00 + g01, g00 - g01, g10 + g11, g10 - g11
                        i = base + s
                        flat_dm[u(i)] = g00
                        flat_dm[u(k + i)] = e01
                        flat_dm[u(2 * k + i)] = e02
                        flat_dm[u(3 * k + i)] = -g01
                        flat_dm[u(4 * k + i)] = g00 + g10
                        flat_dm[u(5 * k + i)] = e01 + e11
                        flat_dm[u(6 * k + i)] = e02 + e12
                        flat_dm[u(7 * k + i)] = -g01 - g11
                        flat_dm[u(8 * k + i)] = g00 - g10
                        flat_dm[u(9 * k + i)] = e01 - e11
                        flat_dm[u(10 * k + i)] = e02 - e12
                        flat_dm[u(11 * k + i)] = g11 - g01
                        flat_dm[u(12 * k + i)] = -g10
                        flat_dm[u(13 * k + i)] = -e11
                        flat_dm[u(14 * k + i)] = -e12
                        flat_dm[u(15 * k + i)] = g11
                col_offset += tw
            row_offset += th
