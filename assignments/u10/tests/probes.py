"""Probes of unit 10's exercises: how the tests read your answers.

Each probe takes the notebook's namespace as ``ns`` (``ns["match_one_class"]`` is what your
notebook defines under that name) plus plain arrays and parameters, and returns named
arrays. ``check("10.2", match_one_class)`` in the notebook runs them on the answer you pass.
"""

import numpy as np


def match_one_class(ns, pred_ids, target_ids, void, crowd):
    """Your (tp, fp, fn, iou_sum) as four float arrays (so 3 and 3.0 both count)."""
    result = ns["match_one_class"](pred_ids.copy(), target_ids.copy(), void.astype(bool),
                                   crowd.astype(bool))
    if not isinstance(result, (tuple, list)) or len(result) != 4:
        raise TypeError(f"match_one_class should return (tp, fp, fn, iou_sum), not {result!r}")
    return {name: np.asarray(value, dtype=np.float64)
            for name, value in zip(("tp", "fp", "fn", "iou_sum"), result)}


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
