"""The mean field's fast tier (``backend.fast_tier``): Numba kernels of the per-pixel softmax
and of one fused mean-field update with two lattice kernels.

``meanfield.py`` calls ``fused_mean_field`` when both pairwise kernels are permutohedral
lattices with nonzero weights and the fast tier is on; everything else (the exact kernel,
a zero weight, the reference tier, CuPy arrays) runs the reference tier's loop. The two
agree to rounding (``tests/crf/test_tiers.py``). This module imports ``numba`` at its top:
``backend.fast_tier`` imports it on first use.

One iteration, ``Q ← softmax(-U + w_a K̃_a Q + w_b K̃_b Q)``, runs in two parallel loops
instead of five: splat both kernels (one loop over the pixels), blur both (one thread: the
vertex buffers are small), then per pixel slice both, add the unary and take the softmax
(one loop). Fewer loops, fewer barriers (on a busy machine a barrier can wait a whole time
slice for a descheduled thread) and one pass less over Q. Layout and conventions are those
of ``_lattice_kernels.py``: (N, L) arrays, vertex ``v`` in row ``v + 1``, scalars in the
arrays' dtype.
"""

from __future__ import annotations

import numba
import numpy as np

from ._lattice_kernels import PARALLEL_MIN_SIZE, parallel_parts, splat_range, vertex_pass

__all__ = ["fused_forward", "fused_history"]


# ============================================================================ softmax
# exp for float32 arguments x <= 0 (a softmax after subtracting the row maximum), Cephes'
# expf: exp(x) = 2^k · exp(r), k = round(x / ln 2), |r| <= ln(2)/2, exp(r) by a degree-7
# polynomial (relative error < 1e-7), 2^k written straight into a float's exponent bits.
# Unlike a call to libm's expf, these few multiply-adds vectorise: the float32 softmax runs
# about twice as fast. float64 arrays use np.exp.
_LOG2E = np.float32(1.4426950408889634)
_LN2_HI = np.float32(0.693359375)
_LN2_LO = np.float32(-2.12194440e-4)
_EXP_P = (np.float32(1.9875691500e-4), np.float32(1.3981999507e-3), np.float32(8.3334519073e-3),
          np.float32(4.1665795894e-2), np.float32(1.6666665459e-1), np.float32(5.0000001201e-1))
_ONE32 = np.float32(1.0)
_HALF32 = np.float32(0.5)
_LOWEST32 = np.float32(-87.0)  # exp(-87) ≈ 1.6e-38, the smallest normal float is 1.2e-38


@numba.njit(cache=True, fastmath=True)
def _softmax_range(x, sign, p0, p1, fast):
    """``x[p] ← softmax(sign · x[p])`` over the labels, in place, for pixels ``p0 <= p < p1``;
    ``fast`` (float32 arrays only) selects the polynomial exp.

    In place on purpose, and with the exponent bits of ``2^k`` in a scratch row allocated
    here: LLVM then sees that no two arrays overlap and vectorises the label loops. With a
    separate input that may be the output, or a scratch row passed in, its overlap checks
    fail or stay and the loop runs two to three times slower.
    """
    n_labels = x.shape[1]
    bits = np.empty(n_labels, np.int32)
    two_k = bits.view(np.float32)  # 2^k, from its exponent bits
    for p in range(p0, p1):
        top = sign * x[p, 0]
        for c in range(1, n_labels):
            top = max(top, sign * x[p, c])
        total = top - top  # 0 in the arrays' dtype
        if fast:
            for c in range(n_labels):
                z = max(sign * x[p, c] - top, _LOWEST32)
                k = np.floor(z * _LOG2E + _HALF32)
                r = z - k * _LN2_HI - k * _LN2_LO
                x[p, c] = ((((((_EXP_P[0] * r + _EXP_P[1]) * r + _EXP_P[2]) * r + _EXP_P[3]) * r
                            + _EXP_P[4]) * r + _EXP_P[5]) * r * r + r + _ONE32)
                bits[c] = (np.int32(k) + np.int32(127)) << np.int32(23)
            for c in range(n_labels):
                e = x[p, c] * two_k[c]
                x[p, c] = e
                total += e
        else:
            for c in range(n_labels):
                e = np.exp(sign * x[p, c] - top)
                x[p, c] = e
                total += e
        inv = sign * sign / total  # sign² = 1, in the arrays' dtype (1 / total would be float64)
        for c in range(n_labels):
            x[p, c] *= inv


