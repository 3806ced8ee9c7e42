"""Probes of A1: how the tests call your functions.

Each probe takes the ``minisegnet.functional`` module under test as ``F`` plus plain
arrays and parameters, calls your functions and returns their results by name. The
autograder runs probes in a separate, sandboxed process and compares what comes back
(arrays only) with the expected values; ``pytest assignments/a1`` runs them in-process.
"""

import numpy as np


def im2col(F, x, kernel_size, stride=1, padding=0, dilation=1):
    return {"cols": F.im2col(x, kernel_size, stride=stride, padding=padding, dilation=dilation)}


def col2im(F, cols, output_size, kernel_size, stride=1, padding=0, dilation=1):
    return {"x": F.col2im(cols, output_size, kernel_size, stride=stride, padding=padding,
                          dilation=dilation)}


def conv2d(F, x, w, b=None, dy=None, stride=1, padding=0, dilation=1):
    """Forward, then (with ``dy``) backward: ``y``, ``dx``, ``dw`` and ``db`` (absent when None)."""
    y, cache = F.conv2d_forward(x, w, b, stride=stride, padding=padding, dilation=dilation)
    out = {"y": y}
    if dy is not None:
        dx, dw, db = F.conv2d_backward(dy, cache)
        out.update(dx=dx, dw=dw, db=db)
    return out


def conv2d_matrix(F, w, input_size, stride=1, padding=0, dilation=1):
    """The matrix as a dense array, and whether it came back as a scipy.sparse matrix."""
    import scipy.sparse

    matrix = F.conv2d_matrix(w, input_size, stride=stride, padding=padding, dilation=dilation)
    sparse = bool(scipy.sparse.issparse(matrix))
    dense = matrix.toarray() if sparse else np.asarray(matrix)
    return {"matrix": dense, "is_sparse": np.array(sparse)}
