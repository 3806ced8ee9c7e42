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

__all__ = ["softmax", "fused_mean_field"]


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
def _softmax_row(a, sign, out, p, fast, bits, two_k, poly):
    """``out[p] = softmax(sign · a[p])`` (``out`` may be ``a``); bits, two_k, poly: (L,)
    float32 scratch for the fast exp, which ``fast`` (float32 arrays only) selects."""
    n_labels = a.shape[1]
    top = sign * a[p, 0]
    for c in range(1, n_labels):
        top = max(top, sign * a[p, c])
    total = top * 0
    if fast:
        p0_, p1_, p2_, p3_, p4_, p5_ = _EXP_P
        for c in range(n_labels):
            x = max(sign * a[p, c] - top, _LOWEST32)
            k = np.floor(x * _LOG2E + _HALF32)
            r = x - k * _LN2_HI - k * _LN2_LO
            poly[c] = (((((p0_ * r + p1_) * r + p2_) * r + p3_) * r + p4_) * r + p5_) * r * r + r + _ONE32
            bits[c] = (np.int32(k) + np.int32(127)) << np.int32(23)
        for c in range(n_labels):
            e = poly[c] * two_k[c]
            out[p, c] = e
            total += e
    else:
        for c in range(n_labels):
            e = np.exp(sign * a[p, c] - top)
            out[p, c] = e
            total += e
    inv = sign * sign / total  # sign² = 1, in the arrays' dtype (1 / total would be float64)
    for c in range(n_labels):
        out[p, c] *= inv


@numba.njit(cache=True)
def _softmax_range(a, sign, out, p0, p1, fast):
    """``out[p] = softmax(sign · a[p])`` over the labels, for pixels ``p0 <= p < p1``."""
    bits = np.empty(a.shape[1], np.int32)
    two_k = bits.view(np.float32)  # 2^k, from its exponent bits
    poly = np.empty(a.shape[1], np.float32)
    for p in range(p0, p1):
        _softmax_row(a, sign, out, p, fast, bits, two_k, poly)


@numba.njit(cache=True)
def _softmax_serial(a, sign, out, fast):
    _softmax_range(a, sign, out, 0, a.shape[0], fast)


@numba.njit(cache=True, parallel=True)
def _softmax_parallel(a, sign, out, fast, parts):
    n = a.shape[0]
    step = (n + parts - 1) // parts
    for t in numba.prange(parts):
        _softmax_range(a, sign, out, min(t * step, n), min((t + 1) * step, n), fast)


def softmax(a, sign, out):
    """``out = softmax(sign · a)`` along axis 1; a, out: (N, L) NumPy arrays (may be the
    same array); sign ±1. Returns ``out``."""
    fast = a.dtype == np.float32
    sign = a.dtype.type(sign)
    if a.size >= PARALLEL_MIN_SIZE and parallel_parts() > 1:
        _softmax_parallel(a, sign, out, fast, 4 * parallel_parts())
    else:
        _softmax_serial(a, sign, out, fast)
    return out


# ============================================================================ fused update
@numba.njit(cache=True, fastmath=True)
def _update_range(q, u, diag, off_a, w_a, s_a, c_a, buf_a, off_b, w_b, s_b, c_b, buf_b, one,
                  fast, out, p0, p1):
    """``out[p] = softmax(-u[p] - diag[p]·q[p] + Σ_{m=a,b} c_m·s_m[p]·Σ_r w_m[p,r]·buf_m[o])``."""
    n_labels = q.shape[1]
    bits = np.empty(n_labels, np.int32)
    two_k = bits.view(np.float32)
    poly = np.empty(n_labels, np.float32)
    for p in range(p0, p1):
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
        _softmax_row(out, one, out, p, fast, bits, two_k, poly)


