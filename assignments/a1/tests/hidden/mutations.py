"""A1's mutation table: classic mistakes applied to the reference solution, and what catches them.

Each entry changes one line (``old`` -> ``new``, unique in its file) of the solution regions.
``tests/course/test_mutations.py`` grades every mutant with ``minisegnet grade --hidden`` and
checks that the public and hidden tests catch it exactly as ``public`` / ``hidden`` say (a
mutant no test catches must not be in the table). ``MUTATIONS.md`` beside this file is the
table rendered (``python tests/course/test_mutations.py --write`` refreshes it).
"""

CONV_MATRIX = "minisegnet/functional/conv_matrix.py"
CONV = "minisegnet/functional/conv.py"

MUTATIONS = [
    {"mistake": "im2col ignores the dilation along the rows",
     "file": CONV_MATRIX,
     "old": "        rows = window(i * dh, ho, sh)\n        for j in range(kw):\n            cols[:, i, j]",
     "new": "        rows = window(i, ho, sh)\n        for j in range(kw):\n            cols[:, i, j]",
     "public": True, "hidden": True},
    {"mistake": "col2im writes (=) where overlapping windows must add (+=)",
     "file": CONV_MATRIX,
     "old": "padded[:, :, rows, window(j * dw, wo, sw)] += cols[:, i, j]",
     "new": "padded[:, :, rows, window(j * dw, wo, sw)] = cols[:, i, j]",
     "public": True, "hidden": True},
    {"mistake": "col2im ignores the stride (windows placed one pixel apart)",
     "file": CONV_MATRIX,
     "old": "padded[:, :, rows, window(j * dw, wo, sw)] += cols[:, i, j]",
     "new": "padded[:, :, window(i * dh, ho, 1), window(j * dw, wo, 1)] += cols[:, i, j]",
     "public": True, "hidden": True},
    {"mistake": "the matrix of the convolution flips the kernel (a true convolution)",
     "file": CONV_MATRIX,
     "old": "rows_in = p * stride[0] - padding[0] + i * dilation[0]",
     "new": "rows_in = p * stride[0] - padding[0] + (kh - 1 - i) * dilation[0]",
     "public": True, "hidden": True},
    {"mistake": "the matrix of the convolution forgets the padding on the columns",
     "file": CONV_MATRIX,
     "old": "cols_in = q * stride[1] - padding[1] + j * dilation[1]",
     "new": "cols_in = q * stride[1] + j * dilation[1]",
     "public": True, "hidden": True},
    {"mistake": "the bias gradient averages over the batch instead of summing",
     "file": CONV,
     "old": "    db = dy.sum(axis=(0, 2, 3)) if cache.has_bias else None\n    return dx, dw, db",
     "new": "    db = dy.sum(axis=(0, 2, 3)) / dy.shape[0] if cache.has_bias else None\n"
            "    return dx, dw, db",
     "public": True, "hidden": True},
    {"mistake": "the weight gradient divided by the batch size (a mean, not a sum)",
     "file": CONV,
     "old": "dw = (dy_gemm @ cache.saved.T).reshape(cache.w.shape)",
     "new": "dw = (dy_gemm @ cache.saved.T).reshape(cache.w.shape) / dy.shape[0]",
     "public": True, "hidden": True},
    {"mistake": "the input gradient of the convolution scatters with stride 1",
     "file": CONV,
     "old": "    dx = _scatter(dy_gemm, cache.w, dy.shape[0], dy.shape[2:], cache.x_shape[2:],\n"
            "                  cache.stride, cache.padding, cache.dilation)",
     "new": "    dx = _scatter(dy_gemm, cache.w, dy.shape[0], dy.shape[2:], cache.x_shape[2:],\n"
            "                  (1, 1), cache.padding, cache.dilation)",
     "public": True, "hidden": True},
]
