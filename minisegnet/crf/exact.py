"""The dense Gaussian kernel computed exactly, all pairs, a block of rows at a time.

``(K V)_i = Σ_j exp(-½‖f_i - f_j‖²) V_j`` over *every* pixel ``j``: ``O(N²·(d + L))`` time.
This is the readable reference for the mean field on small images (up to about 100 × 100
pixels: 10⁸ kernel entries per product); the lattice (``lattice.py``) approximates it in
linear time. Rows are computed in blocks of ``block_entries // N`` pixels, so memory stays at
``O(block_entries)`` whatever ``N``; when the whole normalised matrix is small
(``N²`` entries ≤ ``dense_bytes``) it is kept instead of recomputed every iteration.
Works on NumPy and CuPy arrays alike. Lesson: ``lessons/09-dense-crf.md``.
"""

from __future__ import annotations

from ..backend import get_array_module

__all__ = ["ExactKernel", "gaussian_block"]


def gaussian_block(features, rows, exclude_self=False):
    """Rows ``rows`` (a slice) of ``K = exp(-½‖f_i - f_j‖²)``: features (N, d) → (len, N).

    With ``exclude_self`` the diagonal ``j = i`` entries are 0 (the paper's ``j ≠ i``).
    """
    ### BEGIN SOLUTION A4
    xp = get_array_module(features)
    block = features[rows]
    d2 = xp.zeros((block.shape[0], features.shape[0]), dtype=features.dtype)
    for k in range(features.shape[1]):  # one feature at a time: no (B, N, d) temporary
        d2 += (block[:, k, None] - features[None, :, k]) ** 2
    kernel = xp.exp(-0.5 * d2)
    if exclude_self:
        local = xp.arange(block.shape[0])
        kernel[local, local + rows.start] = 0
    return kernel
    ### END SOLUTION A4


class ExactKernel:
    """``K̃ = D K D`` (``"symmetric"``, ``D = (K·1)^(-1/2)``) or ``K`` (``"none"``), exactly.

    features: (N, d) float array (NumPy or CuPy) in the compute dtype. ``exclude_self``
    drops the ``j = i`` terms (from ``K`` and from ``K·1``). ``K̃`` is symmetric, so its
    transpose is itself.
    """

    def __init__(self, features, normalization="symmetric", exclude_self=False,
                 block_entries=1 << 22, dense_bytes=64 << 20):
        self.xp = get_array_module(features)
        self.features = features
        self.n = features.shape[0]
        self.exclude_self = exclude_self
        self.block = max(1, block_entries // self.n)
        keep = self.n * self.n * features.dtype.itemsize <= dense_bytes
        if keep:  # small enough: compute the whole matrix once and keep it
            kernel = gaussian_block(features, slice(0, self.n), exclude_self)
            k1 = kernel.sum(axis=1)
        else:  # row sums a block at a time; the products recompute the blocks
            k1 = self.xp.concatenate([gaussian_block(features, rows, exclude_self).sum(axis=1)
                                      for rows in self._blocks()])
        self.row_sums = k1
        ### BEGIN SOLUTION A4
        if normalization == "symmetric":
            self.scale = 1.0 / self.xp.sqrt(k1 + 1e-20)  # 1e-20 as Krähenbühl: an isolated pixel is 0
        else:
            self.scale = None
        ### END SOLUTION A4
        self.dense = self._normalised(kernel, slice(0, self.n)) if keep else None

    def _blocks(self):
        for start in range(0, self.n, self.block):
            yield slice(start, min(start + self.block, self.n))

    def _normalised(self, kernel, rows):
        """Rows ``rows`` (a slice) of ``K̃`` from the same rows of ``K`` (len, N): ``D K D``
        (``"symmetric"``) or ``K`` itself (``"none"``)."""
        ### BEGIN SOLUTION A4
        if self.scale is None:
            return kernel
        return self.scale[rows, None] * kernel * self.scale[None, :]
        ### END SOLUTION A4

    def apply(self, values, transpose=False):
        """``K̃ · values``: (N, L) → (N, L), a block of rows at a time (or with the kept matrix).

        ``transpose`` is accepted for the kernels' common interface: ``K̃ᵀ = K̃``.
        """
        ### BEGIN SOLUTION A4
        if self.dense is not None:
            return self.dense @ values
        out = self.xp.empty_like(values)
        for rows in self._blocks():
            kernel = gaussian_block(self.features, rows, self.exclude_self)
            out[rows] = self._normalised(kernel, rows) @ values
        return out
        ### END SOLUTION A4
