"""Stateless forward/backward pairs: ``from minisegnet import functional as F``.

Every op follows CS231n's contract: ``out, cache = F.<op>_forward(...)`` and
``grads = F.<op>_backward(dout, cache)``. One file per family of ops.
"""

from .conv import (
    conv2d_backward,
    conv2d_forward,
    conv_transpose2d_backward,
    conv_transpose2d_forward,
)
from .conv_matrix import col2im, conv2d_matrix, im2col
from .shapes import conv_output_size, conv_transpose_output_size, receptive_field

__all__ = [
    "col2im",
    "conv2d_backward",
    "conv2d_forward",
    "conv2d_matrix",
    "conv_output_size",
    "conv_transpose2d_backward",
    "conv_transpose2d_forward",
    "conv_transpose_output_size",
    "im2col",
    "receptive_field",
]
