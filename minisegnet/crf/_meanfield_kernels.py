"""The mean field's fast tier (``backend.fast_tier``): the whole mean field, and its backward,
with both kernels on permutohedral lattices, each as one fused Numba call.

``meanfield.py`` calls ``fused_forward`` / ``fused_gradients`` when both pairwise kernels
are lattices with nonzero weights and the fast tier is on; everything else (the exact
kernel, a zero weight, the reference tier, CuPy arrays) runs the reference tier's loop. The
two agree to rounding (``tests/crf/test_tiers.py``). This module imports ``numba`` at its
top: ``backend.fast_tier`` imports it on first use. It is never graded (A4 grades the
reference tier) and may be left out of the student edition.

What makes it fast, against the reference tier's array operations:

* one pass over the pixels per iteration: each thread owns a chunk of the pixels and, a
  block of 64 pixels at a time (their rows stay in the L1 cache), slices both lattices, adds
  the unary, takes the softmax and splats the new Q into its own vertex buffers for the
  next iteration; between two such passes one thread blurs each lattice. Two parallel loops
  (two barriers) per iteration, Q read and written once;
* the label axis padded to a multiple of 8 (``LANES``): the label loops run whole SIMD
  vectors, with no scalar remainder (21 labels as 24 slice about 1.5x faster);
* a float32 softmax whose exp is a polynomial (Cephes' expf) that vectorises, in place;
* the transposes between the (L, H, W) arrays and the pixel-major (N, L) layout inside
  the first and last passes.

Layout and conventions are those of ``_lattice_kernels.py``: vertex ``v`` in row ``v + 1``
of the (M+1, L) buffers, scalars in the arrays' dtype.
"""

from __future__ import annotations

import numba
import numpy as np

from ._lattice_kernels import PARALLEL_MIN_SIZE, parallel_parts, splat_range, vertex_pass

__all__ = ["fused_forward", "fused_gradients"]


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
def _start_block(unary, u, q, pad, minus_one, fast, b0, b1):
    """For pixels ``b0 <= p < b1``: ``u[p] = (unary[:, p], pad, …)`` (label-major (L, N) to
    padded pixel-major (N, Lp)) and ``q[p] = softmax(-u[p])``."""
    n_labels = unary.shape[0]
    width = u.shape[1]
    for c in range(n_labels):  # a transpose: the rows of unary are read in order
        for p in range(b0, b1):
            u[p, c] = unary[c, p]
    for p in range(b0, b1):
        for c in range(n_labels, width):
            u[p, c] = pad
        for c in range(width):
            q[p, c] = u[p, c]
    _softmax_range(q, minus_one, b0, b1, fast)


@numba.njit(cache=True, fastmath=True)
def _update_block(q, u, diag, ka, res_a, kb, res_b, one, fast, out, b0, b1):
    """``out[p] = softmax(-u[p] - diag[p]·q[p] + Σ_{m=a,b} c_m·s_m[p]·Σ_r w_m[p,r]·res_m[o])``
    for ``b0 <= p < b1``: both slices, the unary and the softmax (``out`` may be ``q``)."""
    off_a, w_a, _, s_a, c_a = ka
    off_b, w_b, _, s_b, c_b = kb
    width = q.shape[1]
    for p in range(b0, b1):
        dp = diag[p]
        for c in range(width):  # reads q[p] before writing out[p]: out may be q
            out[p, c] = -u[p, c] - dp * q[p, c]
        s = c_a * s_a[p]
        for r in range(off_a.shape[1]):
            w = s * w_a[p, r]
            o = off_a[p, r]
            for c in range(width):
                out[p, c] += w * res_a[o, c]
        s = c_b * s_b[p]
        for r in range(off_b.shape[1]):
            w = s * w_b[p, r]
            o = off_b[p, r]
            for c in range(width):
                out[p, c] += w * res_b[o, c]
    _softmax_range(out, one, b0, b1, fast)


@numba.njit(cache=True)
def _splat_block(q, ka, target_a, kb, target_b, b0, b1):
    """Splat ``q[b0:b1]`` into both kernels' targets (the next iteration's vertex buffers)."""
    splat_range(q, ka[3], ka[0], ka[1], target_a, b0, b1)
    splat_range(q, kb[3], kb[0], kb[1], target_b, b0, b1)


