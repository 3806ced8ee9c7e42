"""Winograd's minimal filtering F(2×2, 3×3) for 3×3 stride-1 convolutions (Lavin & Gray 2016).

A 3×3 convolution computes each 2×2 tile of outputs from the 4×4 tile of inputs under it.
Directly that is 2·2·9 = 36 multiplies per tile and channel pair; Winograd's algorithm does
it with 16, the element-wise product of two transformed 4×4 tiles::

    Y = Aᵀ [ (G w Gᵀ) ⊙ (Bᵀ d B) ] A

with the constant matrices ``B_T``, ``G``, ``A_T`` below. Summed over input channels the
element-wise product becomes 16 independent matrix products ``M[k] = U[k] @ V[k]``, with
``U = G w Gᵀ`` (16, C_out, C_in) and ``V = Bᵀ d B`` (16, C_in, tiles): 2.25× fewer
multiplies than im2col's one product, plus the transforms (additions and subtractions).

Backward: the adjoint of the same pipeline. ``dM = A dY Aᵀ`` per tile; the weight gradient
``dw = Gᵀ (Σ_tiles dM Vᵀ) G``; the input gradient ``dV = Uᵀ dM``, each tile's ``B dV Bᵀ``
added back where it was read. (That input gradient is the 3×3 stride-1 convolution of dy
with the flipped kernel, lesson 04, computed with Winograd's transposed algorithm.)

Dilation ``d``: the outputs ``α, α + d, ...`` of a dilated convolution read only inputs ``d``
apart, so each polyphase component is an undilated convolution (DeepLab's
"space-to-batch" view of atrous convolution); every transform here works on them.

Two implementations of the transforms, with the same functions (``tiles_for``,
``input_transform``, ``input_transform_adjoint``, ``output_transform``,
``output_transform_adjoint``) but their own tile layouts:

* the array code below (NumPy or CuPy): the input tiles overlap (a 4×4 window every 2
  pixels), so ``Bᵀ d B`` is computed from the four polyphase components of the padded
  input, where a tile's 16 taps are one-step shifts; each image's tile grid is
  ``th × (tw + 1)``, the extra junk column (zero in V and dM) letting every column shift
  run as one long array operation; dilated inputs are split into a batch of phases first;
* ``winograd_kernels`` (Numba, for NumPy arrays, chosen through ``backend.fast_tier``): the
  same arithmetic fused into one pass per image plane, phases read in place, no junk.

The batch is processed a few images at a time, so that V and M of a chunk stay in cache.

Accuracy: B and A only add and subtract, G halves; float32 results differ from float64 by
about 5e-7 of the output's scale, as im2col's do (the tests allow 5e-6).
Lesson: ``lessons/03-appendix-winograd.md``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...backend import fast_tier, get_array_module

__all__ = ["B_T", "G", "A_T", "Tiles", "tiles_for", "kernel_transform",
           "kernel_transform_adjoint", "input_transform", "input_transform_adjoint",
           "output_transform", "output_transform_adjoint", "Saved", "conv3x3_forward",
           "conv3x3_backward"]

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
    """The array code's tile grid for a chunk of ``n`` images: each of the ``n·d_h·d_w``
    polyphase images (just the ``n`` images when undilated) has ``th × tw`` 2×2 tiles,
    stored ``row = tw + 1`` to a tile row (the junk column)."""

    n: int
    out_size: tuple    # (H_out, W_out) of the convolution
    dilation: tuple
    th: int
    tw: int
    row: int
    count: int         # columns of V and M


def tiles_for(n, out_size, dilation=(1, 1)) -> Tiles:
    """The grid of 2×2 output tiles (the last ones may overhang) of ``n`` images."""
    u, v = _phase_size(out_size, dilation)
    th, tw = (u + 1) // 2, (v + 1) // 2
    return Tiles(n, tuple(out_size), tuple(dilation), th, tw, tw + 1,
                 n * dilation[0] * dilation[1] * th * (tw + 1))


def _undilated(tiles):
    """The grid as an undilated one over the polyphase batch."""
    dh, dw = tiles.dilation
    return tiles._replace(n=tiles.n * dh * dw, out_size=_phase_size(tiles.out_size, tiles.dilation),
                          dilation=(1, 1))


# ---------------------------------------------------------------- the transforms


def _g(a):
    """``G`` applied along the first axis: (3, ...) → (4, ...) (adds and halves; BLAS is slow
    at such thin products)."""
    xp = get_array_module(a)
    out = xp.empty((4,) + a.shape[1:], dtype=a.dtype)
    half_sum, half_middle = (a[0] + a[2]) * 0.5, a[1] * 0.5
    out[0] = a[0]
    xp.add(half_sum, half_middle, out=out[1])
    xp.subtract(half_sum, half_middle, out=out[2])
    out[3] = a[2]
    return out


def _g_adjoint(a):
    """``Gᵀ`` applied along the first axis: (4, ...) → (3, ...)."""
    xp = get_array_module(a)
    out = xp.empty((3,) + a.shape[1:], dtype=a.dtype)
    half_sum, half_difference = (a[1] + a[2]) * 0.5, (a[1] - a[2]) * 0.5
    xp.add(a[0], half_sum, out=out[0])
    out[1] = half_difference
    xp.add(half_sum, a[3], out=out[2])
    return out


def kernel_transform(w):
    """``U[4k + l] = (G w Gᵀ)[k, l]`` for every (C_out, C_in) pair: (16, C_out, C_in)."""
    u = _g(_g(w.transpose(3, 2, 0, 1)).transpose(1, 0, 2, 3))      # (k, l, C_out, C_in)
    return u.reshape(16, w.shape[0], w.shape[1])


def kernel_transform_adjoint(du):
    """The weight gradient from ``dU`` (16, C_out, C_in): ``dw = Gᵀ dU G``, (C_out, C_in, 3, 3)."""
    xp = get_array_module(du)
    dw = _g_adjoint(_g_adjoint(du.reshape(4, 4, du.shape[1], du.shape[2])).transpose(1, 0, 2, 3))
    return xp.ascontiguousarray(dw.transpose(2, 3, 1, 0))           # (j, i, o, c) → (o, c, i, j)


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
    """``V[4k + l, c, tile] = (Bᵀ d B)[k, l]`` for the 4×4 padded-input tile ``d`` of every tile.

    x: (n, C, H, W); padding: (p_h, p_w); v: (16, ≥ C·tiles.count), C-contiguous: V is
    written as ``v[:, :C·count]`` read as (16, C, count) (junk columns 0). Dilated: the
    same on the padded input's polyphase components, stacked as a batch.
    """
    if tiles.dilation != (1, 1):
        x, padding = _space_to_batch(x, padding, tiles.dilation, tiles.out_size), (0, 0)
        tiles = _undilated(tiles)
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
    v4 = v[:, :c * tiles.count].reshape(4, 4, c, tiles.count)
    xp.subtract(left0, right0, out=v4[:, 0, :, :-1])
    xp.add(left1, right0, out=v4[:, 1, :, :-1])
    xp.subtract(right0, left1, out=v4[:, 2, :, :-1])
    xp.subtract(left1, right1, out=v4[:, 3, :, :-1])
    # At s = tw the column step ran into the next tile row: junk, zeroed.
    v4.reshape(16, c, tiles.n * tiles.th, tiles.row)[..., tiles.tw] = 0


def input_transform_adjoint(dv, tiles, dx, padding):
    """``dx = Σ_tiles B dV Bᵀ`` placed back where each tile came from (overlaps add):
    the adjoint of ``input_transform``.

    dv: (16, ≥ C·tiles.count) as written by ``input_transform`` (junk columns 0);
    dx: (n, C, H, W), written (input pixels that no tile reads get 0).
    """
    if tiles.dilation != (1, 1):
        hq, wq = (s + 2 for s in _phase_size(tiles.out_size, tiles.dilation))
        dx_phases = get_array_module(dv).empty((tiles.n * tiles.dilation[0] * tiles.dilation[1],
                                                dx.shape[1], hq, wq), dtype=dx.dtype)
        input_transform_adjoint(dv, _undilated(tiles), dx_phases, (0, 0))
        dx[...] = _batch_to_space_input(dx_phases, padding, tiles.dilation, dx.shape)
        return
    xp = get_array_module(dv)
    n, c, h, w = dx.shape
    dv4 = dv[:, :c * tiles.count].reshape(4, 4, c, tiles.count)
    # Columns, adjoint: each shifted read of r becomes an add into dr.
    dr = xp.zeros((4, 2, c, tiles.count), dtype=dv.dtype)
    dr[:, 0, :, :-1] += dv4[:, 0, :, :-1]
    dr[:, 0, :, 1:] -= dv4[:, 0, :, :-1]
    dr[:, 1, :, :-1] += dv4[:, 1, :, :-1]
    dr[:, 0, :, 1:] += dv4[:, 1, :, :-1]
    dr[:, 0, :, 1:] += dv4[:, 2, :, :-1]
    dr[:, 1, :, :-1] -= dv4[:, 2, :, :-1]
    dr[:, 1, :, :-1] += dv4[:, 3, :, :-1]
    dr[:, 1, :, 1:] -= dv4[:, 3, :, :-1]
    # Rows, adjoint.
    dr = dr.reshape(4, 2, c, tiles.n, tiles.th, tiles.tw + 1)
    dq = xp.zeros((2, 2, c, tiles.n, tiles.th + 1, tiles.tw + 1), dtype=dv.dtype)
    dq[0, :, :, :, :-1] += dr[0]
    dq[0, :, :, :, 1:] -= dr[0]
    dq[1, :, :, :, :-1] += dr[1]
    dq[0, :, :, :, 1:] += dr[1]
    dq[0, :, :, :, 1:] += dr[2]
    dq[1, :, :, :, :-1] -= dr[2]
    dq[1, :, :, :, :-1] += dr[3]
    dq[1, :, :, :, 1:] -= dr[3]
    # The polyphase split, adjoint: every input pixel sits in exactly one phase.
    dx[...] = 0
    dx_cnhw = dx.transpose(1, 0, 2, 3)
    for a in (0, 1):
        rows = _phase_range(a, padding[0], h, tiles.th + 1)
        for b in (0, 1):
            cols = _phase_range(b, padding[1], w, tiles.tw + 1)
            if rows is not None and cols is not None:
                (r0, r1, ri), (c0, c1, ci) = rows, cols
                dx_cnhw[:, :, ri:ri + 2 * (r1 - r0):2, ci:ci + 2 * (c1 - c0):2] = dq[a, b, :, :, r0:r1,
                                                                                  c0:c1]


def _output_matrix(xp, dtype):
    """``Aᵀ ⊗ Aᵀ`` as (4, 16): row ``2a + b`` maps a tile's 16 products to its output (a, b)."""
    return xp.asarray(np.kron(A_T, A_T), dtype=dtype)


