"""Probes of A2: how the tests call your functions.

Each probe takes the ``minisegnet.functional`` module under test as ``F`` plus plain
arrays and parameters, calls your functions and returns their results by name. The
autograder runs probes in a separate, sandboxed process and compares what comes back
(arrays only) with the expected values; ``pytest assignments/a2`` runs them in-process.
"""

import numpy as np


def conv_transpose2d(F, x, w, b=None, dy=None, stride=1, padding=0, output_padding=0, dilation=1):
    """Forward, then (with ``dy``) backward: ``y``, ``dx``, ``dw``, ``db`` (absent when None)."""
    y, cache = F.conv_transpose2d_forward(x, w, b, stride=stride, padding=padding,
                                          output_padding=output_padding, dilation=dilation)
    out = {"y": y}
    if dy is not None:
        dx, dw, db = F.conv_transpose2d_backward(dy, cache)
        out.update(dx=dx, dw=dw, db=db)
    return out


def max_pool2d(F, x, kernel_size, stride=None, padding=0, dy=None):
    """Max pooling with indices, then (with ``dy``) its backward pass."""
    y, indices, cache = F.max_pool2d_forward(x, kernel_size, stride=stride, padding=padding,
                                             return_indices=True)
    out = {"y": y, "indices": indices}
    if dy is not None:
        out["dx"] = F.max_pool2d_backward(dy, cache)
    return out


def max_pool2d_plain(F, x, kernel_size, stride=None, padding=0):
    """Without ``return_indices`` forward returns the pair ``(y, cache)``."""
    result = F.max_pool2d_forward(x, kernel_size, stride=stride, padding=padding)
    if not (isinstance(result, tuple) and len(result) == 2):
        raise TypeError("max_pool2d_forward(..., return_indices=False) must return (y, cache)")
    return {"y": result[0]}


def max_unpool2d(F, x, indices, kernel_size, stride=None, padding=0, output_size=None, dy=None):
    """Max unpooling, then (with ``dy``) its backward pass."""
    y, cache = F.max_unpool2d_forward(x, indices, kernel_size, stride=stride, padding=padding,
                                      output_size=output_size)
    out = {"y": y}
    if dy is not None:
        out["dx"] = F.max_unpool2d_backward(dy, cache)
    return out


def bilinear(F, x, size=None, scale_factor=None, align_corners=False, dy=None):
    """Bilinear resizing, then (with ``dy``) its backward pass."""
    y, cache = F.bilinear_upsample_forward(x, size=size, scale_factor=scale_factor,
                                           align_corners=align_corners)
    out = {"y": y}
    if dy is not None:
        out["dx"] = F.bilinear_upsample_backward(dy, cache)
    return out


def interpolation_matrix(F, in_size, out_size, align_corners=False, scale=None):
    matrix = F.interpolation_matrix(in_size, out_size, align_corners=align_corners, scale=scale)
    return {"matrix": np.asarray(matrix)}