@numba.njit(cache=True)
def _transpose_block(q, final, b0, b1):
    """``final[:, p] = q[p, :L]`` for ``b0 <= p < b1``: padded pixel-major to label-major."""
    for c in range(final.shape[0]):
        for p in range(b0, b1):
            final[c, p] = q[p, c]


@numba.njit(cache=True)
def _start_chunk(unary, u, q, pad, minus_one, fast, ka, target_a, kb, target_b, p0, p1):
    """Pixels ``p0 <= p < p1`` (one thread's chunk), a block at a time: ``u``, ``Q⁰`` and
    Q⁰'s splat into this thread's targets (zeroed first)."""
    target_a[:] = 0
    target_b[:] = 0
    for b0 in range(p0, p1, _BLOCK):
        b1 = min(b0 + _BLOCK, p1)
        _start_block(unary, u, q, pad, minus_one, fast, b0, b1)
        _splat_block(q, ka, target_a, kb, target_b, b0, b1)


@numba.njit(cache=True)
def _update_chunk(q, u, diag, ka, res_a, target_a, kb, res_b, target_b, one, fast, out, last,
                  final, p0, p1):
    """Pixels ``p0 <= p < p1`` (one thread's chunk), a block at a time: the update into
    ``out``; then, unless ``last``, the block's splat into this thread's targets for the
    next iteration (zeroed first), else (if ``final`` has rows) its label-major copy."""
    if not last:
        target_a[:] = 0
        target_b[:] = 0
    for b0 in range(p0, p1, _BLOCK):
        b1 = min(b0 + _BLOCK, p1)
        _update_block(q, u, diag, ka, res_a, kb, res_b, one, fast, out, b0, b1)
        if not last:
            _splat_block(out, ka, target_a, kb, target_b, b0, b1)
        elif final.shape[0] > 0:
            _transpose_block(out, final, b0, b1)


@numba.njit(cache=True)
def _blurred(pair, first, private, neighbours, half):
    """Sum the other threads' splats into ``pair[first]`` and blur (the passes alternate
    between ``pair[0]`` and ``pair[1]``); returns the index in ``pair`` of the result."""
    vertex_pass(pair[first], pair[1 - first], private, neighbours, False, half)
    return first if neighbours.shape[0] % 2 == 0 else 1 - first


@numba.njit(cache=True)
def _mean_field_serial(unary, u, history, pad, fast, ka, pair_a, kb, pair_b, diag, half, n_iter,
                       final):
    """The whole mean field on one thread (see ``_mean_field_parallel``)."""
    typed_one = half + half
    n = u.shape[0]
    none = np.empty((0,) + pair_a.shape[1:], pair_a.dtype)
    first_a = first_b = 0
    _start_chunk(unary, u, history[0], pad, -typed_one, fast, ka, pair_a[0], kb, pair_b[0], 0, n)
    for it in range(n_iter):
        res_a = _blurred(pair_a, first_a, none, ka[2], half)
        res_b = _blurred(pair_b, first_b, none, kb[2], half)
        first_a, first_b = 1 - res_a, 1 - res_b
        q = history[min(it, history.shape[0] - 1)]
        out = history[min(it + 1, history.shape[0] - 1)]
        _update_chunk(q, u, diag, ka, pair_a[res_a], pair_a[first_a], kb, pair_b[res_b],
                      pair_b[first_b], typed_one, fast, out, it == n_iter - 1, final, 0, n)


