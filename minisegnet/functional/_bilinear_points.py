"""Bilinear reads at fractional positions, on flat points: the core shared by ``sampling.py``
(bilinear sampling, RoIAlign) and ``deform.py`` (deformable convolution).

An image batch is stored as rows ``(N·H·W, C)`` (NHWC), so that each of a sample's four
corners is one row read. ``locate`` finds the corners and weights, ``gather`` reads,
``scatter`` is its adjoint and ``position_gradient`` the derivative with respect to the
sample positions. Lesson: ``lessons/05-unpooling-and-interpolation.md``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..backend import get_array_module

CORNERS = ((0, 0), (0, 1), (1, 0), (1, 1))


# ---------------------------------------------------------------- the core, on flat points


class Points(NamedTuple):
    """Where M samples read an image batch stored as rows ``(N·H·W, C)`` (NHWC)."""

    rows: object      # (4, M) int64 row index of each corner (0 where the corner is outside)
    weights: object   # (4, M) bilinear weight of each corner (0 where the corner is outside)
    inside: object    # (4, M) bool: the corner is a pixel of the image
    frac: object      # (2, M) fractional parts (ly, lx) of the positions


def locate(xp, batch, cy, cx, height, width, dtype):
    """The four neighbours of every sample and their bilinear weights.

    batch: (M,) int image index; cy, cx: (M,) positions in pixel units. Positions are first
    clipped to ``[-2, size + 1]``: beyond ``-1`` or ``size`` every neighbour is outside, so
    the value and both gradients are zero either way, and the clip keeps ``floor`` in the
    range of int64.
    """
    cy = xp.clip(cy, -2, height + 1)
    cx = xp.clip(cx, -2, width + 1)
    y0, x0 = xp.floor(cy), xp.floor(cx)
    ly, lx = (cy - y0).astype(dtype), (cx - x0).astype(dtype)
    y0, x0 = y0.astype(xp.int64), x0.astype(xp.int64)
    weight = {(0, 0): (1 - ly) * (1 - lx), (0, 1): (1 - ly) * lx,
              (1, 0): ly * (1 - lx), (1, 1): ly * lx}
    rows, weights, inside = [], [], []
    for dy, dx in CORNERS:
        yy, xx = y0 + dy, x0 + dx
        ok = (yy >= 0) & (yy < height) & (xx >= 0) & (xx < width)
        rows.append(xp.where(ok, (batch * height + yy) * width + xx, 0))
        weights.append(xp.where(ok, weight[dy, dx], 0).astype(dtype, copy=False))
        inside.append(ok)
    return Points(xp.stack(rows), xp.stack(weights), xp.stack(inside), xp.stack([ly, lx]))


def gather(x_rows, points):
    """Sampled values ``(M, C)``: ``Σ_k weights[k] · x_rows[rows[k]]``."""
    out = points.weights[0][:, None] * x_rows[points.rows[0]]
    for k in range(1, 4):
        out += points.weights[k][:, None] * x_rows[points.rows[k]]
    return out


def scatter(dv, points, n_rows):
    """Adjoint of ``gather``: ``dx_rows[rows[k]] += weights[k] · dv`` (repeats summed).

    This is ``Sᵀ dv`` for the sparse sampling matrix ``S`` (one row per sample, at most four
    non-zeros): a pixel read by many samples (or by several corners of one sample) gets the
    sum of their contributions. NumPy builds ``Sᵀ`` as a ``scipy.sparse`` matrix (duplicates
    summed) and multiplies; CuPy uses one ``bincount`` over the flattened ``(N·H·W·C)``
    gradient, which is fast on a GPU.
    """
    xp = get_array_module(dv)
    m, c = dv.shape
    if xp is np:
        import scipy.sparse as sparse

        samples = np.broadcast_to(np.arange(m), points.rows.shape)
        s_t = sparse.csr_matrix((points.weights.ravel(), (points.rows.ravel(), samples.ravel())),
                                shape=(n_rows, m))
        return np.asarray(s_t @ dv, dtype=dv.dtype).reshape(n_rows, c)
    target = (points.rows[:, :, None] * c + xp.arange(c)).reshape(-1)
    values = (points.weights[:, :, None] * dv[None]).reshape(-1)
    dx = xp.bincount(target, weights=values, minlength=n_rows * c)
    return dx.astype(dv.dtype, copy=False).reshape(n_rows, c)


def position_gradient(dv, x_rows, points):
    """``d loss / d (y, x)`` of every sample, ``(M, 2)``.

    With ``g_k = <dv, value of corner k>`` (zero for a corner outside the image) and the
    weights' derivatives: ``∂/∂y = (1-lx)(g₁₀ - g₀₀) + lx(g₁₁ - g₀₁)``,
    ``∂/∂x = (1-ly)(g₀₁ - g₀₀) + ly(g₁₁ - g₁₀)``. At an integer coordinate the right-hand
    derivative is used (``floor`` picks the cell to the right), as torchvision does.
    """
    xp = get_array_module(dv)
    g = [xp.where(points.inside[k], (dv * x_rows[points.rows[k]]).sum(axis=1), 0)
         for k in range(4)]
    ly, lx = points.frac
    d_y = (1 - lx) * (g[2] - g[0]) + lx * (g[3] - g[1])
    d_x = (1 - ly) * (g[1] - g[0]) + ly * (g[3] - g[2])
    return xp.stack([d_y, d_x], axis=1).astype(dv.dtype, copy=False)


def nhwc_rows(x):
    """(N, C, H, W) → (N·H·W, C): one row of channels per pixel, so a gather reads rows."""
    n, c, h, w = x.shape
    return get_array_module(x).ascontiguousarray(x.transpose(0, 2, 3, 1)).reshape(n * h * w, c)


def from_rows(rows, shape):
    """(N·H·W, C) → (N, C, H, W), contiguous."""
    n, c, h, w = shape
    return get_array_module(rows).ascontiguousarray(rows.reshape(n, h, w, c).transpose(0, 3, 1, 2))
