"""Probes of unit 03's exercises: how the tests read your answers.

Each probe takes the notebook's namespace as ``ns`` (``ns["conv1d_matrix"]`` is what your
notebook defines under that name) plus plain arrays and parameters, and returns named
arrays. The autograder runs your notebook in a separate, sandboxed process and calls the
probes there; ``check("03.1", conv1d_matrix)`` in the notebook runs them on the answer you
pass.
"""

import numpy as np


def _dense(value):
    """An array of floats (a scipy.sparse matrix is made dense)."""
    if hasattr(value, "toarray"):
        value = value.toarray()
    return np.asarray(value, dtype=np.float64)


def conv1d_matrix(ns, w, n, padding=0, stride=1):
    return {"C": _dense(ns["conv1d_matrix"](w, n, padding=padding, stride=stride))}


def im2col_loop(ns, x, k, stride=1, padding=0, dilation=1):
    return {"cols": _dense(ns["im2col_loop"](x, k, stride=stride, padding=padding,
                                             dilation=dilation))}


def number(ns, name):
    """A numeric answer (a number or a tuple of numbers) as an array."""
    value = np.asarray(ns[name])
    if value.dtype.kind not in "biuf":
        raise TypeError(f"{name} should be a number or a tuple of numbers, not {value!r}")
    return {name: value}


def choice(ns, name, options):
    """A multiple-choice answer ('a', 'b', ...) as its position in ``options``."""
    text = str(ns[name]).strip().strip("()").lower()
    if text not in options:
        raise ValueError(f"{name} should be one of {', '.join(repr(o) for o in options)}, "
                         f"not {ns[name]!r}")
    return {name: np.array(options.index(text))}
