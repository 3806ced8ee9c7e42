"""A3's mutation table: classic mistakes applied to the reference solution, and what catches them.

Each entry changes one line (``old`` -> ``new``, unique in its file) of the solution regions.
``tests/course/test_mutations.py`` grades every mutant with ``minisegnet grade --hidden`` and
checks that the public and hidden tests catch it exactly as ``public`` / ``hidden`` say (a
mutant no test catches must not be in the table). ``MUTATIONS.md`` beside this file is the
table rendered (``python tests/course/test_mutations.py --write`` refreshes it).
"""

POOLING = "minisegnet/functional/pooling.py"
PPM = "minisegnet/nn/ppm.py"
CONFUSION = "minisegnet/metrics/confusion.py"

MUTATIONS = [
    {"mistake": "adaptive bins end at floor((i+1)H/n) instead of its ceiling",
     "file": POOLING,
     "old": "return [((i * size) // bins, -((-(i + 1) * size) // bins)) for i in range(bins)]",
     "new": "return [((i * size) // bins, ((i + 1) * size) // bins) for i in range(bins)]",
     "public": True, "hidden": True},
    {"mistake": "adaptive pooling sums its bin instead of averaging",
     "file": POOLING,
     "old": "matrix[i, start:end] = 1.0 / (end - start)",
     "new": "matrix[i, start:end] = 1.0",
     "public": True, "hidden": True},
    {"mistake": "every pyramid level pools to one bin (the bins argument ignored)",
     "file": PPM,
     "old": "ResizeToInput(Sequential(pools[pooling](b),",
     "new": "ResizeToInput(Sequential(pools[pooling](1),",
     "public": True, "hidden": True},
    {"mistake": "ignored pixels (ignore_index) are counted",
     "file": CONFUSION,
     "old": "counted = target != ignore_index",
     "new": "counted = target == target",
     "public": True, "hidden": True},
    {"mistake": "the confusion matrix transposed (pred * K + target)",
     "file": CONFUSION,
     "old": "return bincount(xp, target * k + pred, k * k).reshape(k, k)",
     "new": "return bincount(xp, pred * k + target, k * k).reshape(k, k)",
     "public": True, "hidden": True},
    {"mistake": "uint8 labels not widened before target * K + pred (the codes wrap)",
     "file": CONFUSION,
     "old": "target, pred = target.astype(xp.int64), pred.astype(xp.int64)",
     "new": "target, pred = target, pred",
     "public": True, "hidden": True},
    {"mistake": "class accuracy divides by the predicted count (precision, not recall)",
     "file": CONFUSION,
     "old": "return _ratio(xp, xp.diagonal(cm), cm.sum(axis=1))",
     "new": "return _ratio(xp, xp.diagonal(cm), cm.sum(axis=0))",
     "public": True, "hidden": True},
    {"mistake": "the union of IoU counts the intersection twice",
     "file": CONFUSION,
     "old": "return _ratio(xp, diag, cm.sum(axis=1) + cm.sum(axis=0) - diag)",
     "new": "return _ratio(xp, diag, cm.sum(axis=1) + cm.sum(axis=0))",
     "public": True, "hidden": True},
    {"mistake": "mean IoU averages absent classes as 0 instead of leaving them out",
     "file": CONFUSION,
     "old": "return nanmean(get_array_module(cm), iou(cm))",
     "new": "return float(get_array_module(cm).nan_to_num(iou(cm)).mean())",
     "public": True, "hidden": True},
]
