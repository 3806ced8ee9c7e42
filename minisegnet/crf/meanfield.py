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

Two tiers (``minisegnet.backend``). The reference tier is the loop below, written with the
kernels' ``apply`` and ``functional.softmax``: ``message(Q) = Σ_m w_m K̃_m Q`` and
``Q ← softmax(-U + message(Q))``; backward likewise. On the fast tier, with both kernels on
lattices with nonzero weights (NumPy arrays), the whole mean field and its backward are one
fused Numba call each instead (``_meanfield_kernels.py``: both splats, both blurs, both
slices and the softmax, two parallel loops per iteration); this module alone makes that
choice.

Backward (CRF-as-RNN, Zheng et al. 2015): the iterations are a recurrent network, so the
gradient runs back through them: with ``dAᵗ = Qᵗ ⊙ (dQᵗ − ⟨Qᵗ, dQᵗ⟩)`` (softmax backward),
``dU −= dAᵗ`` and ``dQᵗ⁻¹ = Σ_m w_m K̃_mᵀ dAᵗ``; the exact ``K̃`` is symmetric, the lattice's
transpose blurs in reverse order. ``∂/∂w_m = Σ_t ⟨K̃_mᵀ dAᵗ, Qᵗ⁻¹⟩`` comes for free:
``mean_field_gradients`` returns all three (``MeanFieldGrads``), ``mean_field_backward`` the
unary's.

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
from ..backend import fast_tier, get_array_module, to_numpy
from ..functional import softmax
from .exact import ExactKernel
from .lattice import LatticeKernel

__all__ = [
    "mean_field_forward",
    "mean_field_backward",
    "mean_field_gradients",
    "MeanFieldGrads",
    "pairwise_features",
    "AUTO_EXACT_MAX_PIXELS",
    "EXACT_MAX_PIXELS",
]

AUTO_EXACT_MAX_PIXELS = 2500  # "auto" uses the exact kernel up to this many pixels (50 x 50)
EXACT_MAX_PIXELS = 1 << 16  # beyond this, method="exact" is refused (hours of O(N²) work)
METHODS = ("auto", "exact", "lattice")
NORMALIZATIONS = ("symmetric", "none")
FAST_TIER = "minisegnet.crf._meanfield_kernels"


class MeanFieldGrads(NamedTuple):
    """The gradients ``mean_field_gradients`` returns: ``unary`` (L, H, W) like the unary,
    ``compat_gaussian`` and ``compat_bilateral`` (floats)."""

    unary: object
    compat_gaussian: float
    compat_bilateral: float


class _MeanFieldCache(NamedTuple):
    kind: str
    shape: tuple          # (L, H, W)
    dtype: object
    method: str           # "exact" or "lattice" (what "auto" chose)
    kernels: tuple        # ((compat, kernel), ...): the smoothness and appearance kernels
    unary: object         # (N, L) energies, pixel-major (kept to recompute the history)
    history: object       # [Q⁰, …, Qⁿ] each (N, L), or None (recomputed by backward)
    n_iter: int


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


def _pixel_major(a):
    """(L, H, W) → (N, L), a new C-contiguous array: each pixel's labels side by side."""
    return get_array_module(a).ascontiguousarray(a.reshape(a.shape[0], -1).T)


def _label_major(a, shape):
    """(N, L) → ``shape`` (L, H, W), a new C-contiguous array."""
    return get_array_module(a).ascontiguousarray(a.T).reshape(shape)


# ============================================================================ reference tier
def _message(kernels, q):
    """``Σ_m w_m K̃_m Q``: what the similar pixels say about each pixel's labels; (N, L)."""
    ### BEGIN SOLUTION A4
    return sum(weight * kernel.apply(q) for weight, kernel in kernels)
    ### END SOLUTION A4


def _iterate(unary, kernels, n_iter):
    """The mean field on (N, L) energies: ``[Q⁰, …, Qⁿ]`` with ``Q⁰ = softmax(-U)`` and
    ``Qᵗ = softmax(-U + message(Qᵗ⁻¹))``, softmax over the labels (axis 1)."""
    ### BEGIN SOLUTION A4
    history = [softmax(-unary, axis=1)]
    for _ in range(n_iter):
        history.append(softmax(-unary + _message(kernels, history[-1]), axis=1))
    return history
    ### END SOLUTION A4


def _softmax_backward(q, dq):
    """``dA = Q ⊙ (dQ − ⟨Q, dQ⟩)`` per pixel: the gradient w.r.t. the softmax's input; (N, L)."""
    ### BEGIN SOLUTION A4
    return q * (dq - (q * dq).sum(axis=1, keepdims=True))
    ### END SOLUTION A4


def _message_backward(kernels, da):
    """The message's transpose: ``(Σ_m w_m K̃_mᵀ dA, [K̃_mᵀ dA for each m])``; (N, L) each."""
    ### BEGIN SOLUTION A4
    filtered = [kernel.apply(da, transpose=True) for _, kernel in kernels]
    return sum(weight * f for (weight, _), f in zip(kernels, filtered)), filtered
    ### END SOLUTION A4


# ============================================================================ forward
def _build_kernels(image, dtype, xp, method, params, normalization, exclude_self):
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
            kernel = LatticeKernel(feats, dtype=dtype, xp=xp, normalization=normalization,
                                   exclude_self=exclude_self)
        kernels.append((compat, kernel))
    return tuple(kernels)


