"""Fast Gaussian filtering with the permutohedral lattice (Adams, Baek & Davis, 2010).

``K V`` with ``K_ij = exp(-½‖f_i - f_j‖²)`` costs ``O(N²)`` done directly. The lattice does it
in ``O(N·d)`` per channel, in three steps:

1. **splat**: every pixel's feature lies in one simplex of the lattice ``A*_d`` (the
   ``d``-dimensional lattice whose cells are simplices); its value is spread onto the
   simplex's ``d + 1`` vertices with its barycentric weights;
2. **blur**: a ``[½, 1, ½]`` filter along each of the lattice's ``d + 1`` directions, over
   the vertices that hold any pixel (they are few: they live in a hash table);
3. **slice**: every pixel reads its value back from its simplex's vertices, with the same
   barycentric weights.

The features are scaled so that splat · blur · slice approximates a Gaussian of unit
standard deviation: ``K_lattice ≈ c · K`` for some constant ``c`` that the normalisation
``D K D`` (``D = (K·1)^(-1/2)``) cancels. The result is close to, not equal to, ``K``: the
blur is only approximately a Gaussian, the kernel is slightly anisotropic, and the matrix is
not exactly symmetric (the ``d + 1`` blur passes do not commute on a sparse lattice), so the
*transpose* (needed by backward) blurs the directions in reverse order. All constants are
Krähenbühl's (``densecrf/src/permutohedral.cpp``), so the result matches ``pydensecrf``'s.

The lattice is built once per image (the hash table of vertices, each pixel's vertices and
barycentric weights, each vertex's blur neighbours); every mean-field iteration then only
splats, blurs and slices the ``L`` label channels.

Where it runs:

* **build**: always on the CPU (Numba: a hash table is sequential work).
* **apply on the CPU**: Numba kernels (``_lattice_kernels.py``). The pixels are read in
  order and splatted into the small vertex buffer (it stays in cache); with several threads
  each takes a slice of the pixels and splats into its own buffer, and the buffers are summed
  (no write conflicts). The slice splits the pixels over the threads.
* **apply on the GPU**: the lattice's index arrays are copied to the device once and the
  three steps are array operations: splat ``d + 1`` scatter-adds (``cupyx.scatter_add``),
  blur ``d + 1`` gathers, slice ``d + 1`` gathers (``_filter_vectorised``). The same function
  runs on NumPy arrays (with ``np.add.at``), which is how the tests check it on a machine
  without a GPU.

Lesson: ``lessons/09-dense-crf.md``.
"""

from __future__ import annotations

import numpy as np

from ..backend import get_array_module, scatter_add, to_numpy

__all__ = ["LatticeKernel", "build_lattice", "lattice_filter"]


def _kernels():
    from . import _lattice_kernels  # imports numba: CPU path only

    return _lattice_kernels


def alpha(d: int) -> float:
    """Krähenbühl's constant ``1 / (1 + 2^-d)`` applied at the slice."""
    return 1.0 / (1.0 + 2.0 ** (-d))


def build_lattice(features):
    """Build the lattice for ``features`` (N, d) (any float, NumPy); CPU, Numba.

    Returns ``(offsets, weights, neighbours)``: (N, d+1) int32 vertex rows (``vertex + 1``),
    (N, d+1) float64 barycentric weights, (d+1, M+1, 2) int32 blur neighbours (0 = none).
    """
    features = np.ascontiguousarray(features, dtype=np.float64)
    return _kernels().build_lattice(features)


def _filter_vectorised(values, offsets, weights, neighbours, n_vertices, reverse=False):
    """``B · values`` (N, L) with array operations only (NumPy or CuPy): splat, blur, slice.

    ``B = Sᵀ·blur·S`` without the constant ``alpha``. ``reverse`` blurs in reverse order
    (the transposed operator). offsets/weights (N, d+1), neighbours (d+1, M+1, 2).
    """
    xp = get_array_module(values)
    d1 = offsets.shape[1]
    buf = xp.zeros((n_vertices + 1, values.shape[1]), dtype=values.dtype)
    for r in range(d1):  # splat: every pixel adds to its d+1 vertices
        scatter_add(buf, offsets[:, r], weights[:, r, None] * values)
    buf[0] = 0  # row 0 is the "no neighbour" row
    order = range(d1 - 1, -1, -1) if reverse else range(d1)
    for j in order:  # blur: [1/2, 1, 1/2] along each lattice direction
        buf = buf + 0.5 * (buf[neighbours[j, :, 0]] + buf[neighbours[j, :, 1]])
    out = weights[:, 0, None] * buf[offsets[:, 0]]
    for r in range(1, d1):  # slice: every pixel reads its d+1 vertices back
        out += weights[:, r, None] * buf[offsets[:, r]]
    return out