# ============================================================================ layout
# The label axis is padded to a multiple of this many values: the label loops then run whole
# SIMD vectors only (21 labels as 24 run the slices about 1.5x faster than as 21: no scalar
# remainder loop). The padding labels get an energy so high that their Q is 0 (or, with the
# float32 exp's floor, ~1e-38): they splat nothing and never change the real labels' Q.
LANES = 8
PAD_ENERGY = 1e4
# Pixels per block in the loops below: a block's rows stay in the L1 cache between steps.
_BLOCK = 64


@numba.njit(cache=True, fastmath=True)
def _start_range(unary, u, q, pad, minus_one, fast, p0, p1):
    """For pixels ``p0 <= p < p1``: ``u[p] = (unary[:, p], pad, …)`` (label-major (L, N) to
    padded pixel-major (N, Lp)) and ``q[p] = softmax(-u[p])``."""
    n_labels = unary.shape[0]
    width = u.shape[1]
    for b0 in range(p0, p1, _BLOCK):
        b1 = min(b0 + _BLOCK, p1)
        for c in range(n_labels):  # a transpose, a block at a time: rows of unary read in order
            for p in range(b0, b1):
                u[p, c] = unary[c, p]
        for p in range(b0, b1):
            for c in range(n_labels, width):
                u[p, c] = pad
            for c in range(width):
                q[p, c] = u[p, c]
        _softmax_range(q, minus_one, b0, b1, fast)


@numba.njit(cache=True, parallel=True)
def _start_parallel(unary, u, q, pad, minus_one, fast, parts):
    n = u.shape[0]
    step = (n + parts - 1) // parts
    for t in numba.prange(parts):
        _start_range(unary, u, q, pad, minus_one, fast, min(t * step, n), min((t + 1) * step, n))


@numba.njit(cache=True)
def _finish_range(q, out, p0, p1):
    """``out[:, p] = q[p, :L]`` for ``p0 <= p < p1``: padded pixel-major to label-major."""
    for b0 in range(p0, p1, _BLOCK):
        b1 = min(b0 + _BLOCK, p1)
        for c in range(out.shape[0]):
            for p in range(b0, b1):
                out[c, p] = q[p, c]


@numba.njit(cache=True, parallel=True)
def _finish_parallel(q, out, parts):
    n = q.shape[0]
    step = (n + parts - 1) // parts
    for t in numba.prange(parts):
        _finish_range(q, out, min(t * step, n), min((t + 1) * step, n))


# ============================================================================ fused update
@numba.njit(cache=True, fastmath=True)
def _update_range(q, u, diag, off_a, w_a, s_a, c_a, buf_a, off_b, w_b, s_b, c_b, buf_b, one,
                  fast, out, p0, p1):
    """``out[p] = softmax(-u[p] - diag[p]·q[p] + Σ_{m=a,b} c_m·s_m[p]·Σ_r w_m[p,r]·buf_m[o])``."""
    n_labels = q.shape[1]
    for b0 in range(p0, p1, _BLOCK):
        b1 = min(b0 + _BLOCK, p1)
        for p in range(b0, b1):
            dp = diag[p]
            for c in range(n_labels):  # reads q[p] before writing out[p]: out may be q
                out[p, c] = -u[p, c] - dp * q[p, c]
            s = c_a * s_a[p]
            for r in range(off_a.shape[1]):
                w = s * w_a[p, r]
                o = off_a[p, r]
                for c in range(n_labels):
                    out[p, c] += w * buf_a[o, c]
            s = c_b * s_b[p]
            for r in range(off_b.shape[1]):
                w = s * w_b[p, r]
                o = off_b[p, r]
                for c in range(n_labels):
                    out[p, c] += w * buf_b[o, c]
        _softmax_range(out, one, b0, b1, fast)


