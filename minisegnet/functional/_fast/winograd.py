"""Winograd's minimal filtering F(2×2, 3×3) for 3×3 stride-1 convolutions (Lavin & Gray 2016).

A 3×3 convolution computes each 2×2 tile of outputs from the 4×4 tile of inputs under it.
Directly that is 2·2·9 = 36 multiplies per tile and channel pair; Winograd's algorithm does
it with 16, the element-wise product of two transformed 4×4 tiles::

    Y = Aᵀ [ (G w Gᵀ) ⊙ (Bᵀ d B) ] A

with the constant matrices ``B_T``, ``G``, ``A_T`` below. Summed over input channels the
element-wise product becomes 16 independent matrix products ``M[k] = U[k] @ V[k]``, with
``U = G w Gᵀ`` (16, C_out, C_in) and ``V = Bᵀ d B`` (16, C_in, tiles): 2.25× fewer
multiplies than im2col's one product, plus the transforms (additions and subtractions).

Backward: the weight gradient is the adjoint of the same pipeline,
``dw = Gᵀ (Σ_tiles dM Vᵀ) G`` with ``dM = A dY Aᵀ``; the input gradient is another 3×3
stride-1 convolution, of dy with the flipped kernel (lesson 04), so it runs here too.

Layout. The input tiles overlap (a 4×4 window every 2 pixels), so ``Bᵀ d B`` is computed
from the four polyphase components of the padded input (even/odd rows × even/odd columns),
where a tile's 16 taps are one-step shifts. Each image's tile grid is ``th × (tw + 1)``:
the extra, junk column (zero in V and dM) lets every column shift run as one long array
operation, and is dropped at the end. Output tiles do not overlap, so the output transform
and its adjoint are plain matrix products with ``A ⊗ A``. The batch is processed a few
images at a time so that V and M stay in cache and their buffers are reused.

The transforms are plain array code (NumPy or CuPy). For NumPy arrays the three transforms
run as fused, multi-threaded Numba kernels instead (``winograd_kernels``, tested against
these), chosen through ``backend.fast_tier``.

Accuracy: B and A only add and subtract, G halves, so float32 results stay within a few
units in the last place of the direct sum (the tests allow 1e-5 of the output's scale).
Lesson: ``lessons/03-appendix-winograd.md``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...backend import fast_tier, get_array_module

__all__ = ["B_T", "G", "A_T", "Tiles", "tiles_for", "kernel_transform", "kernel_transform_adjoint",
           "input_transform", "output_transform", "output_transform_adjoint", "conv3x3",
           "conv3x3_weight_gradient", "conv3x3_input_gradient"]

# The transforms of F(2, 3), Lavin & Gray (2016), section 4.1: y = Aᵀ[(G g) ⊙ (Bᵀ d)].
B_T = np.array([[1, 0, -1, 0],
                [0, 1, 1, 0],
                [0, -1, 1, 0],
                [0, 1, 0, -1]], dtype=np.float64)
G = np.array([[1, 0, 0],
              [0.5, 0.5, 0.5],
              [0.5, -0.5, 0.5],
              [0, 0, 1]], dtype=np.float64)
A_T = np.array([[1, 1, 1, 0],
                [0, 1, -1, -1]], dtype=np.float64)

_KERNELS = "minisegnet.functional._fast.winograd_kernels"
# Images per chunk: about this many bytes of V (16·C·tiles values) at a time.
CHUNK_BYTES = 4 << 20


class Tiles(NamedTuple):
    """The tile grid of one chunk: ``n`` images of ``th × tw`` 2×2 output tiles."""

    n: int
    th: int
    tw: int
    out_size: tuple    # (H_out, W_out), at most (2·th, 2·tw)

    @property
    def count(self) -> int:
        """Columns of V and M: every tile plus one junk column per tile row."""
        return self.n * self.th * (self.tw + 1)


def tiles_for(n, out_size) -> Tiles:
    """The grid of 2×2 output tiles covering ``out_size`` (the last ones may overhang)."""
    return Tiles(n, (out_size[0] + 1) // 2, (out_size[1] + 1) // 2, tuple(out_size))


# ---------------------------------------------------------------- the transforms


def kernel_transform(w):
    """``U[4k + l] = (G w Gᵀ)[k, l]`` for every (C_out, C_in) pair: (16, C_out, C_in)."""
    xp = get_array_module(w)
    g = xp.asarray(G, dtype=w.dtype)
    u = xp.einsum("ki,ocij,lj->kloc", g, w, g)
    return xp.ascontiguousarray(u.reshape(16, w.shape[0], w.shape[1]))


def kernel_transform_adjoint(du):
    """The weight gradient from ``dU`` (16, C_out, C_in): ``dw = Gᵀ dU G``, (C_out, C_in, 3, 3)."""
    xp = get_array_module(du)
    g = xp.asarray(G, dtype=du.dtype)
    du = du.reshape(4, 4, du.shape[1], du.shape[2])
    return xp.ascontiguousarray(xp.einsum("ki,kloc,lj->ocij", g, du, g))


def _phase_range(phase, pad, size, count):
    """Positions ``u`` in ``[first, stop)`` whose padded index ``2u + phase`` falls inside
    the input (at input index ``start`` for the first); ``None`` when there is none."""
    first = max(0, (pad - phase + 1) // 2)
    start = 2 * first + phase - pad
    stop = min(count, first + (size - start + 1) // 2)
    return (first, stop, start) if stop > first else None


def _phases(x, padding, tiles):
    """The padded input's polyphase components: ``q[a, b, c, n, u, v] = x_pad[n, c, 2u+a, 2v+b]``,
    shape (2, 2, C, N, th + 1, tw + 1); tile (t, s) reads rows t, t+1 and columns s, s+1."""
    xp = get_array_module(x)
    n, c, h, w = x.shape
    q = xp.zeros((2, 2, c, n, tiles.th + 1, tiles.tw + 1), dtype=x.dtype)
    x_cnhw = x.transpose(1, 0, 2, 3)
    for a in (0, 1):
        rows = _phase_range(a, padding[0], h, tiles.th + 1)
        for b in (0, 1):
            cols = _phase_range(b, padding[1], w, tiles.tw + 1)
            if rows is not None and cols is not None:
                (r0, r1, ri), (c0, c1, ci) = rows, cols
                q[a, b, :, :, r0:r1, c0:c1] = x_cnhw[:, :, ri:ri + 2 * (r1 - r0):2,
                                                     ci:ci + 2 * (c1 - c0):2]
    return q


def input_transform(x, padding, tiles, v):
    """``v[4k + l, c, tile] = (Bᵀ d B)[k, l]`` for the 4×4 padded-input tile ``d`` of every tile.

    x: (n, C, H, W); padding: (p_h, p_w); v: (16, C, tiles.count), written (junk columns 0).
    """
    xp = get_array_module(x)
    c = x.shape[1]
    q = _phases(x, padding, tiles)
    lo, hi = q[:, :, :, :, :-1], q[:, :, :, :, 1:]          # tile rows t and t + 1
    # Rows: Bᵀ over the taps d0..d3 = (phase 0, t), (phase 1, t), (phase 0, t+1), (phase 1, t+1).
    r = xp.empty((4, 2, c, tiles.n, tiles.th, tiles.tw + 1), dtype=x.dtype)
    xp.subtract(lo[0], hi[0], out=r[0])
    xp.add(lo[1], hi[0], out=r[1])
    xp.subtract(hi[0], lo[1], out=r[2])
    xp.subtract(lo[1], hi[1], out=r[3])
    # Columns: the same, the shifts now one step along the flattened (n, t, s) axis.
    r = r.reshape(4, 2, c, tiles.count)
    left0, left1, right0, right1 = r[:, 0, :, :-1], r[:, 1, :, :-1], r[:, 0, :, 1:], r[:, 1, :, 1:]
    v4 = v.reshape(4, 4, c, tiles.count)
    xp.subtract(left0, right0, out=v4[:, 0, :, :-1])
    xp.add(left1, right0, out=v4[:, 1, :, :-1])
    xp.subtract(right0, left1, out=v4[:, 2, :, :-1])
    xp.subtract(left1, right1, out=v4[:, 3, :, :-1])
    # At s = tw the column step ran into the next tile row: junk, zeroed.
    v.reshape(16, c, tiles.n * tiles.th, tiles.tw + 1)[..., tiles.tw] = 0


def _output_matrix(xp, dtype):
    """``Aᵀ ⊗ Aᵀ`` as (4, 16): row ``2a + b`` maps a tile's 16 products to its output (a, b)."""
    return xp.asarray(np.kron(A_T, A_T), dtype=dtype)