def _fused_tier(kernels, n_iter, xp):
    """The fused fast tier (``_meanfield_kernels``) where it applies: both kernels on
    lattices with nonzero weights, NumPy arrays, the fast tier on; else ``None``."""
    fusable = n_iter > 0 and all(isinstance(k, LatticeKernel) and w != 0 for w, k in kernels)
    fast = fast_tier(xp, FAST_TIER, cpu_only=True, worthwhile=fusable)
    return fast if fusable and len(kernels) == 2 else None


def _run(unary, kernels, n_iter, keep_history):
    """The iterations on (L, H, W) energies. Returns ``(u, Q, history)``: the unary
    pixel-major (N, L) (kept for backward), Q (L, H, W), and ``[Q⁰, …, Qⁿ]`` (N, L) with
    ``keep_history``, else ``None``."""
    fast = _fused_tier(kernels, n_iter, get_array_module(unary))
    if fast is not None:
        return fast.fused_forward(unary, kernels, n_iter, keep_history)
    u = _pixel_major(unary)  # (N, L): labels contiguous
    history = _iterate(u, kernels, n_iter)
    return u, _label_major(history[-1], unary.shape), history if keep_history else None


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
    method: ``"exact"`` (all pairs, ≤ 65536 pixels), ``"lattice"`` (permutohedral lattice)
    or ``"auto"`` (exact up to 2500 pixels).
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
    kernels = ()
    if n_iter > 0:
        kernels = _build_kernels(image, unary.dtype, get_array_module(unary), method,
                                 (sxy_g, compat_g, sxy_b, srgb, compat_b),
                                 normalization, exclude_self)
    u, q, history = _run(unary, kernels, n_iter, save_history)
    cache = _MeanFieldCache("mean_field", (n_labels, h, w), unary.dtype, method, kernels, u,
                            history, n_iter)
    return q, cache


# ============================================================================ backward
def _check_backward(fn, dQ, cache):
    check_cache(fn, cache, "mean_field")
    check_array(fn, "dQ", dQ, 3, "(L, H, W)")
    if tuple(dQ.shape) != cache.shape:
        raise ValueError(f"{fn}: dQ must have shape {cache.shape}, got {tuple(dQ.shape)}")
    check_same_device(fn, dQ=dQ, unary=cache.unary)
    if dQ.dtype != cache.dtype:
        raise TypeError(f"{fn}: dQ must be {cache.dtype} like the forward's unary, got {dQ.dtype}")
    check_finite_array(fn, "dQ", dQ)


def mean_field_gradients(dQ, cache):
    """Gradients of ``mean_field_forward`` through all iterations (CRF-as-RNN).

    From the last iteration back to the first, with ``dQⁿ = dQ``:
    ``dAᵗ = Qᵗ ⊙ (dQᵗ − ⟨Qᵗ, dQᵗ⟩)``, ``dU −= dAᵗ``, ``dQᵗ⁻¹ = Σ_m w_m K̃_mᵀ dAᵗ`` and
    ``∂/∂w_m += ⟨K̃_mᵀ dAᵗ, Qᵗ⁻¹⟩``; finally ``dU −= Q⁰ ⊙ (dQ⁰ − ⟨Q⁰, dQ⁰⟩)``
    (``Q⁰ = softmax(-U)``). dQ: (L, H, W), the forward's dtype and library. Returns
    ``MeanFieldGrads(unary, compat_gaussian, compat_bilateral)``: (L, H, W), float, float.
    Lesson: ``lessons/09-dense-crf.md``.
    """
    _check_backward("mean_field_gradients", dQ, cache)
    xp = get_array_module(dQ)
    fast = _fused_tier(cache.kernels, cache.n_iter, xp)
    if fast is not None:  # the fused fast tier, as in the forward (not part of A4)
        return MeanFieldGrads(*fast.fused_gradients(dQ, cache.unary, cache.history,
                                                    cache.kernels, cache.n_iter))
    history = cache.history
    if history is None:  # not saved: run the iterations again
        history = _iterate(cache.unary, cache.kernels, cache.n_iter)
    # yours: du (N, L), pixel-major like history[t], and dcompat = [∂/∂w_gaussian, ∂/∂w_bilateral]
    ### BEGIN SOLUTION A4
    dq = _pixel_major(dQ)
    du = xp.zeros_like(dq)
    dcompat = [0.0, 0.0]
    for t in range(cache.n_iter, 0, -1):
        da = _softmax_backward(history[t], dq)
        du -= da
        dq, filtered = _message_backward(cache.kernels, da)
        for m, f in enumerate(filtered):
            dcompat[m] += float((f * history[t - 1]).sum())
    du -= _softmax_backward(history[0], dq)
    ### END SOLUTION A4
    return MeanFieldGrads(_label_major(du, cache.shape), *dcompat)


def mean_field_backward(dQ, cache):
    """Gradient of ``mean_field_forward`` w.r.t. the unary, through all iterations (CRF-as-RNN).

    ``dAᵗ = Qᵗ ⊙ (dQᵗ − ⟨Qᵗ, dQᵗ⟩)``, ``dU −= dAᵗ``, ``dQᵗ⁻¹ = Σ_m w_m K̃_mᵀ dAᵗ``.
    dQ: (L, H, W), the forward's dtype and library. Returns dunary (L, H, W): the
    ``unary`` of ``mean_field_gradients``. Lesson: ``lessons/09-dense-crf.md``.
    """
    _check_backward("mean_field_backward", dQ, cache)
    return mean_field_gradients(dQ, cache).unary
