"""Probes of unit 12's exercises: how the tests read your answers.

Each probe takes the notebook's namespace as ``ns`` (``ns["deform_conv2d_loop"]`` is what
your notebook defines under that name) plus plain arrays and parameters, and returns named
arrays. The autograder runs your notebook in a separate, sandboxed process and calls the
probes there; ``check("12.1", bilinear_sample_loop)`` in the notebook runs them on the
answer you pass.
"""

import numpy as np


def _floats(value):
    return np.asarray(value, dtype=np.float64)


def bilinear_sample_loop(ns, image, points):
    """The sampler at every (Y, X) row of ``points``, one call per point."""
    sample = ns["bilinear_sample_loop"]
    return {"v": np.array([float(sample(image, float(y), float(x))) for y, x in points])}


def deform_conv2d_loop(ns, x, offset, w, b=None, mask=None, stride=1, padding=0, dilation=1):
    return {"y": _floats(ns["deform_conv2d_loop"](x, offset, w, b=b, mask=mask, stride=stride,
                                                  padding=padding, dilation=dilation))}


def dmask_zero_offsets(ns, x, w, dy):
    return {"dmask": _floats(ns["dmask_zero_offsets"](x, w, dy))}


def tap_offsets(ns, name):
    """Per-tap offsets: a (9, 2) array of (dy, dx) rows, tap k = 3i + j (an (18,) vector in
    the channel layout of ``offset`` is read the same way)."""
    value = np.asarray(ns[name])
    if value.dtype.kind not in "biuf":
        raise TypeError(f"{name} should be an array of numbers, not {ns[name]!r}")
    if value.size == 18:
        value = value.reshape(9, 2)
    return {name: value}


def number(ns, name):
    """A numeric answer (a number, a tuple or an array of numbers) as an array."""
    value = np.asarray(ns[name])
    if value.dtype.kind not in "biuf":
        raise TypeError(f"{name} should be a number or an array of numbers, not {ns[name]!r}")
    return {name: value}


def choice(ns, name, options):
    """A multiple-choice answer ('a', 'b', ...) as its position in ``options``."""
    text = str(ns[name]).strip().strip("()").lower()
    if text not in options:
        raise ValueError(f"{name} should be one of {', '.join(repr(o) for o in options)}, "
                         f"not {ns[name]!r}")
    return {name: np.array(options.index(text))}