def output_transform(m, tiles, b, y):
    """``y = Aᵀ M A (+ b)`` for every tile, written into ``y`` as an image batch.

    m: (16, C_out, tiles.count); b: (C_out,) or None; y: (n, C_out, H_out, W_out), written.
    """
    xp = get_array_module(m)
    c_out = m.shape[1]
    y_tiles = _output_matrix(xp, m.dtype) @ m.reshape(16, -1)        # (4, C_out·count)
    y_tiles = y_tiles.reshape(2, 2, c_out, tiles.n, tiles.th, tiles.tw + 1)
    ho, wo = tiles.out_size
    for a in (0, 1):
        for b_ in (0, 1):
            rows, cols = (ho - a + 1) // 2, (wo - b_ + 1) // 2
            y[:, :, a::2, b_::2] = y_tiles[a, b_, :, :, :rows, :cols].transpose(1, 0, 2, 3)
    if b is not None:
        y += b.reshape(1, -1, 1, 1)


def output_transform_adjoint(dy, tiles, dm):
    """``dM = A dY Aᵀ`` for every 2×2 tile ``dY`` of dy: the adjoint of ``output_transform``.

    dy: (n, C_out, H_out, W_out); dm: (16, C_out, tiles.count), written (junk columns 0).
    """
    xp = get_array_module(dy)
    c_out = dy.shape[1]
    ho, wo = tiles.out_size
    dy_tiles = xp.zeros((2, 2, c_out, tiles.n, tiles.th, tiles.tw + 1), dtype=dy.dtype)
    for a in (0, 1):
        for b in (0, 1):
            rows, cols = (ho - a + 1) // 2, (wo - b + 1) // 2
            dy_tiles[a, b, :, :, :rows, :cols] = dy[:, :, a::2, b::2].transpose(1, 0, 2, 3)
    xp.matmul(_output_matrix(xp, dy.dtype).T, dy_tiles.reshape(4, -1), out=dm.reshape(16, -1))