@numba.njit(cache=True)
def _update_serial(q, u, diag, off_a, w_a, nb_a, s_a, c_a, buf_a, tmp_a, off_b, w_b, nb_b, s_b,
                   c_b, buf_b, tmp_b, half, one, fast, out):
    """One mean-field iteration with two lattice kernels ``a`` and ``b``, one thread.

    q, u, out: (N, L) (``out`` may be ``q``); diag (N,): the self-term to remove (zeros if
    none); per kernel: offsets, weights (N, d+1), neighbours (d+1, M+1, 2), scale (N,),
    coef (weight · lattice constant), buffers (M+1, L). Scalars in the arrays' dtype.
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
    """``_update_serial`` over threads: the pixels in ``parts = len(priv_a) + 1`` chunks,
    chunk ``t > 0`` splatting into ``priv_a[t - 1]`` / ``priv_b[t - 1]``; the slices +
    softmax split the pixels; the blur runs on one thread."""
    n = q.shape[0]
    parts = priv_a.shape[0] + 1
    buf_a[:] = 0
    buf_b[:] = 0
    priv_a[:] = 0
    priv_b[:] = 0
    step = (n + parts - 1) // parts
    for t in numba.prange(parts):
        p0 = min(t * step, n)
        p1 = min((t + 1) * step, n)
        if t == 0:
            splat_range(q, s_a, off_a, w_a, buf_a, p0, p1)
            splat_range(q, s_b, off_b, w_b, buf_b, p0, p1)
        else:
            splat_range(q, s_a, off_a, w_a, priv_a[t - 1], p0, p1)
            splat_range(q, s_b, off_b, w_b, priv_b[t - 1], p0, p1)
    res_a = vertex_pass(buf_a, tmp_a, priv_a, nb_a, False, half)
    res_b = vertex_pass(buf_b, tmp_b, priv_b, nb_b, False, half)
    chunks = 4 * parts
    step = (n + chunks - 1) // chunks
    for t in numba.prange(chunks):
        _update_range(q, u, diag, off_a, w_a, s_a, c_a, res_a, off_b, w_b, s_b, c_b, res_b, one,
                      fast, out, min(t * step, n), min((t + 1) * step, n))


def _operands(weight, kernel, n_labels, parts, typed):
    """One lattice kernel's arrays, as the update kernels take them (public attributes only)."""
    lattice = kernel.lattice
    scale = kernel.scale if kernel.scale is not None else np.ones(len(lattice.offsets), lattice.dtype)
    bufs = lattice.buffers(n_labels, parts)
    return ((lattice.offsets, lattice.weights, lattice.neighbours, scale,
             typed(weight * kernel.coef), bufs.splat, bufs.spare), bufs.private)


def fused_mean_field(unary, kernels, n_iter, keep_history):
    """``Q⁰ = softmax(-U)``, then ``n_iter`` fused updates ``Q ← softmax(-U + Σ_m w_m K̃_m Q)``.

    unary: (N, L) NumPy energies (pixel-major); kernels: ``((w_a, K_a), (w_b, K_b))``, two
    ``lattice.LatticeKernel`` in the unary's dtype. Returns the list ``[Q⁰, …, Qⁿ]`` with
    ``keep_history``, else ``[Qⁿ]`` (the iterations then update one array in place).
    """
    typed = unary.dtype.type
    n_labels = unary.shape[1]
    parallel = unary.size >= PARALLEL_MIN_SIZE and parallel_parts() > 1
    parts = parallel_parts() if parallel else 1
    (args_a, priv_a), (args_b, priv_b) = (_operands(w, k, n_labels, parts, typed) for w, k in kernels)
    diag = np.zeros(len(unary), unary.dtype)
    for w, kernel in kernels:
        if kernel.self_weight is not None:
            diag += typed(w) * kernel.self_weight
    q = softmax(unary, -1.0, np.empty_like(unary))
    history = [q]
    for _ in range(n_iter):
        out = np.empty_like(unary) if keep_history else q
        args = (q, unary, diag, *args_a, *args_b, typed(0.5), typed(1.0), unary.dtype == np.float32,
                out)
        if parallel:
            _update_parallel(*args, priv_a, priv_b)
        else:
            _update_serial(*args)
        q = out
        if keep_history:
            history.append(q)
    return history if keep_history else [q]