@numba.njit(cache=True)
def _update_serial(q, u, diag, off_a, w_a, nb_a, s_a, c_a, buf_a, tmp_a, off_b, w_b, nb_b, s_b,
                   c_b, buf_b, tmp_b, half, one, fast, out):
    """One mean-field iteration with two lattice kernels ``a`` and ``b``, one thread.

    q, u, out: (N, Lp) (``out`` may be ``q``); diag (N,): the self-term to remove (zeros if
    none); per kernel: offsets, weights (N, d+1), neighbours (d+1, M+1, 2), scale (N,),
    coef (weight · lattice constant), buffers (M+1, Lp). Scalars in the arrays' dtype.
    """
    n = q.shape[0]
    none = np.empty((0, 1, 1), buf_a.dtype)
    buf_a[:] = 0
    splat_range(q, s_a, off_a, w_a, buf_a, 0, n)
    res_a = vertex_pass(buf_a, tmp_a, none, nb_a, False, half)
    buf_b[:] = 0
    splat_range(q, s_b, off_b, w_b, buf_b, 0, n)
    res_b = vertex_pass(buf_b, tmp_b, none, nb_b, False, half)
    _update_range(q, u, diag, off_a, w_a, s_a, c_a, res_a, off_b, w_b, s_b, c_b, res_b, one,
                  fast, out, 0, n)


@numba.njit(cache=True, parallel=True)
def _update_parallel(q, u, diag, off_a, w_a, nb_a, s_a, c_a, buf_a, tmp_a, off_b, w_b, nb_b, s_b,
                     c_b, buf_b, tmp_b, half, one, fast, out, priv_a, priv_b):
    """``_update_serial`` over threads, in three parallel loops: the pixels in ``parts =
    len(priv_a) + 1`` chunks, chunk ``t > 0`` splatting into ``priv_a[t - 1]`` /
    ``priv_b[t - 1]``; then one thread sums and blurs kernel ``a``'s buffers while another
    does ``b``'s (about the same work for the usual bandwidths: 3 passes over the smoothness
    lattice's vertices, 6 over the fewer of the appearance lattice); then the slices and the
    softmax split the pixels."""
    n = q.shape[0]
    parts = priv_a.shape[0] + 1
    step = (n + parts - 1) // parts
    for t in numba.prange(parts):
        p0 = min(t * step, n)
        p1 = min((t + 1) * step, n)
        target_a = buf_a if t == 0 else priv_a[t - 1]
        target_b = buf_b if t == 0 else priv_b[t - 1]
        target_a[:] = 0
        target_b[:] = 0
        splat_range(q, s_a, off_a, w_a, target_a, p0, p1)
        splat_range(q, s_b, off_b, w_b, target_b, p0, p1)
    for t in numba.prange(2):
        if t == 0:
            vertex_pass(buf_a, tmp_a, priv_a, nb_a, False, half)
        else:
            vertex_pass(buf_b, tmp_b, priv_b, nb_b, False, half)
    res_a = tmp_a if nb_a.shape[0] % 2 else buf_a  # an odd number of passes ends in tmp
    res_b = tmp_b if nb_b.shape[0] % 2 else buf_b
    chunks = 4 * parts
    step = (n + chunks - 1) // chunks
    for t in numba.prange(chunks):
        _update_range(q, u, diag, off_a, w_a, s_a, c_a, res_a, off_b, w_b, s_b, c_b, res_b, one,
                      fast, out, min(t * step, n), min((t + 1) * step, n))


