"""Probes of unit 11's exercises: how the tests read your answers.

Each probe takes the notebook's namespace as ``ns`` (``ns["remap_loop"]`` is what your
notebook defines under that name) plus plain arrays and parameters, and returns named
arrays. The autograder runs your notebook in a separate, sandboxed process and calls the
probes there; ``check("11.1", remap_loop)`` in the notebook runs them on the answer you pass.
"""

import numpy as np


def remap_loop(ns, labels, sources, targets, ignore_index=None):
    """The remapped label map; the mapping travels as two arrays, ``{sources[i]: targets[i]}``.
    Integer results are compared as int64 (any integer dtype will do)."""
    mapping = {int(s): int(t) for s, t in zip(sources, targets)}
    if ignore_index is None:
        out = ns["remap_loop"](labels, mapping)
    else:
        out = ns["remap_loop"](labels, mapping, ignore_index=ignore_index)
    out = np.asarray(out)
    return {"out": out.astype(np.int64) if out.dtype.kind in "biu" else out}


def rounded(ns, name, decimals):
    """A number, rounded to ``decimals`` decimals (as an integer count of 10**-decimals)."""
    value = np.asarray(ns[name])
    if value.dtype.kind not in "biuf" or value.ndim != 0:
        raise TypeError(f"{name} should be a single number, not {ns[name]!r}")
    return {name: np.rint(float(value) * 10 ** decimals).astype(np.int64)}


def choice(ns, name, options):
    """A multiple-choice answer ('a', 'b', ...) as its position in ``options``."""
    text = str(ns[name]).strip().strip("()").lower()
    if text not in options:
        raise ValueError(f"{name} should be one of {', '.join(repr(o) for o in options)}, "
                         f"not {ns[name]!r}")
    return {name: np.array(options.index(text))}
