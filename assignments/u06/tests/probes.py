"""Probes of unit 06's exercises: how the tests read your answers.

Each probe takes the notebook's namespace as ``ns`` (``ns["dilated_conv_by_definition"]`` is
what your notebook defines under that name) plus plain arrays and parameters, and returns
named arrays. The autograder runs your notebook in a separate, sandboxed process and calls
the probes there; ``check("06.1", dilated_conv_by_definition)`` in the notebook runs them on
the answer you pass.
"""

import numpy as np


def dilated_conv_by_definition(ns, image, k, rate):
    return {"out": np.asarray(ns["dilated_conv_by_definition"](image, k, rate), dtype=np.float64)}


def number(ns, name):
    """A numeric answer (a number or a tuple of numbers) as an array."""
    value = np.asarray(ns[name])
    if value.dtype.kind not in "biuf":
        raise TypeError(f"{name} should be a number or a tuple of numbers, not {value!r}")
    return {name: value}


def rounded(ns, name, decimals=4):
    """A numeric answer rounded to ``decimals`` places (as integers: 0.0684 -> 684)."""
    value = number(ns, name)[name].astype(np.float64)
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{name} should hold finite numbers, not {ns[name]!r}")
    return {name: np.rint(value * 10 ** decimals).astype(np.int64)}


def choice(ns, name, options):
    """A multiple-choice answer ('a', 'b', ...) as its position in ``options``."""
    text = str(ns[name]).strip().strip("()").lower()
    if text not in options:
        raise ValueError(f"{name} should be one of {', '.join(repr(o) for o in options)}, "
                         f"not {ns[name]!r}")
    return {name: np.array(options.index(text))}
