"""Probes of unit 04's exercises: how the tests read your answers.

Each probe takes the notebook's namespace as ``ns`` (``ns["conv_transpose_scatter"]`` is
what your notebook defines under that name) plus plain arrays and parameters, and returns
named arrays. The autograder runs your notebook in a separate, sandboxed process and calls
the probes there; ``check("04.1", conv_transpose_scatter)`` in the notebook runs them on the
answer you pass.
"""

import numpy as np


def conv_transpose_scatter(ns, x, w, stride=1, padding=0, output_padding=0):
    y = ns["conv_transpose_scatter"](x, w, stride=stride, padding=padding,
                                     output_padding=output_padding)
    return {"y": np.asarray(y, dtype=np.float64)}


def number(ns, name):
    """A numeric answer (a number or a tuple of numbers) as an array."""
    value = np.asarray(ns[name])
    if value.dtype.kind not in "biuf":
        raise TypeError(f"{name} should be a number or a tuple of numbers, not {value!r}")
    return {name: value}


def rounded(ns, name, decimals=3):
    """A numeric answer rounded to ``decimals`` places (0.7336 and 1 - 256/961 agree)."""
    value = np.asarray(ns[name])
    if value.dtype.kind not in "biuf":
        raise TypeError(f"{name} should be a number, not {value!r}")
    return {name: np.round(value.astype(np.float64), decimals)}


def number_set(ns, name):
    """A set of integers given as a tuple, list or set: sorted, duplicates dropped."""
    value = ns[name]
    if isinstance(value, (set, frozenset)):
        value = sorted(value)
    value = np.asarray(value)
    if value.dtype.kind not in "biuf" or value.ndim > 1:
        raise TypeError(f"{name} should be a tuple of integers, not {ns[name]!r}")
    return {name: np.unique(value.astype(np.int64))}

