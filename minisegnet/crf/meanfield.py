"""Mean-field inference in a fully connected CRF with Gaussian edge potentials, forward and backward.

The model (Krähenbühl & Koltun, NIPS 2011) as ``pydensecrf`` implements it by default
(``DenseCRF2D`` + ``addPairwiseGaussian(sxy, compat)`` + ``addPairwiseBilateral(sxy, srgb,
rgbim, compat)``), so that the same parameters give the same result::

    Q⁰ = softmax(-U)
    Qᵗ = softmax(-U + Σ_m w_m · K̃_m Qᵗ⁻¹),      t = 1 … n_iter

with, per pixel ``i`` at row ``y``, column ``x`` with colour ``(r, g, b)`` in 0–255:

* ``U`` (L, N) the unary energies (``-log p``);
* two kernels ``K_m[i, j] = exp(-½‖f_i - f_j‖²)`` on features scaled by bandwidths:
  smoothness ``f = (x, y) / sxy_gaussian`` and appearance (bilateral)
  ``f = (x/sxy_bilateral, y/sxy_bilateral, r/srgb, g/srgb, b/srgb)``;
* ``K̃ = D K D`` with ``D = diag(K·1)^(-1/2)``: symmetric normalisation, the ``j = i`` term
  kept;
* Potts compatibility ``μ(l, l') = w_m·[l ≠ l']``: the message ``Σ_l' μ(l, l') (K̃Q)(l')``
  equals ``w_m·(K̃·1 − K̃Q(l))``, and the first term is the same for every label, so it
  cancels in the softmax: a positive ``w_m`` (``compat``) *rewards* agreeing with similar
  pixels, i.e. smooths.

How this differs from the paper's formula. The paper's update is
``Q_i(l) ∝ exp(-U_i(l) − Σ_l' μ(l, l') Σ_m w_m Σ_{j≠i} k_m(f_i, f_j) Q_j(l'))``: the raw
kernel, summed over ``j ≠ i``. There the size of a message grows with the number of pixels
within a bandwidth — about ``2π·sxy²`` for the smoothness kernel (57 for ``sxy = 3``), up to
tens of thousands for the appearance kernel's ``sxy = 80`` — so a weight that suits one
bandwidth or image size is far too strong for another. Krähenbühl's code (and so
pydensecrf) normalises each kernel, ``K̃ = D K D``: for ``Q = 1`` the message is ``≈ 1``, so
``K̃Q(l)`` is (roughly) a *weighted average* of the neighbours' beliefs in label ``l``, in
``[0, 1]``, and ``w_m`` is directly the largest shift of the log-odds it can cause,
comparable to unary energies of a few units. That is why the
defaults ``sxy=80, srgb=13, compat=10`` (bilateral) and ``sxy=3, compat=3`` (smoothness) only
make sense normalised: unnormalised, ``compat=10`` times thousands of neighbours would drown
any unary. Keeping ``j = i`` (the lattice cannot easily drop it) changes little: the self
term of ``K̃`` is ``1/(K·1)_i``, about 2 % for ``sxy = 3``. ``normalization="none"`` with
``exclude_self=True`` gives the paper's form (use weights scaled down accordingly; note that
pydensecrf's ``NO_NORMALIZATION`` is not that either: it divides ``K`` by the mean of ``K·1``).

Methods: ``"exact"`` (all pairs, ``exact.py``; small images), ``"lattice"`` (the
permutohedral lattice, ``lattice.py``, linear time, the same approximation as pydensecrf's)
and ``"auto"`` (exact up to ``AUTO_EXACT_MAX_PIXELS`` pixels, lattice above).

Backward (CRF-as-RNN, Zheng et al. 2015): the iterations are a recurrent network, so the
gradient runs back through them: with ``dAᵗ = Qᵗ ⊙ (dQᵗ − ⟨Qᵗ, dQᵗ⟩)`` (softmax backward),
``dU −= dAᵗ`` and ``dQᵗ⁻¹ = Σ_m w_m K̃_mᵀ dAᵗ``; the exact ``K̃`` is symmetric, the lattice's
transpose blurs in reverse order. ``∂/∂w_m = Σ_t ⟨K̃_mᵀ dAᵗ, Qᵗ⁻¹⟩`` comes for free.

Lesson: ``lessons/09-dense-crf.md``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._checks import (
    check_array,
    check_cache,
    check_choice,
    check_finite_array,
    check_int,
    check_number,
    check_same_device,
)
from ..backend import get_array_module, to_numpy
from .exact import ExactKernel
from .lattice import LatticeKernel, fused_update, parallel_parts

__all__ = [
    "mean_field_forward",
    "mean_field_backward",
    "pairwise_features",
    "AUTO_EXACT_MAX_PIXELS",
    "EXACT_MAX_PIXELS",
]

AUTO_EXACT_MAX_PIXELS = 2500  # "auto" uses the exact kernel up to this many pixels (50 x 50)
EXACT_MAX_PIXELS = 1 << 16  # beyond this, method="exact" is refused (hours of O(N²) work)
METHODS = ("auto", "exact", "lattice")
NORMALIZATIONS = ("symmetric", "none")

# Tests set this to run the array-op code path (the one CuPy arrays take) on NumPy arrays.
_FORCE_ARRAY_OPS = False


class _MeanFieldCache(NamedTuple):
    kind: str
    shape: tuple          # (L, H, W)
    dtype: object
    method: str           # "exact" or "lattice" (what "auto" chose)
    kernels: tuple        # ((compat, kernel), ...): the smoothness and appearance kernels
    unary: object         # (N, L) energies, pixel-major (kept to recompute the history)
    history: object       # [Q⁰, …, Qⁿ] each (N, L), or None (recomputed by backward)
    n_iter: int
    use_numba: bool


# ============================================================================ features
def pairwise_features(image, sxy, srgb=None):
    """Bandwidth-scaled features of every pixel, in pydensecrf's order.

    image: (H, W, 3) uint8 (NumPy or CuPy); returns (H·W, 2) ``(x, y)/sxy`` or, with
    ``srgb``, (H·W, 5) ``(x/sxy, y/sxy, r/srgb, g/srgb, b/srgb)``, float64, pixels in
    row-major order, ``x`` the column and ``y`` the row. Lesson: ``lessons/09-dense-crf.md``.
    """
    xp = get_array_module(image)
    h, w = image.shape[:2]
    rows, cols = xp.meshgrid(xp.arange(h, dtype=xp.float64), xp.arange(w, dtype=xp.float64),
                             indexing="ij")
    columns = [cols.ravel() / sxy, rows.ravel() / sxy]
    if srgb is not None:
        columns += [image[..., c].ravel().astype(xp.float64) / srgb for c in range(3)]
    return xp.stack(columns, axis=1)


# ============================================================================ softmax
def _softmax(a, sign, out, use_numba):
    """``out = softmax(sign·a)`` over axis 1 of (N, L) arrays."""
    if use_numba:
        from . import _lattice_kernels as k  # imports numba: CPU path only

        fast = a.dtype == np.float32
        if a.size >= k.PARALLEL_MIN_SIZE and parallel_parts() > 1:
            k.softmax_parallel(a, a.dtype.type(sign), out, fast, 4 * parallel_parts())
        else:
            k.softmax_serial(a, a.dtype.type(sign), out, fast)
        return out
    xp = get_array_module(a)
    ### BEGIN SOLUTION A4
    z = sign * a
    z = z - z.max(axis=1, keepdims=True)
    e = xp.exp(z)
    out[...] = e / e.sum(axis=1, keepdims=True)
    return out
    ### END SOLUTION A4


def _softmax_backward(q, g, da, du, use_numba):
    """``da = q ⊙ (g − Σ_l q ⊙ g)`` and ``du −= da``; all (N, L)."""
    if use_numba:
        from . import _lattice_kernels as k

        if q.size >= k.PARALLEL_MIN_SIZE and parallel_parts() > 1:
            k.softmax_backward_parallel(q, g, da, du, 4 * parallel_parts())
        else:
            k.softmax_backward_serial(q, g, da, du)
        return da
    ### BEGIN SOLUTION A4
    da[...] = q * (g - (q * g).sum(axis=1, keepdims=True))
    du -= da
    return da
    ### END SOLUTION A4


def _transposed(a):
    """``a.T`` as a new C-contiguous array: (L, N) ↔ (N, L) layouts."""
    return get_array_module(a).ascontiguousarray(a.T)


# ============================================================================ the iterations
def _iterate(unary, kernels, n_iter, keep_history, use_numba):
    """Run the mean field on pixel-major (N, L) energies; returns ``(Q, history)``."""
    xp = get_array_module(unary)
    ### BEGIN SOLUTION A4
    q = _softmax(unary, -1.0, xp.empty_like(unary), use_numba)
    history = [q] if keep_history else None
    active = [(w, k) for w, k in kernels if w != 0]
    fused = use_numba and len(active) == 2 and all(getattr(k, "fusable", False) for _, k in active)
    a = None if fused else xp.empty_like(unary)
    for _ in range(n_iter):
        if fused:  # the same update in two parallel loops (lattice.fused_update)
            q = fused_update(active, q, unary, xp.empty_like(unary) if keep_history else q)
            if keep_history:
                history.append(q)
            continue
        if active:
            for m, (w, kernel) in enumerate(active):  # a = -U + Σ_m w_m K̃_m Q
                if m == 0:
                    kernel.accumulate(q, w, a, base=unary, base_coef=-1.0)
                else:
                    kernel.accumulate(q, w, a, base=a, base_coef=1.0)
        else:
            xp.negative(unary, out=a)
        q = _softmax(a, 1.0, xp.empty_like(unary) if keep_history else q, use_numba)
        if keep_history:
            history.append(q)
    return q, history
    ### END SOLUTION A4


def _build_kernels(image, dtype, xp, method, params, normalization, exclude_self, use_numba):
    """The smoothness and appearance kernels as ``((compat, kernel), (compat, kernel))``."""
    sxy_g, compat_g, sxy_b, srgb, compat_b = params
    specs = ((compat_g, sxy_g, None), (compat_b, sxy_b, srgb))
    kernels = []
    for compat, sxy, srgb_m in specs:
        if method == "exact":
            feats = pairwise_features(image, sxy, srgb_m).astype(dtype)
            kernel = ExactKernel(feats, normalization, exclude_self)
        else:
            feats = pairwise_features(to_numpy(image), sxy, srgb_m)
            kernel = LatticeKernel(feats, dtype, xp, vectorised=not use_numba,
                                   normalization=normalization, exclude_self=exclude_self)
        kernels.append((compat, kernel))
    return tuple(kernels)


def mean_field_forward(unary, image, n_iter=5, sxy_gaussian=3.0, compat_gaussian=3.0,
                       sxy_bilateral=80.0, srgb=13.0, compat_bilateral=10.0, method="auto", *,
                       normalization="symmetric", exclude_self=False, save_history=False):
    """Mean-field inference in the dense CRF: ``Q ← softmax(-U + Σ_m w_m K̃_m Q)``, ``n_iter`` times.

    unary: (L, H, W) float32/float64 energies (``-log p``, e.g. from
    ``unary_from_probabilities``), ``L >= 2``; image: (H, W, 3) uint8 RGB, same device.
    Smoothness kernel ``exp(-½‖Δ(x, y)‖²/sxy_gaussian²)`` with weight ``compat_gaussian``;
    appearance kernel ``exp(-½‖Δ(x, y)‖²/sxy_bilateral² − ½‖Δrgb‖²/srgb²)`` with weight
    ``compat_bilateral`` (pydensecrf's ``addPairwiseGaussian`` / ``addPairwiseBilateral``,
    Potts, symmetric normalisation, ``j = i`` kept; see the module docstring).
    method: ``"exact"`` (all pairs, ≤ 65536 pixels), ``"lattice"`` (permutohedral lattice:
    Numba on the CPU, array ops on CuPy) or ``"auto"`` (exact up to 2500 pixels).
    Keyword-only: ``normalization`` ``"symmetric"`` | ``"none"`` (raw ``K``, the paper's
    form), ``exclude_self`` (sum over ``j ≠ i``), ``save_history`` (keep every ``Qᵗ`` in the
    cache for backward: ``n_iter`` more (L, H, W) arrays; by default backward re-runs the
    iterations first, so memory stays at a few (L, H, W) arrays).

    Returns ``(Q, cache)``: Q (L, H, W) marginals (sum 1 over L), the unary's dtype and
    library. Lesson: ``lessons/09-dense-crf.md``.
    """
    fn = "mean_field_forward"
    check_array(fn, "unary", unary, 3, "(L, H, W)")
    check_array(fn, "image", image, 3, "(H, W, 3)", floating=False)
    check_same_device(fn, unary=unary, image=image)
    if image.shape[2] != 3:
        raise ValueError(f"{fn}: image must have shape (H, W, 3), got {tuple(image.shape)}")
    if image.dtype != np.uint8:
        raise TypeError(f"{fn}: image must be uint8 (0-255 RGB), got dtype {image.dtype}")
    n_labels, h, w = unary.shape
    if (h, w) != tuple(image.shape[:2]):
        raise ValueError(f"{fn}: unary (L, H, W) must match image (H, W, 3) in H and W, got "
                         f"unary {tuple(unary.shape)} and image {tuple(image.shape)}")
    if n_labels < 2:
        raise ValueError(f"{fn}: unary must have at least 2 labels (L >= 2), got shape "
                         f"{tuple(unary.shape)}")
    if h * w == 0:
        raise ValueError(f"{fn}: image must have at least one pixel, got shape {tuple(image.shape)}")
    n_iter = check_int(fn, "n_iter", n_iter, minimum=0)
    sxy_g = check_number(fn, "sxy_gaussian", sxy_gaussian, positive=True)
    sxy_b = check_number(fn, "sxy_bilateral", sxy_bilateral, positive=True)
    srgb = check_number(fn, "srgb", srgb, positive=True)
    compat_g = check_number(fn, "compat_gaussian", compat_gaussian)
    compat_b = check_number(fn, "compat_bilateral", compat_bilateral)
    check_choice(fn, "method", method, METHODS)
    check_choice(fn, "normalization", normalization, NORMALIZATIONS)
    for name, flag in (("exclude_self", exclude_self), ("save_history", save_history)):
        if not isinstance(flag, bool):
            raise TypeError(f"{fn}: {name} must be a bool, got {flag!r}")
    n = h * w
    if method == "exact" and n > EXACT_MAX_PIXELS:
        raise ValueError(f"{fn}: method='exact' is O(N²) and limited to {EXACT_MAX_PIXELS} pixels, "
                         f"got {h}x{w} = {n}; use method='lattice'")
    check_finite_array(fn, "unary", unary)

    if method == "auto":
        method = "exact" if n <= AUTO_EXACT_MAX_PIXELS else "lattice"
    xp = get_array_module(unary)
    use_numba = xp is np and not _FORCE_ARRAY_OPS and method == "lattice"
    u = _transposed(unary.reshape(n_labels, n))  # (N, L): labels contiguous
    kernels = ()
    if n_iter > 0:
        kernels = _build_kernels(image, unary.dtype, xp, method,
                                 (sxy_g, compat_g, sxy_b, srgb, compat_b),
                                 normalization, exclude_self, use_numba)
    q, history = _iterate(u, kernels, n_iter, save_history, use_numba)
    out = _transposed(q).reshape(n_labels, h, w)
    cache = _MeanFieldCache("mean_field", (n_labels, h, w), unary.dtype, method, kernels, u,
                            history, n_iter, use_numba)
    return out, cache


def mean_field_backward(dQ, cache, *, compat_grads=False):
    """Gradient of ``mean_field_forward`` w.r.t. the unary, through all iterations (CRF-as-RNN).

    ``dAᵗ = Qᵗ ⊙ (dQᵗ − ⟨Qᵗ, dQᵗ⟩)``, ``dU −= dAᵗ``, ``dQᵗ⁻¹ = Σ_m w_m K̃_mᵀ dAᵗ``.
    dQ: (L, H, W), the forward's dtype and library. Returns dunary (L, H, W); with
    ``compat_grads=True`` ``(dunary, dcompat_gaussian, dcompat_bilateral)`` (floats).
    Lesson: ``lessons/09-dense-crf.md``.
    """
    fn = "mean_field_backward"
    check_cache(fn, cache, "mean_field")
    check_array(fn, "dQ", dQ, 3, "(L, H, W)")
    if tuple(dQ.shape) != cache.shape:
        raise ValueError(f"{fn}: dQ must have shape {cache.shape}, got {tuple(dQ.shape)}")
    check_same_device(fn, dQ=dQ, unary=cache.unary)
    if dQ.dtype != cache.dtype:
        raise TypeError(f"{fn}: dQ must be {cache.dtype} like the forward's unary, got {dQ.dtype}")
    check_finite_array(fn, "dQ", dQ)

    xp = get_array_module(dQ)
    n_labels, h, w = cache.shape
    ### BEGIN SOLUTION A4
    use_numba = cache.use_numba
    history = cache.history
    if history is None:
        _, history = _iterate(cache.unary, cache.kernels, cache.n_iter, True, use_numba)
    g = _transposed(dQ.reshape(n_labels, h * w))
    du = xp.zeros_like(g)
    da = xp.empty_like(g)
    dcompat = [0.0 for _ in cache.kernels]
    spare = xp.empty_like(g) if cache.kernels else None
    for t in range(cache.n_iter, 0, -1):
        _softmax_backward(history[t], g, da, du, use_numba)
        g_prev = spare
        first = True
        for m, (weight, kernel) in enumerate(cache.kernels):
            if compat_grads:
                filtered = kernel.apply(da, transpose=True)
                dcompat[m] += float((filtered * history[t - 1]).sum(dtype=xp.float64))
                if weight == 0:
                    continue
                if first:
                    g_prev[...] = weight * filtered
                else:
                    g_prev += weight * filtered
            elif weight == 0:
                continue
            elif first:
                kernel.accumulate(da, weight, g_prev, transpose=True)
            else:
                kernel.accumulate(da, weight, g_prev, base=g_prev, base_coef=1.0, transpose=True)
            first = False
        if first:  # no active kernel: Qᵗ does not depend on Qᵗ⁻¹
            g_prev[...] = 0
        spare, g = g, g_prev
    _softmax_backward(history[0], g, da, du, use_numba)
    dunary = _transposed(du).reshape(n_labels, h, w)
    if compat_grads:
        return dunary, dcompat[0] if dcompat else 0.0, dcompat[1] if dcompat else 0.0
    return dunary
    ### END SOLUTION A4
