"""Numba kernels of the permutohedral lattice (Adams, Baek & Davis 2010): build, splat, blur,
slice. The lattice's own work only; the mean-field update that uses it lives in
``_meanfield_kernels.py``.

This module imports ``numba`` at its top, so ``lattice.py`` imports *it* lazily. The array-op
twin of the filter lives in ``lattice.py`` (it runs on NumPy and CuPy arrays and is tested
against these kernels); the build has no twin: it always runs here, on the CPU.

Layout: values are ``(N, L)`` (pixel-major, the ``L`` label channels contiguous), so every
inner loop runs over labels with unit stride. Lattice vertex ``v`` is stored in row
``v + 1`` of the ``(M + 1, L)`` vertex buffers; row 0 is a zero row that stands in for a
missing blur neighbour, so the blur needs no branches.

Serial and parallel drivers are separate functions on purpose: Numba's disk cache is keyed
by function, so one function compiled twice with different ``parallel`` flags would load
whichever variant was cached first for both (see ``functional/_numba_kernels.py``). The
per-range helpers are compiled once, without ``parallel``, and called from both (and from
``_meanfield_kernels.py``, hence their public names).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = [
    "PARALLEL_MIN_SIZE",
    "BUILD_PARALLEL_MIN_PIXELS",
    "parallel_parts",
    "build_lattice",
    "ones_filtered",
    "splat_range",
    "vertex_pass",
    "slice_range",
    "filter_serial",
    "filter_parallel",
]

# Below this many values (pixels x labels) a thread team costs more than it saves.
PARALLEL_MIN_SIZE = 1 << 15
# Likewise for the build, in pixels (each costs a few hundred nanoseconds).
BUILD_PARALLEL_MIN_PIXELS = 1 << 13

_HASH_MULTIPLIER = 1664525  # Knuth's LCG multiplier, as in Krähenbühl's lattice
_HASH_MIX = -4658895280553007687  # 0xbf58476d1ce4e5b9 as a signed int64 (splitmix64)


def parallel_parts() -> int:
    """The number of Numba threads: parallel kernels split their loops into this many (or a
    few times this many) chunks; 1 means run the serial kernel."""
    return numba.get_num_threads()


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
    """A table of twice the capacity indexing the same ``filled`` keys (rows of ``keys``)."""
    capacity = table.shape[0] * 2
    new_table = np.full(capacity, -1, np.int32)
    mask = capacity - 1
    for e in range(filled):
        slot = _hash(keys[e], d) & mask
        while new_table[slot] >= 0:
            slot = (slot + 1) & mask
        new_table[slot] = e
    return new_table


# ============================================================================ building
# The build runs in four steps, the first and last two over threads: (1) each thread embeds a
# contiguous chunk of the pixels, finding their simplices' vertices in a hash table of its
# own (chunk-local vertex ids); (2) one thread merges the chunks' vertices into one table,
# chunk by chunk, in order: the ids are then exactly those a one-thread build gives (first
# seen, first numbered), so the result does not depend on the thread count; (3) the pixels'
# chunk-local ids are relabelled; (4) each vertex finds its blur neighbours in the merged
# table (read only).
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
def _embed_range(features, p0, p1, offsets, weights, keys):
    """Embed pixels ``p0 <= p < p1`` in the lattice: their barycentric ``weights`` and, in
    ``offsets``, their simplices' vertices as chunk-local ids + 1; the distinct vertices'
    keys go to rows ``0 … M_chunk - 1`` of ``keys``. Returns ``M_chunk``.

    Features are scaled by ``sqrt(2/3)·(d+1)/sqrt((i+1)(i+2))`` before the elevation, so the
    blur's ``[1/2, 1, 1/2]`` passes approximate a unit-variance Gaussian (Adams et al. 2010,
    p. 5-6; the same constants as Krähenbühl's code, so that results match pydensecrf).
    """
    d = features.shape[1]
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

    table = np.full(1024, -1, np.int32)  # grows as vertices arrive: a small table stays in cache
    filled = 0
    stable = np.full(1024, -1, np.int32)  # the simplices seen, likewise
    skeys = np.empty((p1 - p0, d1), np.int32)  # room for the worst case: address space only
    svertices = np.empty((p1 - p0, d1), np.int32)
    n_simplices = 0
    skey = np.empty(d1, np.int32)
    elevated = np.empty(d1)
    rem0 = np.empty(d1)
    rank = np.empty(d1, np.int64)
    bary = np.empty(d1 + 1)
    key = np.empty(d, np.int32)
    prev_rem0 = np.zeros(d1)
    prev_rank = np.zeros(d1, np.int64)

    for p in range(p0, p1):
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
        # the d+1 vertices of the simplex. Neighbouring pixels often share a simplex: the
        # previous pixel's (a comparison), else one seen before (one lookup in a table of
        # simplices, keyed by the remainder-0 vertex and the ranks), else found (or inserted)
        # one by one in the table of vertices
        same = p > p0
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
        code = 0
        for i in range(d):
            skey[i] = np.int32(rem0[i])
            code = code * d1 + rank[i]
        skey[d] = np.int32(code)
        if 2 * n_simplices >= stable.shape[0]:
            stable = _grown(stable, skeys, n_simplices, d1)
        s, sslot = _lookup(stable, skeys, skey, d1)
        if s >= 0:
            for r in range(d1):
                offsets[p, r] = svertices[s, r]
                weights[p, r] = bary[r]
            continue
        for r in range(d1):
            for i in range(d):
                key[i] = np.int32(rem0[i] + canonical[r, rank[i]])
            if 2 * filled >= table.shape[0]:
                table = _grown(table, keys, filled, d)
            e, slot = _lookup(table, keys, key, d)
            if e < 0:
                for i in range(d):
                    keys[filled, i] = key[i]
                table[slot] = filled
                e = filled
                filled += 1
            offsets[p, r] = e + 1
            weights[p, r] = bary[r]
            svertices[n_simplices, r] = e + 1
        for i in range(d1):
            skeys[n_simplices, i] = skey[i]
        stable[sslot] = n_simplices
        n_simplices += 1
    return filled, table


@numba.njit(cache=True, parallel=True)
def _embed_chunks(features, offsets, weights, keys, counts):
    """Step 1: ``_embed_range`` over ``parts = keys.shape[0]`` chunks of pixels, in parallel."""
    n = features.shape[0]
    parts = keys.shape[0]
    step = (n + parts - 1) // parts
    for t in numba.prange(parts):
        counts[t] = _embed_range(features, min(t * step, n), min((t + 1) * step, n), offsets,
                                 weights, keys[t])[0]


@numba.njit(cache=True)
def _merge(keys, counts):
    """Step 2: one hash table of the chunks' vertices, chunk by chunk, in order.

    Returns ``(table, merged, ids)``: ``merged`` (M, d) the distinct keys, ``table`` their
    hash table, ``ids[t, e]`` the merged id of chunk ``t``'s vertex ``e`` (chunk 0's ids are
    unchanged).
    """
    parts, _, d = keys.shape
    capacity = 1024
    while capacity < 2 * counts.sum():
        capacity *= 2
    table = np.full(capacity, -1, np.int32)
    merged = np.empty((counts.sum(), d), np.int32)
    ids = np.empty((parts, counts.max()), np.int32)
    filled = 0
    for t in range(parts):
        for e in range(counts[t]):
            g, slot = _lookup(table, merged, keys[t, e], d)
            if g < 0:
                for i in range(d):
                    merged[filled, i] = keys[t, e, i]
                table[slot] = filled
                g = filled
                filled += 1
            ids[t, e] = g
    return table, merged[:filled], ids


@numba.njit(cache=True)
def _relabel_range(offsets, ids, step, p0, p1):
    """Step 3 for pixels ``p0 <= p < p1``: chunk-local vertex ids + 1 to merged ids + 1
    (``step`` pixels per chunk; chunk 0's ids map to themselves)."""
    for p in range(p0, p1):
        t = p // step
        for r in range(offsets.shape[1]):
            offsets[p, r] = ids[t, offsets[p, r] - 1] + 1


@numba.njit(cache=True)
def _neighbours_range(table, keys, neighbours, e0, e1):
    """Step 4 for vertices ``e0 <= e < e1``: for each of the d+1 lattice directions ``j``,
    ``neighbours[j, e + 1]`` = the vertex's two neighbours (``-e_j`` and ``+e_j``) as
    ``vertex + 1``, 0 where the neighbour holds no pixel."""
    d = keys.shape[1]
    n1 = np.empty(d, np.int32)
    n2 = np.empty(d, np.int32)
    for e in range(e0, e1):
        for j in range(d + 1):
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


@numba.njit(cache=True, parallel=True)
def _relabel_and_neighbours(offsets, ids, table, keys, neighbours):
    """Steps 3 and 4 in one parallel loop (one barrier): thread ``t`` relabels its chunk of
    the pixels and finds the blur neighbours of its share of the vertices."""
    n = offsets.shape[0]
    m = keys.shape[0]
    parts = ids.shape[0]
    step = (n + parts - 1) // parts
    vstep = (m + parts - 1) // parts
    for t in numba.prange(parts):
        _relabel_range(offsets, ids, step, min(t * step, n), min((t + 1) * step, n))
        _neighbours_range(table, keys, neighbours, min(t * vstep, m), min((t + 1) * vstep, m))


def build_lattice(features, parts):
    """Embed ``features`` (N, d) float64 in the permutohedral lattice A*_d, over ``parts``
    threads (one below ``BUILD_PARALLEL_MIN_PIXELS`` pixels); the result does not depend on
    ``parts``.

    Returns ``(offsets, weights, neighbours)``:

    * ``offsets`` (N, d+1) int32: the ``d + 1`` vertices of the simplex enclosing each
      pixel, as ``vertex + 1`` (row in the vertex buffers);
    * ``weights`` (N, d+1) float64: the pixel's barycentric coordinates in that simplex
      (non-negative, summing to 1): splat and slice weights;
    * ``neighbours`` (d+1, M+1, 2) int32: for each of the ``d + 1`` lattice directions, the
      two neighbours (``-e`` and ``+e``) of every vertex along it, as ``vertex + 1``,
      0 where the neighbour holds no pixel (row 0 is zero). Row 0 of axis 1 is unused.
    """
    n, d = features.shape
    if n < BUILD_PARALLEL_MIN_PIXELS:
        parts = 1
    step = (n + parts - 1) // parts
    offsets = np.empty((n, d + 1), np.int32)
    weights = np.empty((n, d + 1), np.float64)
    # room for the worst case (every pixel brings d+1 new vertices); the pages never written
    # are never touched, so this costs address space, not memory
    keys = np.empty((parts, step * (d + 1), d), np.int32)
    if parts == 1:
        m, table = _embed_range(features, 0, n, offsets, weights, keys[0])
        keys = keys[0, :m]
        neighbours = np.zeros((d + 1, m + 1, 2), np.int32)
        _neighbours_range(table, keys, neighbours, 0, m)
        return offsets, weights, neighbours
    counts = np.zeros(parts, np.int64)
    _embed_chunks(features, offsets, weights, keys, counts)
    table, keys, ids = _merge(keys, counts)
    neighbours = np.zeros((d + 1, len(keys) + 1, 2), np.int32)
    _relabel_and_neighbours(offsets, ids, table, keys, neighbours)
    return offsets, weights, neighbours


@numba.njit(cache=True)
def ones_filtered(offsets, weights, neighbours):
    """``B · 1`` (N,) float64, one thread: the lattice filter (without ``alpha``) of a
    constant 1, each pixel's row sum of the lattice kernel. Scalar loops over one channel:
    a few milliseconds, so no thread team (its barriers cost more on a busy machine)."""
    n, d1 = offsets.shape
    m = neighbours.shape[1] - 1
    buf = np.zeros(m + 1)
    for p in range(n):
        for r in range(d1):
            buf[offsets[p, r]] += weights[p, r]
    buf[0] = 0.0
    tmp = np.empty_like(buf)
    tmp[0] = 0.0
    for j in range(d1):
        nbrs = neighbours[j]
        for v in range(1, m + 1):
            tmp[v] = buf[v] + 0.5 * (buf[nbrs[v, 0]] + buf[nbrs[v, 1]])
        buf, tmp = tmp, buf
    out = np.empty(n)
    for p in range(n):
        total = 0.0
        for r in range(d1):
            total += weights[p, r] * buf[offsets[p, r]]
        out[p] = total
    return out


# ============================================================================ filtering
# The kernels below take their scalars (coef, half) in the arrays' dtype: a float64 scalar in
# a float32 loop would turn every multiply into a conversion and a double op. ``fastmath``
# lets LLVM vectorise the label loops (the inputs are finite: checked upstream).
@numba.njit(cache=True, fastmath=True)
def splat_range(values, scale, offsets, weights, buf, p0, p1):
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
def vertex_pass(buf, tmp, private, neighbours, reverse, half):
    """Add the per-thread splat buffers ``private`` (k, M+1, L) into ``buf``, then blur;
    returns the buffer that holds the result (``buf`` or ``tmp``)."""
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
def slice_range(buf, offsets, weights, scale, coef, out, p0, p1):
    """``out[p] = coef·scale[p]·Σ_r weights[p, r]·buf[offsets[p, r]]`` for ``p0 <= p < p1``."""
    n_labels = out.shape[1]
    d1 = offsets.shape[1]
    for p in range(p0, p1):
        s = coef * scale[p]
        for c in range(n_labels):
            out[p, c] = 0
        for r in range(d1):
            w = s * weights[p, r]
            o = offsets[p, r]
            for c in range(n_labels):
                out[p, c] += w * buf[o, c]


@numba.njit(cache=True)
def filter_serial(values, scale_in, offsets, weights, neighbours, reverse, scale_out, coef, out,
                  buf, tmp, half):
    """``out = coef·diag(scale_out)·B·diag(scale_in)·values``, one thread.

    ``B = Sᵀ·blur·S`` is the lattice filter without its constant ``alpha`` (fold it into
    ``coef``); ``reverse`` blurs the ``d + 1`` directions in the opposite order, which gives
    the transposed operator ``Bᵀ``. values, out: (N, L); buf, tmp: (M+1, L) scratch; coef,
    half (0.5) in the arrays' dtype.
    """
    buf[:] = 0
    splat_range(values, scale_in, offsets, weights, buf, 0, values.shape[0])
    none = np.empty((0, 1, 1), buf.dtype)
    res = vertex_pass(buf, tmp, none, neighbours, reverse, half)
    slice_range(res, offsets, weights, scale_out, coef, out, 0, out.shape[0])


@numba.njit(cache=True, parallel=True)
def filter_parallel(values, scale_in, offsets, weights, neighbours, reverse, scale_out, coef,
                    out, buf, tmp, half, private):
    """``filter_serial`` over threads: the pixels in ``parts = len(private) + 1`` chunks,
    chunk ``t > 0`` splatting into its own ``private[t - 1]`` (parts-1, M+1, L) buffer (no
    two threads write one vertex); the slice splits the pixels.

    The vertex work (the sum of the private buffers, the ``d + 1`` blur passes) runs on one
    thread: it is small for the coarse lattices of the usual bandwidths (M ≪ N), and every
    parallel loop ends in a barrier, which on a busy machine can cost a whole time slice of
    a descheduled worker (and each one adds compile time).
    """
    n = out.shape[0]
    parts = private.shape[0] + 1
    buf[:] = 0
    private[:] = 0
    step = (n + parts - 1) // parts
    for t in numba.prange(parts):
        p0 = min(t * step, n)
        p1 = min((t + 1) * step, n)
        if t == 0:
            splat_range(values, scale_in, offsets, weights, buf, p0, p1)
        else:
            splat_range(values, scale_in, offsets, weights, private[t - 1], p0, p1)
    res = vertex_pass(buf, tmp, private, neighbours, reverse, half)
    chunks = 4 * parts
    step = (n + chunks - 1) // chunks
    for t in numba.prange(chunks):
        slice_range(res, offsets, weights, scale_out, coef, out, min(t * step, n),
                    min((t + 1) * step, n))