@numba.njit(cache=True, parallel=True)
def _mean_field_parallel(unary, u, history, pad, fast, ka, pair_a, priv_a, kb, pair_b, priv_b,
                         diag, half, n_iter, final):
    """The whole mean field over ``parts = len(priv_a) + 1`` threads, in ``1 + 2·n_iter``
    parallel loops: thread ``t`` owns a chunk of the pixels and its own splat targets
    (``pair[first]`` for thread 0, ``priv[t - 1]`` for the others).

    1. each thread: ``u``, ``Q⁰`` and Q⁰'s splat, for its chunk;
    2. per iteration: one thread sums the splats of kernel ``a`` and blurs them while another
       does ``b``'s (about the same work for the usual bandwidths: 3 passes over the
       smoothness lattice's vertices, 6 over the fewer of the appearance lattice); then each
       thread slices both, adds the unary, takes the softmax and, but in the last
       iteration, splats the result for the next one, a block of pixels at a time (the rows
       are still in the L1 cache), or in the last iteration writes the label-major output.

    unary (L, N); u (N, Lp) filled here; history (n_iter + 1, N, Lp) (every Qᵗ) or
    (1, N, Lp) (updated in place); ka, kb: (offsets, weights, neighbours, scale, coef);
    pair (2, M+1, Lp), priv (parts-1, M+1, Lp); diag (N,); final (L, N) or (0, 0).
    """
    typed_one = half + half
    n = u.shape[0]
    parts = priv_a.shape[0] + 1
    step = (n + parts - 1) // parts
    first_a = first_b = 0
    for t in numba.prange(parts):
        target_a = pair_a[0] if t == 0 else priv_a[t - 1]
        target_b = pair_b[0] if t == 0 else priv_b[t - 1]
        _start_chunk(unary, u, history[0], pad, -typed_one, fast, ka, target_a, kb, target_b,
                     min(t * step, n), min((t + 1) * step, n))
    for it in range(n_iter):
        res = np.empty(2, np.int64)
        for k in numba.prange(2):
            if k == 0:
                res[0] = _blurred(pair_a, first_a, priv_a, ka[2], half)
            else:
                res[1] = _blurred(pair_b, first_b, priv_b, kb[2], half)
        res_a, res_b = res[0], res[1]
        first_a, first_b = 1 - res_a, 1 - res_b
        q = history[min(it, history.shape[0] - 1)]
        out = history[min(it + 1, history.shape[0] - 1)]
        last = it == n_iter - 1
        for t in numba.prange(parts):
            target_a = pair_a[first_a] if t == 0 else priv_a[t - 1]
            target_b = pair_b[first_b] if t == 0 else priv_b[t - 1]
            _update_chunk(q, u, diag, ka, pair_a[res_a], target_a, kb, pair_b[res_b], target_b,
                          typed_one, fast, out, last, final, min(t * step, n), min((t + 1) * step, n))


# ============================================================================ fused backward
# CRF-as-RNN, the iterations backwards, with the same blocks and threads as the forward:
# dAᵗ = Qᵗ ⊙ (dQᵗ − ⟨Qᵗ, dQᵗ⟩) and its splat (reverse blur: the transposed lattice), then
# per pixel fᵗ_m = K̃_mᵀ dAᵗ (both slices), ∂/∂w_m += ⟨fᵗ_m, Qᵗ⁻¹⟩, dQᵗ⁻¹ = Σ_m w_m fᵗ_m and
# at once the next dAᵗ⁻¹; dU = −Σ_t dAᵗ.
@numba.njit(cache=True, fastmath=True)
def _softmax_backward_block(q, g, da, du, start, b0, b1):
    """``da[p] = q[p] ⊙ (g[p] − ⟨q[p], g[p]⟩)`` and ``du[p] −= da[p]`` (``du[p] = −da[p]``
    with ``start``), for ``b0 <= p < b1``."""
    width = q.shape[1]
    for p in range(b0, b1):
        inner = q[p, 0] * g[p, 0]
        for c in range(1, width):
            inner += q[p, c] * g[p, c]
        for c in range(width):
            da[p, c] = q[p, c] * (g[p, c] - inner)
        if start:
            for c in range(width):
                du[p, c] = -da[p, c]
        else:
            for c in range(width):
                du[p, c] -= da[p, c]


