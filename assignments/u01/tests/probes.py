"""Probes of unit 01's exercises: how the tests read your answers.

Each probe takes the notebook's namespace as ``ns`` (``ns["confusion_loop"]`` is what your
notebook defines under that name) plus plain arrays and parameters, and returns named
arrays. The autograder runs your notebook in a separate, sandboxed process and calls the
probes there; ``check("01.2", confusion_loop)`` in the notebook runs them on the answer you
pass.
"""

import numpy as np


def confusion_loop(ns, pred, target, k, ignore_index=255):
    return {"cm": np.asarray(ns["confusion_loop"](pred, target, k, ignore_index=ignore_index),
                             dtype=np.int64)}


def class_iou(ns, cm):
    """The IoUs with the undefined ones (NaN) as a separate mask: a NaN in the wrong place
    fails on the mask, a wrong value on ``iou`` (where NaN reads as 0)."""
    value = np.asarray(ns["class_iou"](cm), dtype=np.float64)
    undefined = np.isnan(value)
    return {"iou": np.where(undefined, 0.0, value), "undefined": undefined}


def number(ns, name):
    """A numeric answer (a number or a tuple of numbers) as an array."""
    value = np.asarray(ns[name])
    if value.dtype.kind not in "biuf":
        raise TypeError(f"{name} should be a number or a tuple of numbers, not {value!r}")
    return {name: value}


def rounded(ns, name, decimals=4):
    """A numeric answer rounded to ``decimals`` places (10/16 and 0.625 agree)."""
    value = np.asarray(ns[name])
    if value.dtype.kind not in "biuf":
        raise TypeError(f"{name} should be a number, not {value!r}")
    return {name: np.round(value.astype(np.float64), decimals)}


def choice(ns, name, options):
    """A multiple-choice answer ('a', 'b', ...) as its position in ``options``."""
    text = str(ns[name]).strip().strip("()").lower()
    if text not in options:
        raise ValueError(f"{name} should be one of {', '.join(repr(o) for o in options)}, "
                         f"not {ns[name]!r}")
    return {name: np.array(options.index(text))}
