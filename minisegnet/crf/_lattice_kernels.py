"""Numba kernels of the permutohedral lattice (Adams, Baek & Davis 2010): build, splat, blur,
slice; and the mean field's per-pixel softmax and its backward.

This module imports ``numba`` at its top, so ``lattice.py`` and ``meanfield.py`` import *it*
lazily, on the CPU path only. The vectorised twin of every kernel lives in those modules
(it runs on NumPy and CuPy arrays and is tested against these kernels).

Layout: values are ``(N, L)`` (pixel-major, the ``L`` label channels contiguous), so every
inner loop runs over labels with unit stride. Lattice vertex ``v`` is stored in row
``v + 1`` of the ``(M + 1, L)`` vertex buffers; row 0 is a zero row that stands in for a
missing blur neighbour, so the blur needs no branches.

Serial and parallel drivers are separate functions on purpose: Numba's disk cache is keyed
by function, so one function compiled twice with different ``parallel`` flags would load
whichever variant was cached first for both (see ``functional/_numba_kernels.py``). The
per-range helpers are compiled once, without ``parallel``, and called from both.
"""

from __future__ import annotations

import numba
import numpy as np

# Below this many values (pixels x labels) a thread team costs more than it saves.
PARALLEL_MIN_SIZE = 1 << 15

_HASH_MULTIPLIER = 1664525  # Knuth's LCG multiplier, as in Krähenbühl's lattice
_HASH_MIX = -4658895280553007687  # 0xbf58476d1ce4e5b9 as a signed int64 (splitmix64)


# ============================================================================ the hash table
@numba.njit(cache=True)
def _hash(key, d):
    h = 0
    for i in range(d):
        h = (h + key[i]) * _HASH_MULTIPLIER  # int64 arithmetic wraps around: fine for a hash
    # the table is a power of two indexed by the low bits, which a multiply barely mixes:
    # fold the high bits in (a splitmix64-style finaliser)
    h ^= h >> 31
    h *= _HASH_MIX
    h ^= h >> 29
    return h


@numba.njit(cache=True)
def _lookup(table, keys, key, d):
    """Index of ``key`` in ``keys`` (linear probing in ``table``), or ``-1`` if absent;
    with ``-1`` also the free slot where it would go (second value)."""
    mask = table.shape[0] - 1
    slot = _hash(key, d) & mask
    while True:
        e = table[slot]
        if e < 0:
            return -1, slot
        same = True
        for i in range(d):
            if keys[e, i] != key[i]:
                same = False
                break
        if same:
            return e, slot
        slot = (slot + 1) & mask