@numba.njit(cache=True, fastmath=True)
def _message_backward_block(da, q_prev, ka, res_a, self_a, w_a, kb, res_b, self_b, w_b, g,
                            partial, b0, b1):
    """``f_m[p] = c_m·s_m[p]·Σ_r w_m[p,r]·res_m[o] − self_m[p]·da[p]`` (``K̃_mᵀ dA``),
    ``partial[m] += ⟨f_m[p], q_prev[p]⟩`` and ``g[p] = w_a f_a[p] + w_b f_b[p]``."""
    off_a, wt_a, _, s_a, c_a = ka
    off_b, wt_b, _, s_b, c_b = kb
    width = da.shape[1]
    f_a = np.empty(width, da.dtype)
    f_b = np.empty(width, da.dtype)
    for p in range(b0, b1):
        for c in range(width):
            f_a[c] = -self_a[p] * da[p, c]
            f_b[c] = -self_b[p] * da[p, c]
        s = c_a * s_a[p]
        for r in range(off_a.shape[1]):
            w = s * wt_a[p, r]
            o = off_a[p, r]
            for c in range(width):
                f_a[c] += w * res_a[o, c]
        s = c_b * s_b[p]
        for r in range(off_b.shape[1]):
            w = s * wt_b[p, r]
            o = off_b[p, r]
            for c in range(width):
                f_b[c] += w * res_b[o, c]
        dot_a = f_a[0] * q_prev[p, 0]
        dot_b = f_b[0] * q_prev[p, 0]
        for c in range(1, width):
            dot_a += f_a[c] * q_prev[p, c]
            dot_b += f_b[c] * q_prev[p, c]
        partial[0] += dot_a
        partial[1] += dot_b
        for c in range(width):
            g[p, c] = w_a * f_a[c] + w_b * f_b[c]


@numba.njit(cache=True)
def _gradient_start_chunk(dq, g, q_last, da, du, ka, target_a, kb, target_b, p0, p1):
    """Pixels ``p0 <= p < p1``: ``g = dQ`` (label-major to padded pixel-major), ``dAⁿ``,
    ``dU = −dAⁿ`` and dAⁿ's splat into this thread's targets (zeroed first)."""
    target_a[:] = 0
    target_b[:] = 0
    for b0 in range(p0, p1, _BLOCK):
        b1 = min(b0 + _BLOCK, p1)
        for p in range(b0, b1):
            for c in range(dq.shape[0], g.shape[1]):
                g[p, c] = 0
        for c in range(dq.shape[0]):
            for p in range(b0, b1):
                g[p, c] = dq[c, p]
        _softmax_backward_block(q_last, g, da, du, True, b0, b1)
        _splat_block(da, ka, target_a, kb, target_b, b0, b1)


@numba.njit(cache=True)
def _gradient_chunk(q_prev, g, da, du, ka, res_a, self_a, w_a, target_a, kb, res_b, self_b, w_b,
                    target_b, partial, last, du_out, p0, p1):
    """Pixels ``p0 <= p < p1``, a block at a time: ``K̃ᵀ dAᵗ``, the compat gradients and
    ``dQᵗ⁻¹``, then ``dAᵗ⁻¹`` and ``dU −= dAᵗ⁻¹``; then, unless ``last`` (t = 1), dAᵗ⁻¹'s
    splat into this thread's targets (zeroed first), else dU label-major into ``du_out``."""
    if not last:
        target_a[:] = 0
        target_b[:] = 0
    for b0 in range(p0, p1, _BLOCK):
        b1 = min(b0 + _BLOCK, p1)
        _message_backward_block(da, q_prev, ka, res_a, self_a, w_a, kb, res_b, self_b, w_b, g,
                                partial, b0, b1)
        _softmax_backward_block(q_prev, g, da, du, False, b0, b1)
        if not last:
            _splat_block(da, ka, target_a, kb, target_b, b0, b1)
        else:
            _transpose_block(du, du_out, b0, b1)


@numba.njit(cache=True)
def _reverse_blurred(pair, first, private, neighbours, half):
    """``_blurred`` with the passes in reverse order: the transposed lattice ``Bᵀ``."""
    vertex_pass(pair[first], pair[1 - first], private, neighbours, True, half)
    return first if neighbours.shape[0] % 2 == 0 else 1 - first


