"""A2's mutation table: classic mistakes applied to the reference solution, and what catches them.

Each entry changes one line (``old`` -> ``new``, unique in its file) of the solution regions.
``tests/course/test_mutations.py`` grades every mutant with ``minisegnet grade --hidden`` and
checks that the public and hidden tests catch it exactly as ``public`` / ``hidden`` say (a
mutant no test catches must not be in the table). ``MUTATIONS.md`` beside this file is the
table rendered (``python tests/course/test_mutations.py --write`` refreshes it).
"""

CONV = "minisegnet/functional/conv.py"
POOLING = "minisegnet/functional/pooling.py"
INTERPOLATE = "minisegnet/functional/interpolate.py"

MUTATIONS = [
    {"mistake": "the transposed convolution forgets its bias",
     "file": CONV,
     "old": "    y = add_bias(y, b)\n    return y, ConvCache(\"conv_transpose2d\"",
     "new": "    return y, ConvCache(\"conv_transpose2d\"",
     "public": True, "hidden": True},
    {"mistake": "the transposed convolution's weight gradient is a mean over the batch",
     "file": CONV,
     "old": "dw = (cache.saved @ dy_cols.T).reshape(cache.w.shape)",
     "new": "dw = (cache.saved @ dy_cols.T).reshape(cache.w.shape) / n",
     "public": True, "hidden": True},
    {"mistake": "max pooling ties: the last maximum wins (>= instead of >)",
     "file": POOLING,
     "old": "better = inside & ((tap > best) | (winner < 0))",
     "new": "better = inside & ((tap >= best) | (winner < 0))",
     "public": True, "hidden": True},
    {"mistake": "pooling indices point into the padded plane, not the image",
     "file": POOLING,
     "old": "winner = xp.where(better, rows * w + cols, winner)",
     "new": "winner = xp.where(better, (rows + padding[0]) * (w + 2 * padding[1]) + cols + padding[1],"
            " winner)",
     "public": True, "hidden": True},
    {"mistake": "max pooling backward writes (=) where overlapping windows share a winner",
     "file": POOLING,
     "old": "    dx = xp.bincount((plane_start + indices).ravel(), weights=dy.ravel(), "
            "minlength=n * c * h * w)",
     "new": "    dx = xp.zeros(n * c * h * w, dtype=dy.dtype)\n"
            "    dx[(plane_start + indices).ravel()] = dy.ravel()",
     "public": True, "hidden": True},
    {"mistake": "unpooling backward gathers from the first image of the batch only",
     "file": POOLING,
     "old": "dx = dy.reshape(n, c, -1)[image, channel, cache.indices.reshape(n, c, -1)]",
     "new": "dx = dy.reshape(n, c, -1)[0 * image, channel, cache.indices.reshape(n, c, -1)]",
     "public": True, "hidden": True},
    {"mistake": "align_corners=True scales by in/out instead of (in-1)/(out-1)",
     "file": INTERPOLATE,
     "old": "ratio = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0",
     "new": "ratio = in_size / out_size",
     "public": True, "hidden": True},
    {"mistake": "half-pixel source coordinates not clamped at 0",
     "file": INTERPOLATE,
     "old": "return np.maximum((dst + 0.5) * ratio - 0.5, 0.0)",
     "new": "return np.clip((dst + 0.5) * ratio - 0.5, -0.5, None)",
     "public": True, "hidden": True},
    {"mistake": "the two bilinear weights swapped",
     "file": INTERPOLATE,
     "old": "weight_right = source - left",
     "new": "weight_right = 1.0 - (source - left)",
     "public": True, "hidden": True},
]