def output_transform(m, tiles, b, y):
    """``y = Aᵀ M A (+ b)`` for every tile, written into ``y`` as an image batch.

    m: (16, ≥ C_out·tiles.count), M as ``m[:, :C_out·count]``; b: (C_out,) or None;
    y: (n, C_out, H_out, W_out), written.
    """
    xp = get_array_module(m)
    c_out = y.shape[1]
    if tiles.dilation != (1, 1):
        inner = _undilated(tiles)
        y_phases = xp.empty((inner.n, c_out) + inner.out_size, dtype=y.dtype)
        output_transform(m, inner, b, y_phases)
        y[...] = _batch_to_space(y_phases, tiles.dilation, tiles.n, tiles.out_size)
        return
    y_tiles = _output_matrix(xp, m.dtype) @ m[:, :c_out * tiles.count]      # (4, C_out·count)
    y_tiles = y_tiles.reshape(2, 2, c_out, tiles.n, tiles.th, tiles.row)
    ho, wo = tiles.out_size
    for a in (0, 1):
        for b_ in (0, 1):
            rows, cols = (ho - a + 1) // 2, (wo - b_ + 1) // 2
            y[:, :, a::2, b_::2] = y_tiles[a, b_, :, :, :rows, :cols].transpose(1, 0, 2, 3)
    if b is not None:
        y += b.reshape(1, -1, 1, 1)


