"""Probes of unit 09's exercises: how the tests read your answers.

Each probe takes the notebook's namespace as ``ns`` (``ns["mean_field_step"]`` is what your
notebook defines under that name) plus plain arrays and parameters, and returns named
arrays. ``check("09.2", mean_field_step)`` in the notebook runs them on the answer you pass.
"""

import numpy as np


def _softmax_rows(a):
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def mean_field_step(ns, unary, features, w, q_scores=None):
    """Your update, on the Gaussian kernel exp(-|f_i - f_j|^2 / 2) of ``features`` (its
    diagonal is 1) and on Q = softmax(q_scores), or softmax(-unary) when not given."""
    diff = features[:, None, :] - features[None, :, :]
    kernel = np.exp(-0.5 * (diff ** 2).sum(axis=-1))
    q = _softmax_rows(-unary if q_scores is None else q_scores)
    new = ns["mean_field_step"](unary.copy(), kernel, q, w)
    return {"Q": np.asarray(new, dtype=np.float64)}


def unary_gradient(ns, scores, dq):
    """Your dU for Q = softmax(-U) with U = -scores (softmax over axis 0)."""
    e = np.exp(scores - scores.max(axis=0, keepdims=True))
    q = e / e.sum(axis=0, keepdims=True)
    return {"dU": np.asarray(ns["unary_gradient"](q, dq.copy()), dtype=np.float64)}


def number(ns, name):
    """A numeric answer (a number or a tuple of numbers) as an array."""
    value = np.asarray(ns[name])
    if value.dtype.kind not in "biuf":
        raise TypeError(f"{name} should be a number or a tuple of numbers, not {value!r}")
    return {name: value}