# ---------------------------------------------------------------- the convolution, chunked


def _transforms(xp):
    """The module with the three tile transforms: Numba kernels for NumPy, else this one."""
    import sys

    kernels = fast_tier(xp, _KERNELS, cpu_only=True)
    return kernels if kernels is not None else sys.modules[__name__]


def _chunks(n, out_size, channels, itemsize):
    """``(start, stop)`` image ranges whose V (16·channels·tiles values) fits CHUNK_BYTES."""
    per_image = 16 * channels * tiles_for(1, out_size).count * itemsize
    step = max(1, min(n, CHUNK_BYTES // per_image))
    return [(i, min(i + step, n)) for i in range(0, n, step)]


def _buffer(xp, shape, dtype, pool):
    """A ``shape`` view of a flat scratch buffer that is reused from chunk to chunk."""
    size = int(np.prod(shape))
    if pool.get(dtype) is None or pool[dtype].size < size:
        pool[dtype] = xp.empty(size, dtype=dtype)
    return pool[dtype][:size].reshape(shape)


def conv3x3(x, w, b, padding, out_size):
    """``y[n, o, p, q] = b[o] + Σ_{c,i,j} w[o, c, i, j] · x_pad[n, c, p + i, q + j]`` by F(2×2, 3×3).

    x: (N, C_in, H, W); w: (C_out, C_in, 3, 3); b: (C_out,) or None; padding: (p_h, p_w);
    out_size: (H_out, W_out), any size (rows past the padded input read zeros).
    Returns y: (N, C_out, H_out, W_out).
    """
    xp = get_array_module(x)
    t = _transforms(xp)
    n, c_in = x.shape[:2]
    u = kernel_transform(w)
    y = xp.empty((n, w.shape[0]) + tuple(out_size), dtype=x.dtype)
    v_pool, m_pool = {}, {}
    for start, stop in _chunks(n, out_size, max(c_in, w.shape[0]), x.dtype.itemsize):
        tiles = tiles_for(stop - start, out_size)
        v = _buffer(xp, (16, c_in, tiles.count), x.dtype, v_pool)
        m = _buffer(xp, (16, w.shape[0], tiles.count), x.dtype, m_pool)
        t.input_transform(x[start:stop], padding, tiles, v)
        xp.matmul(u, v, out=m)                                       # 16 × (C_out, tiles)
        t.output_transform(m, tiles, b, y[start:stop])
    return y


def conv3x3_weight_gradient(x, dy, padding):
    """``dw`` of ``conv3x3``: ``Gᵀ (Σ_tiles dM Vᵀ) G`` with ``dM = A dY Aᵀ``, ``V = Bᵀ d B``.

    x: (N, C_in, H, W); dy: (N, C_out, H_out, W_out). Returns (C_out, C_in, 3, 3).
    """
    xp = get_array_module(x)
    t = _transforms(xp)
    n, c_in = x.shape[:2]
    c_out, out_size = dy.shape[1], dy.shape[2:]
    du = xp.zeros((16, c_out, c_in), dtype=x.dtype)
    v_pool, m_pool = {}, {}
    for start, stop in _chunks(n, out_size, max(c_in, c_out), x.dtype.itemsize):
        tiles = tiles_for(stop - start, out_size)
        v = _buffer(xp, (16, c_in, tiles.count), x.dtype, v_pool)
        dm = _buffer(xp, (16, c_out, tiles.count), x.dtype, m_pool)
        t.input_transform(x[start:stop], padding, tiles, v)
        t.output_transform_adjoint(dy[start:stop], tiles, dm)
        du += xp.matmul(dm, v.transpose(0, 2, 1))
    return kernel_transform_adjoint(du)


def conv3x3_input_gradient(dy, w, padding, in_size):
    """``dx`` of ``conv3x3``: dy convolved with the flipped, transposed kernel (lesson 04).

    ``dx[n, c, h, v] = Σ_{o,i,j} w[o, c, 2-i, 2-j] · dy_pad[n, o, h + p - 2 + i, ...]``: padding
    ``2 - p`` where that is ≥ 0, else dy cropped by ``p - 2``. Returns (N, C_in, H, W).
    """
    xp = get_array_module(dy)
    w_flipped = xp.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    crop = [max(p - 2, 0) for p in padding]
    dy = dy[:, :, crop[0]:, crop[1]:]
    return conv3x3(dy, w_flipped, None, tuple(max(2 - p, 0) for p in padding), in_size)
