"""Probes of unit 08's exercises: how the tests read your answers.

Each probe takes the notebook's namespace as ``ns`` (``ns["crop_and_concat"]`` is what your
notebook defines under that name) plus plain arrays and parameters, and returns named
arrays. ``check("08.1", crop_and_concat)`` in the notebook runs them on the answer you pass.
"""

import numpy as np


def crop_and_concat(ns, skip, up):
    out = ns["crop_and_concat"](skip.copy(), up.copy())
    return {"out": np.asarray(out)}


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
