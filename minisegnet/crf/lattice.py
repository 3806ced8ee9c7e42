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

This module only filters: ``Lattice`` is one built lattice (``filter`` applies
``B = Sᵀ·blur·S``), ``LatticeKernel`` the normalised kernel ``K̃`` the mean field uses
(``apply``, the same interface as ``exact.ExactKernel``). Which kernel, and whether the
mean field fuses both lattices into one update, ``meanfield.py`` decides.

Where it runs:

* **build**: always on the CPU, in Numba (``_lattice_kernels.build_lattice``): each thread
  embeds a chunk of the pixels with a hash table of its own, and the tables are merged;
  the row sums ``B·1`` (for the normalisation) in one scalar pass (``row_sums``).
* **filter, fast tier** (``backend.fast_tier``, NumPy arrays): Numba kernels. The pixels are
  read in order and splatted into the small vertex buffer (it stays in cache); with several
  threads each takes a slice of the pixels and splats into its own buffer, and the buffers
  are summed (no write conflicts). The slice splits the pixels over the threads.
* **filter, reference tier and GPU**: the lattice's index arrays are copied to the arrays'
  device once and the three steps are array operations: splat ``d + 1`` scatter-adds
  (``cupyx.scatter_add`` / ``np.add.at``), blur ``d + 1`` gathers, slice ``d + 1`` gathers
  (``_filter_array_ops``). ``pytest --impl=reference`` runs it on NumPy arrays.

Lesson: ``lessons/09-dense-crf.md``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..backend import fast_tier, get_array_module, scatter_add

__all__ = ["Lattice", "LatticeKernel", "SplatBuffers", "alpha", "build_lattice", "calibrate",
           "lattice_filter"]

NUMBA_FILTER = "minisegnet.crf._lattice_kernels"


def _numba_kernels():
    from . import _lattice_kernels  # imports numba: on first use only

    return _lattice_kernels


def alpha(d: int) -> float:
    """Krähenbühl's constant ``1 / (1 + 2^-d)`` applied at the slice."""
    return 1.0 / (1.0 + 2.0 ** (-d))


def build_lattice(features):
    """Build the lattice for ``features`` (N, d) (any float, NumPy); CPU, Numba, all threads.

    Returns ``(offsets, weights, neighbours)``: (N, d+1) int32 vertex rows (``vertex + 1``),
    (N, d+1) float64 barycentric weights, (d+1, M+1, 2) int32 blur neighbours (0 = none).
    """
    features = np.ascontiguousarray(features, dtype=np.float64)
    kernels = _numba_kernels()
    return kernels.build_lattice(features, kernels.parallel_parts())


def _filter_array_ops(values, offsets, weights, neighbours, n_vertices, transpose):
    """``B · values`` (N, L) with array operations only (NumPy or CuPy): splat, blur, slice.

    ``B = Sᵀ·blur·S`` without the constant ``alpha``. ``transpose`` blurs in reverse order
    (``Bᵀ``). offsets/weights (N, d+1), neighbours (d+1, M+1, 2), on the values' device.
    """
    xp = get_array_module(values)
    d1 = offsets.shape[1]
    buf = xp.zeros((n_vertices + 1, values.shape[1]), dtype=values.dtype)
    for r in range(d1):  # splat: every pixel adds to its d+1 vertices
        scatter_add(buf, offsets[:, r], weights[:, r, None] * values)
    buf[0] = 0  # row 0 is the "no neighbour" row
    order = range(d1 - 1, -1, -1) if transpose else range(d1)
    for j in order:  # blur: [1/2, 1, 1/2] along each lattice direction
        buf = buf + 0.5 * (buf[neighbours[j, :, 0]] + buf[neighbours[j, :, 1]])
    out = weights[:, 0, None] * buf[offsets[:, 0]]
    for r in range(1, d1):  # slice: every pixel reads its d+1 vertices back
        out += weights[:, r, None] * buf[offsets[:, r]]
    return out


class SplatBuffers(NamedTuple):
    """A lattice's vertex buffers: ``pair`` (2, M+1, L), the splat target of the first thread
    and its spare (the blur alternates between them), and ``private`` (parts-1, M+1, L), one
    splat target per other thread."""

    pair: np.ndarray
    private: np.ndarray


