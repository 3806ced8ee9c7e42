"""Probes of unit 02's exercises: how the tests read your answers.

Each probe takes the notebook's namespace as ``ns`` (``ns["cross_entropy_loop"]`` is what
your notebook defines under that name) plus plain arrays and parameters, and returns named
arrays. The autograder runs your notebook in a separate, sandboxed process and calls the
probes there; ``check("02.4", cross_entropy_loop)`` in the notebook runs them on the answer
you pass.
"""

import numpy as np


def cross_entropy_loop(ns, logits, target, ignore_index=255):
    loss = ns["cross_entropy_loop"](logits, target, ignore_index=ignore_index)
    return {"loss": np.asarray(loss, dtype=np.float64).reshape(())}


def number(ns, name):
    """A numeric answer (a number or a tuple of numbers) as an array."""
    value = np.asarray(ns[name])
    if value.dtype.kind not in "biuf":
        raise TypeError(f"{name} should be a number or a tuple of numbers, not {value!r}")
    return {name: value}
