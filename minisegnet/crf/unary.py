"""Unary energies from class probabilities, as ``pydensecrf.utils.unary_from_softmax``.

Lesson: ``lessons/09-dense-crf.md``.
"""

from __future__ import annotations

import numbers

from .._checks import check_array, check_finite_array
from ..backend import get_array_module

__all__ = ["unary_from_probabilities"]


def unary_from_probabilities(prob, scale=None, clip=1e-5):
    """``U = -log(clip(p, clip, 1))``: class probabilities to unary energies.

    prob: (L, H, W) (or (L, ...)) float32/float64 probabilities over axis 0 (a softmax's
    output), NumPy or CuPy. ``scale`` in (0, 1] (optional) first mixes in the uniform
    distribution, ``p ← scale·p + (1 - scale)/L`` (how sure the classifier is); ``clip``
    (> 0, or ``None``) keeps ``-log 0`` finite. Returns energies of prob's shape, dtype and
    library — pydensecrf's ``unary_from_softmax`` without its reshape to (L, N) and cast to
    float32. Lesson: ``lessons/09-dense-crf.md``.
    """
    fn = "unary_from_probabilities"
    check_array(fn, "prob", prob)
    if prob.ndim < 2 or prob.shape[0] < 2:
        raise ValueError(f"{fn}: prob must have shape (L, H, W) with L >= 2 labels, got "
                         f"{tuple(prob.shape)}")
    check_finite_array(fn, "prob", prob)
    if scale is not None:
        if not isinstance(scale, numbers.Real) or isinstance(scale, bool) or not 0 < scale <= 1:
            raise ValueError(f"{fn}: scale must be in (0, 1] or None, got {scale!r}")
    if clip is not None:
        if not isinstance(clip, numbers.Real) or isinstance(clip, bool) or not 0 < clip <= 1:
            raise ValueError(f"{fn}: clip must be in (0, 1] or None, got {clip!r}")
    xp = get_array_module(prob)
    p = prob
    if scale is not None:
        p = scale * p + (1.0 - scale) / prob.shape[0]
    if clip is not None:
        p = xp.clip(p, clip, 1.0)
    elif bool((p <= 0).any()):
        raise ValueError(f"{fn}: prob has zeros or negative values and clip is None: -log would be inf")
    return (-xp.log(p)).astype(prob.dtype, copy=False)