@numba.njit(cache=True)
def _grown(table, keys, filled, d):
    """A table (and key store) of twice the capacity holding the same ``filled`` keys."""
    capacity = table.shape[0] * 2
    new_table = np.full(capacity, -1, np.int32)
    new_keys = np.empty((capacity // 2 + 1, d), np.int32)
    for e in range(filled):
        for i in range(d):
            new_keys[e, i] = keys[e, i]
    mask = capacity - 1
    for e in range(filled):
        slot = _hash(new_keys[e], d) & mask
        while new_table[slot] >= 0:
            slot = (slot + 1) & mask
        new_table[slot] = e
    return new_table, new_keys


# ============================================================================ building
@numba.njit(cache=True)
def _round_half_even(x):
    """Nearest integer, ties to even (the SSE rounding mode of Krähenbühl's code); cheaper
    to compile than ``np.rint``."""
    f = np.floor(x)
    diff = x - f
    if diff > 0.5 or (diff == 0.5 and f % 2 != 0):
        f += 1.0
    return f


@numba.njit(cache=True)
def build_lattice(features):
    """Embed ``features`` (N, d) float64 in the permutohedral lattice A*_d.

    Returns ``(offsets, weights, neighbours)``:

    * ``offsets`` (N, d+1) int32: the ``d + 1`` vertices of the simplex enclosing each
      pixel, as ``vertex + 1`` (row in the vertex buffers);
    * ``weights`` (N, d+1) float64: the pixel's barycentric coordinates in that simplex
      (non-negative, summing to 1): splat and slice weights;
    * ``neighbours`` (d+1, M+1, 2) int32: for each of the ``d + 1`` lattice directions, the
      two neighbours (``-e`` and ``+e``) of every vertex along it, as ``vertex + 1``,
      0 where the neighbour holds no pixel (row 0 is zero). Row 0 of axis 1 is unused.

    Features are scaled by ``sqrt(2/3)·(d+1)/sqrt((i+1)(i+2))`` before the elevation, so the
    blur's ``[1/2, 1, 1/2]`` passes approximate a unit-variance Gaussian (Adams et al. 2010,
    p. 5-6; the same constants as Krähenbühl's code, so that results match pydensecrf).
    """
    n, d = features.shape
    d1 = d + 1
    inv_std_dev = np.sqrt(2.0 / 3.0) * d1
    scale = np.empty(d)
    for i in range(d):
        scale[i] = inv_std_dev / np.sqrt((i + 1.0) * (i + 2.0))
    # canonical simplex: vertex r of the simplex, coordinate ranked k, is r or r - (d+1)
    canonical = np.empty((d1, d1), np.int64)
    for r in range(d1):
        for k in range(d1):
            canonical[r, k] = r if k <= d - r else r - d1

    capacity = 1024  # grows as vertices arrive: a small table stays in cache
    table = np.full(capacity, -1, np.int32)
    keys = np.empty((capacity // 2 + 1, d), np.int32)
    filled = 0

    offsets = np.empty((n, d1), np.int32)
    weights = np.empty((n, d1), np.float64)
    elevated = np.empty(d1)
    rem0 = np.empty(d1)
    rank = np.empty(d1, np.int64)
    bary = np.empty(d1 + 1)
    key = np.empty(d, np.int32)
    prev_rem0 = np.zeros(d1)
    prev_rank = np.zeros(d1, np.int64)

    for p in range(n):
        # elevate onto the plane sum(x) = 0 in R^{d+1}: elevated = E · (scaled feature)
        sm = 0.0
        for j in range(d, 0, -1):
            cf = features[p, j - 1] * scale[j - 1]
            elevated[j] = sm - j * cf
            sm += cf
        elevated[0] = sm
        # nearest remainder-0 lattice point: each coordinate rounded to a multiple of d+1
        total = 0
        for i in range(d1):
            v = _round_half_even(elevated[i] / d1)
            rem0[i] = v * d1
            total += int(v)
        # rank of each coordinate of the difference (which simplex we are in)
        for i in range(d1):
            rank[i] = 0
        for i in range(d):
            di = elevated[i] - rem0[i]
            for j in range(i + 1, d1):
                less = np.int64(di < elevated[j] - rem0[j])  # branch-free: these are coin flips
                rank[i] += less
                rank[j] += 1 - less
        # bring the point back onto the plane if the rounding left it (sum != 0)
        for i in range(d1):
            rank[i] += total
            if rank[i] < 0:
                rank[i] += d1
                rem0[i] += d1
            elif rank[i] > d:
                rank[i] -= d1
                rem0[i] -= d1
        # barycentric coordinates (Adams et al. 2010, p. 10)
        for i in range(d1 + 1):
            bary[i] = 0.0
        for i in range(d1):
            v = (elevated[i] - rem0[i]) / d1
            bary[d - rank[i]] += v
            bary[d - rank[i] + 1] -= v
        bary[0] += 1.0 + bary[d1]
        # the d+1 vertices of the simplex, found (or inserted) in the hash table; neighbouring
        # pixels often share a simplex: then the previous pixel's vertices are reused
        same = p > 0
        for i in range(d1):
            if rem0[i] != prev_rem0[i] or rank[i] != prev_rank[i]:
                same = False
            prev_rem0[i] = rem0[i]
            prev_rank[i] = rank[i]
        if same:
            for r in range(d1):
                offsets[p, r] = offsets[p - 1, r]
                weights[p, r] = bary[r]
            continue
        for r in range(d1):
            for i in range(d):
                key[i] = np.int32(rem0[i] + canonical[r, rank[i]])
            if 2 * filled >= table.shape[0]:
                table, keys = _grown(table, keys, filled, d)
            e, slot = _lookup(table, keys, key, d)
            if e < 0:
                for i in range(d):
                    keys[filled, i] = key[i]
                table[slot] = filled
                e = filled
                filled += 1
            offsets[p, r] = e + 1
            weights[p, r] = bary[r]

    # blur neighbours along each of the d+1 lattice directions
    m = filled
    neighbours = np.zeros((d1, m + 1, 2), np.int32)
    n1 = np.empty(d, np.int32)
    n2 = np.empty(d, np.int32)
    for j in range(d1):
        for e in range(m):
            for k in range(d):
                n1[k] = keys[e, k] - 1
                n2[k] = keys[e, k] + 1
            if j < d:
                n1[j] = keys[e, j] + d
                n2[j] = keys[e, j] - d
            found, _ = _lookup(table, keys, n1, d)
            neighbours[j, e + 1, 0] = found + 1
            found, _ = _lookup(table, keys, n2, d)
            neighbours[j, e + 1, 1] = found + 1
    return offsets, weights, neighbours


# ============================================================================ applying
# The kernels below take their scalars (coef, half, sign) in the arrays' dtype: a float64
# scalar in a float32 loop would turn every multiply into a conversion and a double op.
# ``fastmath`` lets LLVM vectorise the label loops (the inputs are finite: checked upstream).
@numba.njit(cache=True, fastmath=True)
def _splat_range(values, scale, offsets, weights, buf, p0, p1):
    """``buf[o_pr] += weights[p, r] · scale[p] · values[p]`` for pixels ``p0 <= p < p1``.

    A scatter: pixels are read in order (one pass over ``values``) and added into the
    small vertex buffer, which stays in cache. ``buf`` must be zeroed first.
    """
    n_labels = values.shape[1]
    d1 = offsets.shape[1]
    for p in range(p0, p1):
        sp = scale[p]
        for r in range(d1):
            w = sp * weights[p, r]
            o = offsets[p, r]
            for c in range(n_labels):
                buf[o, c] += w * values[p, c]


@numba.njit(cache=True, fastmath=True)
def _blur_range(old, new, nbrs, half, v0, v1):
    """One blur pass along one direction: ``new[v] = old[v] + ½(old[v-e] + old[v+e])``."""
    n_labels = old.shape[1]
    for v in range(v0, v1):
        a = nbrs[v, 0]
        b = nbrs[v, 1]
        for c in range(n_labels):
            new[v, c] = old[v, c] + half * (old[a, c] + old[b, c])


@numba.njit(cache=True)
def _vertex_pass(buf, tmp, private, neighbours, reverse, half):
    """Add the per-thread splat buffers into ``buf``, then blur; returns the buffer that holds
    the result (``buf`` or ``tmp``)."""
    m = buf.shape[0] - 1
    n_labels = buf.shape[1]
    d1 = neighbours.shape[0]
    for k in range(private.shape[0]):
        for v in range(1, m + 1):
            for c in range(n_labels):
                buf[v, c] += private[k, v, c]
    for c in range(n_labels):
        buf[0, c] = 0
    for step in range(d1):
        j = d1 - 1 - step if reverse else step
        _blur_range(buf, tmp, neighbours[j], half, 1, m + 1)
        buf, tmp = tmp, buf
    return buf


@numba.njit(cache=True, fastmath=True)
def _slice_range(buf, offsets, weights, scale, coef, base, base_coef, out, p0, p1):
    """``out[p] = base_coef·base[p] + coef·scale[p]·Σ_r weights[p, r]·buf[offsets[p, r]]``."""
    n_labels = out.shape[1]
    d1 = offsets.shape[1]
    for p in range(p0, p1):
        s = coef * scale[p]
        if base_coef == 0:  # out may be uninitialised (0·NaN is NaN)
            for c in range(n_labels):
                out[p, c] = 0
        else:
            for c in range(n_labels):
                out[p, c] = base_coef * base[p, c]
        for r in range(d1):
            w = s * weights[p, r]
            o = offsets[p, r]
            for c in range(n_labels):
                out[p, c] += w * buf[o, c]


@numba.njit(cache=True)
def filter_serial(values, scale_in, offsets, weights, neighbours, reverse, scale_out, coef,
                  base, base_coef, out, buf, tmp, half):
    """``out = base_coef·base + coef·diag(scale_out)·B·diag(scale_in)·values``, one thread.

    ``B = Sᵀ·blur·S`` is the lattice filter without its constant ``alpha`` (fold it into
    ``coef``); ``reverse`` blurs the ``d + 1`` directions in the opposite order, which gives
    the transposed operator ``Bᵀ``. values, base, out: (N, L) (``base`` may be ``out``);
    buf, tmp: (M+1, L) scratch; coef, base_coef, half (0.5) in the arrays' dtype.
    """
    buf[:] = 0
    _splat_range(values, scale_in, offsets, weights, buf, 0, values.shape[0])
    none = np.empty((0, 1, 1), buf.dtype)
    res = _vertex_pass(buf, tmp, none, neighbours, reverse, half)
    _slice_range(res, offsets, weights, scale_out, coef, base, base_coef, out, 0, out.shape[0])


@numba.njit(cache=True, parallel=True)
def filter_parallel(values, scale_in, offsets, weights, neighbours, reverse, scale_out, coef,
                    base, base_coef, out, buf, tmp, half, private, parts):
    """``filter_serial`` over threads: the pixels in ``parts`` chunks, chunk ``t > 0``
    splatting into its own ``private[t - 1]`` (parts-1, M+1, L) buffer (no two threads write
    one vertex); the slice splits the pixels.

    The vertex work (the sum of the private buffers, the ``d + 1`` blur passes) runs on one
    thread: it is small for the coarse lattices of the usual bandwidths (M ≪ N), and every
    parallel loop ends in a barrier, which on a busy machine can cost a whole time slice of
    a descheduled worker (and each one adds compile time).
    """
    n = out.shape[0]
    buf[:] = 0
    private[:] = 0
    step = (n + parts - 1) // parts
    for t in numba.prange(parts):
        p0 = min(t * step, n)
        p1 = min((t + 1) * step, n)
        if t == 0:
            _splat_range(values, scale_in, offsets, weights, buf, p0, p1)
        else:
            _splat_range(values, scale_in, offsets, weights, private[t - 1], p0, p1)
    res = _vertex_pass(buf, tmp, private, neighbours, reverse, half)
    chunks = 4 * parts
    step = (n + chunks - 1) // chunks
    for t in numba.prange(chunks):
        _slice_range(res, offsets, weights, scale_out, coef, base, base_coef, out,
                     min(t * step, n), min((t + 1) * step, n))


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


@numba.njit(cache=True, fastmath=True)
def _softmax_backward_range(q, g, da, du, p0, p1):
    """``da[p] = q[p]·(g[p] - <q[p], g[p]>)`` (softmax backward) and ``du[p] -= da[p]``."""
    n_labels = q.shape[1]
    for p in range(p0, p1):
        inner = q[p, 0] * g[p, 0]
        for c in range(1, n_labels):
            inner += q[p, c] * g[p, c]
        for c in range(n_labels):
            v = q[p, c] * (g[p, c] - inner)
            da[p, c] = v
            du[p, c] -= v


@numba.njit(cache=True)
def softmax_serial(a, sign, out, fast):
    """``out = softmax(sign · a)`` along axis 1; a, out: (N, L) (may be the same array);
    ``sign`` in the arrays' dtype; ``fast``: the float32 exp (float32 arrays only)."""
    _softmax_range(a, sign, out, 0, a.shape[0], fast)


@numba.njit(cache=True, parallel=True)
def softmax_parallel(a, sign, out, fast, parts):
    """``softmax_serial`` with the pixels split into ``parts`` chunks over threads."""
    n = a.shape[0]
    step = (n + parts - 1) // parts
    for t in numba.prange(parts):
        _softmax_range(a, sign, out, min(t * step, n), min((t + 1) * step, n), fast)


@numba.njit(cache=True)
def softmax_backward_serial(q, g, da, du):
    """``da = q ⊙ (g - Σ_l q ⊙ g)``, ``du -= da``; all (N, L)."""
    _softmax_backward_range(q, g, da, du, 0, q.shape[0])


@numba.njit(cache=True, parallel=True)
def softmax_backward_parallel(q, g, da, du, parts):
    """``softmax_backward_serial`` with the pixels split into ``parts`` chunks over threads."""
    n = q.shape[0]
    step = (n + parts - 1) // parts
    for t in numba.prange(parts):
        _softmax_backward_range(q, g, da, du, min(t * step, n), min((t + 1) * step, n))


# ============================================================================ fused update
# One mean-field iteration with both kernels on lattices, in two parallel loops instead of
# five: splat both kernels (one loop), blur both (one thread), then per pixel slice both, add
# the unary and take the softmax (one loop). Fewer loops, fewer barriers (on a busy machine a
# barrier can wait a whole time slice for a descheduled thread) and one pass less over Q.
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
def update_serial(q, u, diag, off_a, w_a, nb_a, s_a, c_a, buf_a, tmp_a, off_b, w_b, nb_b, s_b,
                  c_b, buf_b, tmp_b, half, one, fast, out):
    """One mean-field iteration with two lattice kernels ``a`` and ``b``, one thread.

    q, u, out: (N, L) (``out`` may be ``q``); diag (N,): the self-term to remove (zeros if
    none); per kernel: offsets, weights (N, d+1), neighbours (d+1, M+1, 2), scale (N,),
    coef (weight · lattice constant), buffers (M+1, L). Scalars in the arrays' dtype.
    """
    n = q.shape[0]
    none = np.empty((0, 1, 1), buf_a.dtype)
    buf_a[:] = 0
    _splat_range(q, s_a, off_a, w_a, buf_a, 0, n)
    res_a = _vertex_pass(buf_a, tmp_a, none, nb_a, False, half)
    buf_b[:] = 0
    _splat_range(q, s_b, off_b, w_b, buf_b, 0, n)
    res_b = _vertex_pass(buf_b, tmp_b, none, nb_b, False, half)
    _update_range(q, u, diag, off_a, w_a, s_a, c_a, res_a, off_b, w_b, s_b, c_b, res_b, one,
                  fast, out, 0, n)


@numba.njit(cache=True, parallel=True)
def update_parallel(q, u, diag, off_a, w_a, nb_a, s_a, c_a, buf_a, tmp_a, off_b, w_b, nb_b, s_b,
                    c_b, buf_b, tmp_b, half, one, fast, out, priv_a, priv_b, parts):
    """``update_serial`` over threads: the pixels in ``parts`` chunks, chunk ``t > 0``
    splatting into ``priv_a[t - 1]`` / ``priv_b[t - 1]``; the slices + softmax split the
    pixels; the blur runs on one thread."""
    n = q.shape[0]
    buf_a[:] = 0
    buf_b[:] = 0
    priv_a[:] = 0
    priv_b[:] = 0
    step = (n + parts - 1) // parts
    for t in numba.prange(parts):
        p0 = min(t * step, n)
        p1 = min((t + 1) * step, n)
        if t == 0:
            _splat_range(q, s_a, off_a, w_a, buf_a, p0, p1)
            _splat_range(q, s_b, off_b, w_b, buf_b, p0, p1)
        else:
            _splat_range(q, s_a, off_a, w_a, priv_a[t - 1], p0, p1)
            _splat_range(q, s_b, off_b, w_b, priv_b[t - 1], p0, p1)
    res_a = _vertex_pass(buf_a, tmp_a, priv_a, nb_a, False, half)
    res_b = _vertex_pass(buf_b, tmp_b, priv_b, nb_b, False, half)
    chunks = 4 * parts
    step = (n + chunks - 1) // chunks
    for t in numba.prange(chunks):
        _update_range(q, u, diag, off_a, w_a, s_a, c_a, res_a, off_b, w_b, s_b, c_b, res_b, one,
                      fast, out, min(t * step, n), min((t + 1) * step, n))