# ============================================================================ drivers
def _operands(weight, kernel, width, parts, typed):
    """One lattice kernel's arrays, as the update kernels take them (public attributes only)."""
    lattice = kernel.lattice
    scale = kernel.scale if kernel.scale is not None else np.ones(len(lattice.offsets), lattice.dtype)
    bufs = lattice.buffers(width, parts)
    return ((lattice.offsets, lattice.weights, lattice.neighbours, scale,
             typed(weight * kernel.coef), bufs.splat, bufs.spare), bufs.private)


def _parts(size):
    """Threads for a loop over ``size`` values: 1 (the serial kernels) below the threshold."""
    return parallel_parts() if size >= PARALLEL_MIN_SIZE else 1


def _iterate(u, q, kernels, n_iter, keep_history):
    """``n_iter`` fused updates from ``Q⁰ = q``; u, q: (N, Lp). Returns ``[Q⁰, …, Qⁿ]`` with
    ``keep_history``, else ``[Qⁿ]`` (then updated in ``q``'s memory)."""
    typed = u.dtype.type
    parts = _parts(u.size)
    (args_a, priv_a), (args_b, priv_b) = (_operands(w, k, u.shape[1], parts, typed) for w, k in kernels)
    diag = np.zeros(len(u), u.dtype)
    for w, kernel in kernels:
        if kernel.self_weight is not None:
            diag += typed(w) * kernel.self_weight
    history = [q]
    for _ in range(n_iter):
        out = np.empty_like(u) if keep_history else q
        args = (q, u, diag, *args_a, *args_b, typed(0.5), typed(1.0), u.dtype == np.float32, out)
        if parts > 1:
            _update_parallel(*args, priv_a, priv_b)
        else:
            _update_serial(*args)
        q = out
        if keep_history:
            history.append(q)
    return history if keep_history else [q]


def _started(unary):
    """``(u, Q⁰)``, both (N, Lp): unary (L, N) transposed and padded, and its softmax(-u)."""
    n_labels, n = unary.shape
    width = -(-n_labels // LANES) * LANES
    u = np.empty((n, width), unary.dtype)
    q = np.empty_like(u)
    typed = unary.dtype.type
    args = (unary, u, q, typed(PAD_ENERGY), typed(-1.0), unary.dtype == np.float32)
    parts = _parts(u.size)
    if parts > 1:
        _start_parallel(*args, 4 * parts)
    else:
        _start_range(*args, 0, n)
    return u, q


def fused_forward(unary, kernels, n_iter, keep_history):
    """The mean field with both kernels on lattices: ``Q⁰ = softmax(-U)``, then ``n_iter``
    fused updates ``Q ← softmax(-U + w_a K̃_a Q + w_b K̃_b Q)``.

    unary: (L, H, W) NumPy energies; kernels: ``((w_a, K_a), (w_b, K_b))``, two
    ``lattice.LatticeKernel`` in the unary's dtype. Returns ``(u, Q, history)``: u (N, L)
    the unary pixel-major (for backward), Q (L, H, W), history ``[Q⁰, …, Qⁿ]`` (N, L) with
    ``keep_history``, else ``None``. The (N, L) arrays are views of padded ones.
    """
    n_labels = unary.shape[0]
    u, q = _started(np.ascontiguousarray(unary).reshape(n_labels, -1))
    history = _iterate(u, q, kernels, n_iter, keep_history)
    out = np.empty((n_labels, len(u)), unary.dtype)
    parts = _parts(u.size)
    if parts > 1:
        _finish_parallel(history[-1], out, 4 * parts)
    else:
        _finish_range(history[-1], out, 0, len(u))
    history = [h[:, :n_labels] for h in history] if keep_history else None
    return u[:, :n_labels], out.reshape(unary.shape), history


def fused_history(u, kernels, n_iter):
    """``[Q⁰, …, Qⁿ]`` (N, L) for backward, from the pixel-major unary ``u`` (N, L) that
    ``fused_forward`` returned."""
    n_labels = u.shape[1]
    u, q = _started(np.ascontiguousarray(u.T))
    return [h[:, :n_labels] for h in _iterate(u, q, kernels, n_iter, True)]