def lattice_filter(values, features, reverse=False):
    """``K_lattice · values`` for a one-off filtering: values (N, L), features (N, d).

    ``K_lattice ≈ c·exp(-½‖f_i - f_j‖²)`` (see the module docstring); NumPy arrays, CPU.
    Returns (N, L) in the dtype of ``values``.
    """
    values = np.ascontiguousarray(values)
    offsets, weights, neighbours = build_lattice(features)
    lat = _Lattice(offsets, weights, neighbours, values.dtype, np, vectorised=False)
    out = np.empty_like(values)
    lat.filter(values, None, None, alpha(features.shape[1]), None, 0.0, out, reverse)
    return out


class _Lattice:
    """One built lattice, ready to filter ``(N, L)`` arrays on the CPU (Numba) or with xp."""

    def __init__(self, offsets, weights, neighbours, dtype, xp, vectorised):
        self.n, self.d1 = offsets.shape
        self.m = neighbours.shape[1] - 1
        self.dtype = np.dtype(dtype)
        self.vectorised = vectorised
        if vectorised:
            self.offsets = xp.asarray(offsets.astype(np.int64))
            self.weights = xp.asarray(weights.astype(dtype))
            self.neighbours = xp.asarray(neighbours.astype(np.int64))
        else:
            self.offsets = offsets
            self.weights = weights.astype(dtype)
            self.neighbours = neighbours
            self._ones = np.ones(self.n, dtype=dtype)
            self._scratch_key = None

    def nbytes(self) -> int:
        """Bytes held by the lattice's arrays (scratch buffers excluded)."""
        return int(sum(a.nbytes for a in (self.offsets, self.weights, self.neighbours)))

    def _scratch(self, n_labels, parts):
        """Vertex buffers, kept between calls: 2 + (parts - 1) of (M + 1, L)."""
        if self._scratch_key != (n_labels, parts):
            shape = (self.m + 1, n_labels)
            self._bufs = (np.zeros(shape, self.dtype), np.zeros(shape, self.dtype),
                          np.zeros((max(parts - 1, 0),) + shape, self.dtype))
            self._scratch_key = (n_labels, parts)
        return self._bufs

    def filter(self, values, scale_in, scale_out, coef, base, base_coef, out, reverse):
        """``out = base_coef·base + coef·diag(scale_out)·B·diag(scale_in)·values``.

        ``scale_in``/``scale_out`` (N,) or ``None`` (ones); ``base`` (N, L) or ``None``
        (then ``base_coef`` must be 0); ``out`` may be ``base``.
        """
        if self.vectorised:
            v = values if scale_in is None else values * scale_in[:, None]
            f = _filter_vectorised(v, self.offsets, self.weights, self.neighbours, self.m, reverse)
            f *= coef
            if scale_out is not None:
                f *= scale_out[:, None]
            if base is None or base_coef == 0:
                out[...] = f
            else:
                out[...] = base_coef * base + f
            return out
        k = _kernels()
        ones = self._ones
        typed = self.dtype.type
        parallel = values.size >= k.PARALLEL_MIN_SIZE
        parts = parallel_parts() if parallel else 1
        buf, tmp, private = self._scratch(values.shape[1], parts)
        args = (values, ones if scale_in is None else scale_in, self.offsets, self.weights,
                self.neighbours, bool(reverse), ones if scale_out is None else scale_out,
                typed(coef), out if base is None else base, typed(base_coef), out, buf, tmp,
                typed(0.5))
        if parallel and parts > 1:
            k.filter_parallel(*args, private, parts)
        else:
            k.filter_serial(*args)
        return out


def parallel_parts() -> int:
    """The number of Numba threads: parallel kernels split their loops into this many (or a
    few times this many) chunks; 1 means run the serial kernel."""
    import numba  # CPU path only

    return numba.get_num_threads()


