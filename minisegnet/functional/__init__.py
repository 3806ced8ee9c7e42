"""Stateless forward/backward pairs: ``from minisegnet import functional as F``.

Every op follows CS231n's contract: ``out, cache = F.<op>_forward(...)`` and
``grads = F.<op>_backward(dout, cache)``. One file per family of ops.
"""

from .activation import relu_backward, relu_forward, softmax
from .conv import (
    conv2d_backward,
    conv2d_forward,
    conv_transpose2d_backward,
    conv_transpose2d_forward,
)
from .conv_matrix import col2im, conv2d_matrix, im2col
from .deform import deform_conv2d_backward, deform_conv2d_forward
from .interpolate import (
    bilinear_upsample_backward,
    bilinear_upsample_forward,
    interpolation_matrix,
    separable_matmul,
)
from .loss import softmax_cross_entropy_backward, softmax_cross_entropy_forward
from .normalization import batch_norm2d_backward, batch_norm2d_forward
from .pooling import (
    adaptive_avg_pool2d_backward,
    adaptive_avg_pool2d_forward,
    adaptive_max_pool2d_backward,
    adaptive_max_pool2d_forward,
    adaptive_pool_matrix,
    max_pool2d_backward,
    max_pool2d_forward,
    max_unpool2d_backward,
    max_unpool2d_forward,
)
from .sampling import (
    bilinear_sample_backward,
    bilinear_sample_forward,
    roi_align,
    roi_align_backward,
    roi_align_forward,
)
from .shapes import conv_output_size, conv_transpose_output_size, receptive_field
from .unpooling import (
    unpool_bed_of_nails_backward,
    unpool_bed_of_nails_forward,
    unpool_nearest_backward,
    unpool_nearest_forward,
)

__all__ = [
    "adaptive_avg_pool2d_backward",
    "adaptive_avg_pool2d_forward",
    "adaptive_max_pool2d_backward",
    "adaptive_max_pool2d_forward",
    "adaptive_pool_matrix",
    "batch_norm2d_backward",
    "batch_norm2d_forward",
    "bilinear_sample_backward",
    "bilinear_sample_forward",
    "bilinear_upsample_backward",
    "bilinear_upsample_forward",
    "col2im",
    "conv2d_backward",
    "conv2d_forward",
    "conv2d_matrix",
    "conv_output_size",
    "conv_transpose2d_backward",
    "conv_transpose2d_forward",
    "conv_transpose_output_size",
    "deform_conv2d_backward",
    "deform_conv2d_forward",
    "im2col",
    "interpolation_matrix",
    "max_pool2d_backward",
    "max_pool2d_forward",
    "max_unpool2d_backward",
    "max_unpool2d_forward",
    "receptive_field",
    "relu_backward",
    "relu_forward",
    "softmax",
    "roi_align",
    "roi_align_backward",
    "roi_align_forward",
    "separable_matmul",
    "softmax_cross_entropy_backward",
    "softmax_cross_entropy_forward",
    "unpool_bed_of_nails_backward",
    "unpool_bed_of_nails_forward",
    "unpool_nearest_backward",
    "unpool_nearest_forward",
]