@numba.njit(cache=True)
def _gradients_serial(dq, history, ka, pair_a, self_a, w_a, kb, pair_b, self_b, w_b, half,
                      n_iter, g, da, du, partial, du_out):
    """The whole backward on one thread (see ``_gradients_parallel``)."""
    n = g.shape[0]
    none = np.empty((0,) + pair_a.shape[1:], pair_a.dtype)
    first_a = first_b = 0
    _gradient_start_chunk(dq, g, history[n_iter], da, du, ka, pair_a[0], kb, pair_b[0], 0, n)
    for t in range(n_iter, 0, -1):
        res_a = _reverse_blurred(pair_a, first_a, none, ka[2], half)
        res_b = _reverse_blurred(pair_b, first_b, none, kb[2], half)
        first_a, first_b = 1 - res_a, 1 - res_b
        _gradient_chunk(history[t - 1], g, da, du, ka, pair_a[res_a], self_a, w_a, pair_a[first_a],
                        kb, pair_b[res_b], self_b, w_b, pair_b[first_b], partial[0], t == 1, du_out,
                        0, n)


@numba.njit(cache=True, parallel=True)
def _gradients_parallel(dq, history, ka, pair_a, priv_a, self_a, w_a, kb, pair_b, priv_b, self_b,
                        w_b, half, n_iter, g, da, du, partial, du_out):
    """The whole backward over ``parts = len(priv_a) + 1`` threads in ``1 + 2·n_iter``
    parallel loops, as ``_mean_field_parallel``: thread ``t`` owns a chunk of the pixels, its
    splat targets and ``partial[t]`` (its share of the two compat gradients).

    dq (L, N); history (n_iter + 1, N, Lp); ka, kb: (offsets, weights, neighbours, scale,
    coef) with the lattice's coef (no weight); self (N,) (zeros without exclude_self);
    w the weights; g, da, du (N, Lp) scratch; partial (parts, 2) float64 zeros; du_out (L, N).
    """
    n = g.shape[0]
    parts = priv_a.shape[0] + 1
    step = (n + parts - 1) // parts
    first_a = first_b = 0
    for t in numba.prange(parts):
        target_a = pair_a[0] if t == 0 else priv_a[t - 1]
        target_b = pair_b[0] if t == 0 else priv_b[t - 1]
        _gradient_start_chunk(dq, g, history[n_iter], da, du, ka, target_a, kb, target_b,
                              min(t * step, n), min((t + 1) * step, n))
    for it in range(n_iter, 0, -1):
        res = np.empty(2, np.int64)
        for k in numba.prange(2):
            if k == 0:
                res[0] = _reverse_blurred(pair_a, first_a, priv_a, ka[2], half)
            else:
                res[1] = _reverse_blurred(pair_b, first_b, priv_b, kb[2], half)
        res_a, res_b = res[0], res[1]
        first_a, first_b = 1 - res_a, 1 - res_b
        for t in numba.prange(parts):
            target_a = pair_a[first_a] if t == 0 else priv_a[t - 1]
            target_b = pair_b[first_b] if t == 0 else priv_b[t - 1]
            _gradient_chunk(history[it - 1], g, da, du, ka, pair_a[res_a], self_a, w_a, target_a,
                            kb, pair_b[res_b], self_b, w_b, target_b, partial[t], it == 1, du_out,
                            min(t * step, n), min((t + 1) * step, n))


# ============================================================================ drivers
def _operands(weight, kernel, width, parts, typed):
    """One lattice kernel's arrays (public attributes only): ``((offsets, weights,
    neighbours, scale, coef), buffers)``."""
    lattice = kernel.lattice
    scale = kernel.scale if kernel.scale is not None else np.ones(len(lattice.offsets), lattice.dtype)
    return ((lattice.offsets, lattice.weights, lattice.neighbours, scale,
             typed(weight * kernel.coef)), lattice.buffers(width, parts))