class LatticeKernel:
    """A normalised Gaussian kernel ``K̃`` applied with the permutohedral lattice.

    features: (N, d) NumPy float64 (the lattice is built on the CPU); ``dtype`` the compute
    dtype; ``xp`` the array module of the mean-field arrays; ``vectorised`` uses the array
    twin instead of the Numba kernels (forced for CuPy). ``normalization`` ``"symmetric"``
    (``D K D``, pydensecrf's default, with the lattice's own ``K·1`` as Krähenbühl's code
    does) or ``"none"`` (``K`` itself); ``exclude_self`` drops the ``j = i`` term (exactly 1,
    subtracted after the filter). These two need the absolute scale of ``K``, which the
    lattice only has up to a constant: it is measured once per image (``calibrate``), and a
    pixel whose other neighbours sum to less than 1 is normalised as if they summed to 1
    (the lattice's self term is only approximately 1, and ``D`` would amplify the mismatch).
    """

    def __init__(self, features, dtype, xp=np, vectorised=False, normalization="symmetric",
                 exclude_self=False):
        features = np.ascontiguousarray(features, dtype=np.float64)
        self.d = features.shape[1]
        self.xp = xp
        self.dtype = np.dtype(dtype)
        offsets, weights, neighbours = build_lattice(features)
        self.lattice = _Lattice(offsets, weights, neighbours, dtype, xp, vectorised)
        # the lattice's own K·1 (one channel), as Krähenbühl's code computes it
        ones = xp.ones((features.shape[0], 1), dtype=dtype)
        k1 = xp.empty_like(ones)
        self.lattice.filter(ones, None, None, alpha(self.d), None, 0.0, k1, False)
        k1 = np.asarray(to_numpy(k1)[:, 0], dtype=np.float64)
        self.coef = alpha(self.d)  # K_lattice = alpha · B
        if normalization == "none" or exclude_self:
            c = calibrate(features, k1)
            self.coef *= c
            k1 = k1 * c
        if exclude_self:
            k1 = np.maximum(k1 - 1.0, 1.0)
        self.exclude_self = exclude_self
        if normalization == "symmetric":
            scale = 1.0 / np.sqrt(k1 + 1e-20)
            self.scale = xp.asarray(scale.astype(dtype))
            self_weight = scale * scale  # K̃_ii = d_i · 1 · d_i
        else:
            self.scale = None
            self_weight = np.ones_like(k1)
        self.self_weight = xp.asarray(self_weight.astype(dtype)) if exclude_self else None

    def accumulate(self, values, coef, out, base=None, base_coef=0.0, transpose=False):
        """``out = base_coef·base + coef·K̃·values`` (``K̃ᵀ`` with ``transpose``); (N, L)."""
        self.lattice.filter(values, self.scale, self.scale, coef * self.coef, base, base_coef,
                            out, transpose)
        if self.exclude_self:
            out -= coef * self.self_weight[:, None] * values
        return out

    def apply(self, values, transpose=False):
        """``K̃ · values`` (N, L) → (N, L)."""
        out = self.xp.empty_like(values)
        return self.accumulate(values, 1.0, out, transpose=transpose)

    @property
    def fusable(self) -> bool:
        """Whether ``fused_update`` can use this kernel (the Numba path)."""
        return not self.lattice.vectorised


def fused_update(pair, q, unary, out):
    """One mean-field iteration, ``out = softmax(-U + w_a K̃_a q + w_b K̃_b q)``, with both
    kernels on (Numba) lattices in two parallel loops; ``pair = ((w_a, K_a), (w_b, K_b))``.

    q, unary, out: (N, L) NumPy arrays (``out`` may be ``q``). CPU, Numba.
    """
    k = _kernels()
    (w_a, k_a), (w_b, k_b) = pair
    lat_a, lat_b = k_a.lattice, k_b.lattice
    typed = lat_a.dtype.type
    n_labels = q.shape[1]
    parallel = q.size >= k.PARALLEL_MIN_SIZE and parallel_parts() > 1
    parts = parallel_parts() if parallel else 1
    buf_a, tmp_a, priv_a = lat_a._scratch(n_labels, parts)
    buf_b, tmp_b, priv_b = lat_b._scratch(n_labels, parts)
    diag = np.zeros(lat_a.n, lat_a.dtype)
    for w, kern in pair:
        if kern.exclude_self:
            diag += typed(w) * kern.self_weight
    args = (q, unary, diag,
            lat_a.offsets, lat_a.weights, lat_a.neighbours,
            lat_a._ones if k_a.scale is None else k_a.scale, typed(w_a * k_a.coef), buf_a, tmp_a,
            lat_b.offsets, lat_b.weights, lat_b.neighbours,
            lat_b._ones if k_b.scale is None else k_b.scale, typed(w_b * k_b.coef), buf_b, tmp_b,
            typed(0.5), typed(1.0), q.dtype == np.float32, out)
    if parallel:
        k.update_parallel(*args, priv_a, priv_b, parts)
    else:
        k.update_serial(*args)
    return out


def calibrate(features, k1_lattice, samples=256, max_entries=1 << 24):
    """The constant ``c`` with ``K·1 ≈ c·K_lattice·1``, from the exact ``K·1`` at a few pixels.

    The exact sums ``Σ_j exp(-½‖f_i - f_j‖²)`` at ``s`` evenly spaced pixels cost
    ``O(s·N·d)``, with ``s = min(samples, max_entries // N)`` (at least 16).
    features (N, d) float64, k1_lattice (N,): the lattice's ``K·1``. Returns a float.
    """
    n = features.shape[0]
    s = int(max(16, min(samples, max_entries // max(n, 1), n)))
    rows = np.unique(np.linspace(0, n - 1, s).round().astype(np.int64))
    d2 = np.zeros((rows.size, n))
    for k in range(features.shape[1]):
        d2 += (features[rows, k, None] - features[None, :, k]) ** 2
    exact = np.exp(-0.5 * d2).sum(axis=1)
    return float(exact.sum() / max(k1_lattice[rows].sum(), 1e-300))
