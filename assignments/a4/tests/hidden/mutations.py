"""A4's mutation table: classic mistakes applied to the reference solution, and what catches them.

Each entry changes one line (``old`` -> ``new``, unique in its file) of the solution regions.
``tests/course/test_mutations.py`` grades every mutant with ``minisegnet grade --hidden`` and
checks that the public and hidden tests catch it exactly as ``public`` / ``hidden`` say (a
mutant no test catches must not be in the table). ``MUTATIONS.md`` beside this file is the
table rendered (``python tests/course/test_mutations.py --write`` refreshes it).
"""

PANOPTIC = "minisegnet/metrics/panoptic.py"
EXACT = "minisegnet/crf/exact.py"
MEANFIELD = "minisegnet/crf/meanfield.py"

MUTATIONS = [
    {"mistake": "void pixels of a prediction left in the union",
     "file": PANOPTIC,
     "old": "iou = i / (p_area[p] + t_area[g] - i - overlap.get((VOID, p), 0))",
     "new": "iou = i / (p_area[p] + t_area[g] - i)",
     "public": True, "hidden": True},
    {"mistake": "segments match at IoU >= 0.5 instead of > 0.5",
     "file": PANOPTIC,
     "old": "if iou > 0.5:",
     "new": "if iou >= 0.5:",
     "public": True, "hidden": True},
    {"mistake": "an unmatched crowd region counted as a false negative",
     "file": PANOPTIC,
     "old": "if g not in matched_t and not t_crowd[g]:",
     "new": "if g not in matched_t:",
     "public": True, "hidden": True},
    {"mistake": "a prediction on a crowd region of its class counted as a false positive",
     "file": PANOPTIC,
     "old": "ignored = overlap.get((VOID, p), 0) + overlap.get((crowd_of.get(p_cat_of[p]), p), 0)",
     "new": "ignored = overlap.get((VOID, p), 0)",
     "public": True, "hidden": True},
    {"mistake": "PQ's denominator counts FP and FN fully (not half each)",
     "file": PANOPTIC,
     "old": "den = tp + 0.5 * stats[\"fp\"] + 0.5 * stats[\"fn\"]",
     "new": "den = tp + stats[\"fp\"] + stats[\"fn\"]",
     "public": True, "hidden": True},
    {"mistake": "the Gaussian kernel without the 1/2: exp(-d^2)",
     "file": EXACT,
     "old": "kernel = xp.exp(-0.5 * d2)",
     "new": "kernel = xp.exp(-d2)",
     "public": True, "hidden": True},
    {"mistake": "exclude_self ignored (a pixel sends itself a message)",
     "file": EXACT,
     "old": "kernel[local, local + rows.start] = 0",
     "new": "pass",
     "public": True, "hidden": True},
    {"mistake": "symmetric normalisation by 1/d instead of 1/sqrt(d)",
     "file": EXACT,
     "old": "self.scale = 1.0 / self.xp.sqrt(k1 + 1e-20)",
     "new": "self.scale = 1.0 / (k1 + 1e-20)",
     "public": True, "hidden": True},
    {"mistake": "the message subtracted instead of added",
     "file": MEANFIELD,
     "old": "history.append(softmax(-unary + _message(kernels, history[-1]), axis=1))",
     "new": "history.append(softmax(-unary - _message(kernels, history[-1]), axis=1))",
     "public": True, "hidden": True},
    {"mistake": "softmax backward without its subtracted mean (q * dq)",
     "file": MEANFIELD,
     "old": "return q * (dq - (q * dq).sum(axis=1, keepdims=True))",
     "new": "return q * dq",
     "public": True, "hidden": True},
    {"mistake": "the compatibility gradient uses this iteration's Q instead of the previous one",
     "file": MEANFIELD,
     "old": "dcompat[m] += float((f * history[t - 1]).sum())",
     "new": "dcompat[m] += float((f * history[t]).sum())",
     "public": True, "hidden": True},
]