def _run(unary, kernels, n_iter, keep_history, final):
    """The fused mean field on label-major energies ``unary`` (L, N): returns ``(u, history)``,
    both padded, pixel-major: u (N, Lp) and history (n_iter + 1 or 1, N, Lp); ``final``
    (L, N) receives Qⁿ label-major (or is (0, 0))."""
    n_labels, n = unary.shape
    width = -(-n_labels // LANES) * LANES
    typed = unary.dtype.type
    u = np.empty((n, width), unary.dtype)
    history = np.empty((n_iter + 1 if keep_history else 1, n, width), unary.dtype)
    parts = parallel_parts() if u.size >= PARALLEL_MIN_SIZE else 1
    (ka, bufs_a), (kb, bufs_b) = (_operands(w, k, width, parts, typed) for w, k in kernels)
    diag = np.zeros(n, unary.dtype)
    for w, kernel in kernels:
        if kernel.self_weight is not None:
            diag += typed(w) * kernel.self_weight
    fast = unary.dtype == np.float32
    if parts > 1:
        _mean_field_parallel(unary, u, history, typed(PAD_ENERGY), fast, ka, bufs_a.pair,
                             bufs_a.private, kb, bufs_b.pair, bufs_b.private, diag, typed(0.5),
                             n_iter, final)
    else:
        _mean_field_serial(unary, u, history, typed(PAD_ENERGY), fast, ka, bufs_a.pair, kb,
                           bufs_b.pair, diag, typed(0.5), n_iter, final)
    return u, history


def fused_forward(unary, kernels, n_iter, keep_history):
    """The mean field with both kernels on lattices: ``Q⁰ = softmax(-U)``, then ``n_iter ≥ 1``
    fused updates ``Q ← softmax(-U + w_a K̃_a Q + w_b K̃_b Q)``.

    unary: (L, H, W) NumPy energies; kernels: ``((w_a, K_a), (w_b, K_b))``, two
    ``lattice.LatticeKernel`` in the unary's dtype. Returns ``(u, Q, history)``: u (N, L)
    the unary pixel-major (for backward), Q (L, H, W), history ``[Q⁰, …, Qⁿ]`` (an
    (n_iter + 1, N, L) array) with ``keep_history``, else ``None``; u and history are views
    of padded arrays.
    """
    n_labels = unary.shape[0]
    flat = np.ascontiguousarray(unary).reshape(n_labels, -1)
    final = np.empty_like(flat)
    u, history = _run(flat, kernels, n_iter, keep_history, final)
    history = history[:, :, :n_labels] if keep_history else None
    return u[:, :n_labels], final.reshape(unary.shape), history


def _padded_history(history, n_labels):
    """The padded (n_iter + 1, N, Lp) array behind ``history`` if ``fused_forward`` made it."""
    base = getattr(history, "base", None)
    if (isinstance(history, np.ndarray) and base is not None and base.ndim == 3
            and base.shape[:2] == history.shape[:2] and base.shape[2] % LANES == 0):
        return base
    return None


def fused_gradients(dQ, u, history, kernels, n_iter):
    """The gradients of ``fused_forward``: ``(dU, ∂/∂w_a, ∂/∂w_b)``, dU (L, H, W) like dQ.

    dQ (L, H, W); u (N, L) and history (``None``, or the ``[Q⁰, …, Qⁿ]`` that
    ``fused_forward`` returned): recomputed here when ``None``.
    """
    n_labels = dQ.shape[0]
    padded = _padded_history(history, n_labels)
    if padded is None:
        _, padded = _run(np.ascontiguousarray(u.T), kernels, n_iter, True, np.empty((0, 0), u.dtype))
    n, width = padded.shape[1:]
    typed = dQ.dtype.type
    parts = parallel_parts() if n * width >= PARALLEL_MIN_SIZE else 1
    (ka, bufs_a), (kb, bufs_b) = (_operands(1.0, k, width, parts, typed) for _, k in kernels)
    (w_a, k_a), (w_b, k_b) = kernels
    self_a, self_b = (k.self_weight if k.self_weight is not None else np.zeros(n, dQ.dtype)
                      for k in (k_a, k_b))
    dq = np.ascontiguousarray(dQ).reshape(n_labels, n)
    g, da, du = (np.empty((n, width), dQ.dtype) for _ in range(3))
    du_out = np.empty_like(dq)
    partial = np.zeros((parts, 2))
    if parts > 1:
        _gradients_parallel(dq, padded, ka, bufs_a.pair, bufs_a.private, self_a, typed(w_a), kb,
                            bufs_b.pair, bufs_b.private, self_b, typed(w_b), typed(0.5), n_iter,
                            g, da, du, partial, du_out)
    else:
        _gradients_serial(dq, padded, ka, bufs_a.pair, self_a, typed(w_a), kb, bufs_b.pair, self_b,
                          typed(w_b), typed(0.5), n_iter, g, da, du, partial, du_out)
    return du_out.reshape(dQ.shape), float(partial[:, 0].sum()), float(partial[:, 1].sum())