def output_transform_adjoint(dy, tiles, dm):
    """``dM = A dY Aᵀ`` for every 2×2 tile ``dY`` of dy: the adjoint of ``output_transform``.

    dy: (n, C_out, H_out, W_out); dm: (16, ≥ C_out·tiles.count), dM written as
    ``dm[:, :C_out·count]`` (junk columns 0).
    """
    if tiles.dilation != (1, 1):
        dy_phases = _space_to_batch_output(dy, tiles.dilation, _phase_size(tiles.out_size, tiles.dilation))
        output_transform_adjoint(dy_phases, _undilated(tiles), dm)
        return
    xp = get_array_module(dy)
    c_out = dy.shape[1]
    ho, wo = tiles.out_size
    dy_tiles = xp.zeros((2, 2, c_out, tiles.n, tiles.th, tiles.row), dtype=dy.dtype)
    for a in (0, 1):
        for b in (0, 1):
            rows, cols = (ho - a + 1) // 2, (wo - b + 1) // 2
            dy_tiles[a, b, :, :, :rows, :cols] = dy[:, :, a::2, b::2].transpose(1, 0, 2, 3)
    dm[:, :c_out * tiles.count] = _output_matrix(xp, dy.dtype).T @ dy_tiles.reshape(4, -1)


# ---------------------------------------------------------------- space-to-batch (dilation)