class Lattice:
    """One built lattice: ``B · values`` for (N, L) arrays, ``B = Sᵀ·blur·S``.

    features: (N, d) (NumPy, any float); dtype: the compute dtype. Public, read only: the
    build's ``offsets`` (N, d+1) int32, ``weights`` (N, d+1) in ``dtype``, ``neighbours``
    (d+1, M+1, 2) int32 (NumPy, see ``build_lattice``), ``n_vertices`` (M), ``d``.
    """

    def __init__(self, features, *, dtype):
        offsets, weights, neighbours = build_lattice(features)
        self.dtype = np.dtype(dtype)
        self.d = offsets.shape[1] - 1
        self.n_vertices = neighbours.shape[1] - 1
        self.offsets = offsets
        self.weights = weights.astype(self.dtype)
        self.neighbours = neighbours
        self._on_device = {}   # array module -> its copies of the index arrays (array ops)
        self._buffers = {}     # (n_labels, parts) -> SplatBuffers

    def nbytes(self) -> int:
        """Bytes held by the lattice's arrays (buffers excluded)."""
        return int(sum(a.nbytes for a in (self.offsets, self.weights, self.neighbours)))

    def buffers(self, n_labels: int, parts: int) -> SplatBuffers:
        """Vertex buffers for ``n_labels`` channels over ``parts`` threads, kept between calls
        (a mean field filters with the same lattice every iteration). Their contents are
        scratch: every filtering overwrites them."""
        if (n_labels, parts) not in self._buffers:
            shape = (self.n_vertices + 1, n_labels)
            self._buffers[n_labels, parts] = SplatBuffers(
                np.zeros((2,) + shape, self.dtype), np.zeros((max(parts - 1, 0),) + shape, self.dtype))
        return self._buffers[n_labels, parts]

    def row_sums(self):
        """``B · 1`` (N,) NumPy float64: each pixel's row sum of the lattice filter (CPU)."""
        return _numba_kernels().ones_filtered(self.offsets, self.weights, self.neighbours)

    def _index_arrays(self, xp):
        if xp not in self._on_device:
            self._on_device[xp] = (xp.asarray(self.offsets.astype(np.int64)),
                                   xp.asarray(self.weights),
                                   xp.asarray(self.neighbours.astype(np.int64)))
        return self._on_device[xp]

    def filter(self, values, *, coef=1.0, scale_in=None, scale_out=None, transpose=False):
        """``coef · diag(scale_out) · B · diag(scale_in) · values`` (``Bᵀ`` with ``transpose``).

        values: (N, L) in the lattice's dtype, NumPy or CuPy; scale_in, scale_out: (N,) or
        ``None`` (ones), on the same device. Returns a new (N, L) array.
        """
        xp = get_array_module(values)
        numba_kernels = fast_tier(xp, NUMBA_FILTER, cpu_only=True)
        if numba_kernels is None:
            offsets, weights, neighbours = self._index_arrays(xp)
            v = values if scale_in is None else values * scale_in[:, None]
            out = _filter_array_ops(v, offsets, weights, neighbours, self.n_vertices, transpose)
            out *= coef
            if scale_out is not None:
                out *= scale_out[:, None]
            return out
        typed = self.dtype.type
        values = np.ascontiguousarray(values, dtype=self.dtype)
        ones = None if scale_in is not None and scale_out is not None else np.ones(len(values), self.dtype)
        out = np.empty_like(values)
        parallel = values.size >= numba_kernels.PARALLEL_MIN_SIZE
        parts = numba_kernels.parallel_parts() if parallel else 1
        bufs = self.buffers(values.shape[1], parts)
        args = (values, ones if scale_in is None else scale_in, self.offsets, self.weights,
                self.neighbours, bool(transpose), ones if scale_out is None else scale_out,
                typed(coef), out, bufs.pair[0], bufs.pair[1], typed(0.5))
        if parts > 1:
            numba_kernels.filter_parallel(*args, bufs.private)
        else:
            numba_kernels.filter_serial(*args)
        return out


def lattice_filter(values, features, transpose=False):
    """``K_lattice · values`` for a one-off filtering: values (N, L), features (N, d).

    ``K_lattice ≈ c·exp(-½‖f_i - f_j‖²)`` (see the module docstring); NumPy arrays, CPU.
    Returns (N, L) in the dtype of ``values``.
    """
    values = np.ascontiguousarray(values)
    lattice = Lattice(features, dtype=values.dtype)
    return lattice.filter(values, coef=alpha(lattice.d), transpose=transpose)


class LatticeKernel:
    """A normalised Gaussian kernel ``K̃`` applied with the permutohedral lattice.

    features: (N, d) NumPy float64 (the lattice is built on the CPU); keyword-only: ``dtype``
    the compute dtype, ``xp`` the array module of the mean-field arrays, ``normalization``
    ``"symmetric"`` (``D K D``, pydensecrf's default, with the lattice's own ``K·1`` as
    Krähenbühl's code does) or ``"none"`` (``K`` itself), ``exclude_self`` drops the
    ``j = i`` term (exactly 1, subtracted after the filter). These two need the absolute
    scale of ``K``, which the lattice only has up to a constant: it is measured once per
    image (``calibrate``), and a pixel whose other neighbours sum to less than 1 is
    normalised as if they summed to 1 (the lattice's self term is only approximately 1, and
    ``D`` would amplify the mismatch).

    ``K̃ = coef · diag(scale) · B · diag(scale) − diag(self_weight)``: public, read only,
    ``lattice`` (a ``Lattice``), ``coef`` (float), ``scale`` ((N,) on ``xp``, or ``None``
    for ones) and ``self_weight`` ((N,) on ``xp``, or ``None`` without ``exclude_self``).
    """

    def __init__(self, features, *, dtype, xp=np, normalization="symmetric", exclude_self=False):
        features = np.ascontiguousarray(features, dtype=np.float64)
        self.lattice = Lattice(features, dtype=dtype)
        d = features.shape[1]
        # the lattice's own K·1, as Krähenbühl's code computes it (filtering ones)
        k1 = alpha(d) * self.lattice.row_sums()
        self.coef = alpha(d)  # K_lattice = alpha · B
        if normalization == "none" or exclude_self:
            c = calibrate(features, k1)
            self.coef *= c
            k1 = k1 * c
        if exclude_self:
            k1 = np.maximum(k1 - 1.0, 1.0)
        if normalization == "symmetric":
            scale = 1.0 / np.sqrt(k1 + 1e-20)
            self.scale = xp.asarray(scale.astype(dtype))
            self_weight = scale * scale  # K̃_ii = d_i · 1 · d_i
        else:
            self.scale = None
            self_weight = np.ones_like(k1)
        self.self_weight = xp.asarray(self_weight.astype(dtype)) if exclude_self else None

    def apply(self, values, transpose=False):
        """``K̃ · values`` (``K̃ᵀ · values`` with ``transpose``): (N, L) → (N, L), same device."""
        out = self.lattice.filter(values, coef=self.coef, scale_in=self.scale,
                                  scale_out=self.scale, transpose=transpose)
        if self.self_weight is not None:
            out -= self.self_weight[:, None] * values
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