def _phase_size(out_size, dilation):
    """Outputs per polyphase component: ``ceil(H_out / d)`` (likewise W)."""
    return tuple(-(-o // d) for o, d in zip(out_size, dilation))


def _space_to_batch(x, padding, dilation, out_size):
    """The padded input's ``d_h·d_w`` polyphase components as one batch.

    ``phases[(n·d_h + a)·d_w + b, c, u, v] = x_pad[n, c, d_h·u + a, d_w·v + b]``, each
    ``(ceil(H_out/d_h) + 2, ...)``: output ``(d_h·u + a, d_w·v + b)`` of the dilated
    convolution is output ``(u, v)`` of the undilated one on phase ``(a, b)``.
    """
    xp = get_array_module(x)
    n, c, h, w = x.shape
    (dh, dw), (ph, pw) = dilation, padding
    hq, wq = (s + 2 for s in _phase_size(out_size, dilation))
    padded = xp.zeros((n, c, dh * hq, dw * wq), dtype=x.dtype)
    rows, cols = min(h, dh * hq - ph), min(w, dw * wq - pw)
    padded[:, :, ph:ph + rows, pw:pw + cols] = x[:, :, :rows, :cols]
    phases = padded.reshape(n, c, hq, dh, wq, dw).transpose(0, 3, 5, 1, 2, 4)
    return xp.ascontiguousarray(phases).reshape(n * dh * dw, c, hq, wq)


def _batch_to_space(y_phases, dilation, n, out_size):
    """Outputs back from the polyphase batch: (N·d_h·d_w, C, U, V) → (N, C, H_out, W_out)."""
    (dh, dw), (_, c, u, v) = dilation, y_phases.shape
    y = y_phases.reshape(n, dh, dw, c, u, v).transpose(0, 3, 4, 1, 5, 2).reshape(n, c, u * dh, v * dw)
    return y[:, :, :out_size[0], :out_size[1]]


def _space_to_batch_output(dy, dilation, phase_size):
    """dy split like the outputs (the adjoint of ``_batch_to_space``): zeros past H_out, W_out."""
    xp = get_array_module(dy)
    n, c, ho, wo = dy.shape
    (dh, dw), (u, v) = dilation, phase_size
    full = xp.zeros((n, c, u * dh, v * dw), dtype=dy.dtype)
    full[:, :, :ho, :wo] = dy
    phases = full.reshape(n, c, u, dh, v, dw).transpose(0, 3, 5, 1, 2, 4)
    return xp.ascontiguousarray(phases).reshape(n * dh * dw, c, u, v)


def _batch_to_space_input(dx_phases, padding, dilation, x_shape):
    """The adjoint of ``_space_to_batch``: phase gradients back onto x (padding dropped)."""
    xp = get_array_module(dx_phases)
    n, c, h, w = x_shape
    (dh, dw), (ph, pw) = dilation, padding
    hq, wq = dx_phases.shape[2:]
    padded = dx_phases.reshape(n, dh, dw, c, hq, wq).transpose(0, 3, 4, 1, 5, 2)
    padded = padded.reshape(n, c, hq * dh, wq * dw)
    dx = xp.zeros((n, c, h, w), dtype=dx_phases.dtype)
    rows, cols = min(h, dh * hq - ph), min(w, dw * wq - pw)
    dx[:, :, :rows, :cols] = padded[:, :, ph:ph + rows, pw:pw + cols]
    return dx


# ---------------------------------------------------------------- the convolution, chunked


class Saved(NamedTuple):
    """What ``conv3x3_forward`` keeps for ``conv3x3_backward``: the transformed input."""

    v: list            # per chunk: V as (16, ≥ C_in·count)
    chunks: list       # per chunk: (start, stop) images
    padding: tuple
    dilation: tuple
    in_size: tuple


def _transforms(xp):
    """The module with the tile transforms: Numba kernels for NumPy arrays, else this one."""
    import sys

    kernels = fast_tier(xp, _KERNELS, cpu_only=True)
    return kernels if kernels is not None else sys.modules[__name__]


def _chunks(t, n, out_size, dilation, channels, itemsize):
    """``(start, stop)`` image ranges whose V (16·channels·tiles values) fits CHUNK_BYTES."""
    per_image = 16 * channels * t.tiles_for(1, out_size, dilation).count * itemsize
    step = max(1, min(n, CHUNK_BYTES // per_image))
    return [(i, min(i + step, n)) for i in range(0, n, step)]


def _matrices(xp, rows, cols, dtype):
    """16 matrices (rows, cols) as one (16, rows·cols + 16) array, read as ``_view``.

    They sit ``rows·cols + 16`` values apart, not ``rows·cols``: a tile's 16 values are read
    or written together, and when that stride is a multiple of 4 KiB (64 channels × 1024
    tiles × 4 bytes is) all 16 fall into one cache set and evict each other, which made
    the transform kernels 5-8 times slower.
    """
    return xp.empty((16, rows * cols + 16), dtype=dtype)


def _view(a, rows, cols):
    """The (16, rows, cols) matrices of a ``_matrices`` array."""
    return a[:, :rows * cols].reshape(16, rows, cols)


# Chunks go to worker threads, each running its GEMMs on a single BLAS thread: a handful of
# hand-overs per call instead of a BLAS thread team woken for each of the 16 small products
# of every chunk. On a 2-core machine shared with other jobs that team made the fast tier
# 5-10 times slower than PyTorch; limited to one BLAS thread per chunk, it beat it.
_pools = {}                # worker count → ThreadPoolExecutor, started on first use
_blas_controller = []      # [threadpoolctl.ThreadpoolController], found on first use


def _blas():
    """threadpoolctl's controller of the BLAS libraries, or None without threadpoolctl."""
    if not _blas_controller:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _blas_controller.append(None)
        else:
            _blas_controller.append(ThreadpoolController().select(user_api="blas"))
    return _blas_controller[0]


def _in_chunks(xp, work, count):
    """``work(i, k)`` for every chunk ``i < count``, ``k`` the worker running it: on as many
    threads as BLAS may use, each chunk's products on one BLAS thread, when the chunks are
    enough to share; else all here (``k = 0``)."""
    blas = _blas() if xp is np else None
    threads = min([count] + [lib["num_threads"] for lib in blas.info()]) if blas else 1
    if threads <= 1:
        for i in range(count):
            work(i, 0)
        return
    if threads not in _pools:
        from concurrent.futures import ThreadPoolExecutor

        _pools[threads] = ThreadPoolExecutor(threads, thread_name_prefix="winograd")
    with blas.limit(limits=1):
        futures = [_pools[threads].submit(lambda k: [work(i, k) for i in range(k, count, threads)], k)
                   for k in range(threads)]
        for future in futures:
            future.result()


def _scratch(xp, buffers, k, rows, count, dtype):
    """Worker ``k``'s reusable ``_matrices(rows, count)`` (the first chunk is the largest)."""
    if k not in buffers:
        buffers[k] = _matrices(xp, rows, count, dtype)
    return buffers[k]


def conv3x3_forward(x, w, b, padding, dilation, out_size):
    """``y[n, o, p, q] = b[o] + Σ_{c,i,j} w[o, c, i, j] · x_pad[n, c, p + d_h·i, q + d_w·j]``
    by F(2×2, 3×3).

    x: (N, C_in, H, W); w: (C_out, C_in, 3, 3); b: (C_out,) or None; padding, dilation:
    pairs; out_size: (H_out, W_out). Returns ``(y, saved)``: y (N, C_out, H_out, W_out) and
    what ``conv3x3_backward`` needs.
    """
    xp = get_array_module(x)
    t = _transforms(xp)
    (n, c_in), c_out = x.shape[:2], w.shape[0]
    u = kernel_transform(w)
    y = xp.empty((n, c_out) + tuple(out_size), dtype=x.dtype)
    chunks = _chunks(t, n, out_size, dilation, max(c_in, c_out), x.dtype.itemsize)
    saved = Saved([None] * len(chunks), chunks, tuple(padding), tuple(dilation), tuple(x.shape[2:]))
    largest, m_buffers = t.tiles_for(chunks[0][1] - chunks[0][0], out_size, dilation).count, {}

    def work(i, k):
        start, stop = chunks[i]
        tiles = t.tiles_for(stop - start, out_size, dilation)
        v = _matrices(xp, c_in, tiles.count, x.dtype)
        m = _scratch(xp, m_buffers, k, c_out, largest, x.dtype)
        t.input_transform(x[start:stop], padding, tiles, v)
        xp.matmul(u, _view(v, c_in, tiles.count), out=_view(m, c_out, tiles.count))
        t.output_transform(m, tiles, b, y[start:stop])
        saved.v[i] = v

    _in_chunks(xp, work, len(chunks))
    return y, saved


def conv3x3_backward(dy, w, saved):
    """``(dx, dw)`` of ``conv3x3_forward``, by the adjoint of the same pipeline.

    ``dM = A dY Aᵀ``; ``dw = Gᵀ (Σ_tiles dM Vᵀ) G``; ``dV = Uᵀ dM`` and ``dx`` the adjoint
    input transform of dV (the 4×4 tiles ``B dV Bᵀ`` added back where they were read).
    dy: (N, C_out, H_out, W_out); w: (C_out, C_in, 3, 3).
    """
    xp = get_array_module(dy)
    t = _transforms(xp)
    (n, c_out), c_in = dy.shape[:2], w.shape[1]
    u_t = xp.ascontiguousarray(kernel_transform(w).transpose(0, 2, 1))     # (16, C_in, C_out)
    du = [None] * len(saved.chunks)                                      # per chunk (16, C_out, C_in)
    dx = xp.empty((n, c_in) + saved.in_size, dtype=dy.dtype)
    first = saved.chunks[0]
    largest = t.tiles_for(first[1] - first[0], dy.shape[2:], saved.dilation).count
    dm_buffers, dv_buffers = {}, {}

    def work(i, k):
        start, stop = saved.chunks[i]
        tiles = t.tiles_for(stop - start, dy.shape[2:], saved.dilation)
        dm = _scratch(xp, dm_buffers, k, c_out, largest, dy.dtype)
        dv = _scratch(xp, dv_buffers, k, c_in, largest, dy.dtype)
        t.output_transform_adjoint(dy[start:stop], tiles, dm)
        dm_view = _view(dm, c_out, tiles.count)
        du[i] = xp.matmul(dm_view, _view(saved.v[i], c_in, tiles.count).transpose(0, 2, 1))
        xp.matmul(u_t, dm_view, out=_view(dv, c_in, tiles.count))
        t.input_transform_adjoint(dv, tiles, dx[start:stop], saved.padding)

    _in_chunks(xp, work, len(saved.chunks))
    return dx, kernel_transform_adjoint(sum(du[1:], du[0]))
