"""Layers: parameters + a call to ``minisegnet.functional``, forward and backward.

Each layer's ``forward`` calls ``F.<op>_forward`` and keeps the returned cache in
``self._cache``; ``backward`` hands that cache to ``F.<op>_backward`` and adds the
parameter gradients to ``.grad``. No layer computes anything itself: the functional ops
are the one source of truth, tested on their own.

Constructors take PyTorch's argument names and order. Layers with parameters compute in
the dtype of their parameters (float32 unless converted with ``.to(dtype=...)``); an input
of another dtype is a ``TypeError``. Parameter-free layers follow their input's dtype.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .._checks import pair
from .init import bilinear_kernel, kaiming_normal
from .module import Module, Parameter

__all__ = [
    "Conv2d",
    "ConvTranspose2d",
    "BatchNorm2d",
    "ReLU",
    "MaxPool2d",
    "MaxUnpool2d",
    "UnpoolNearest",
    "UnpoolBedOfNails",
    "Upsample",
    "Resize",
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
]


def _positive_int(fn, name, value):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{fn}: {name} must be a positive int, got {value!r}")
    return int(value)


def _backward_into_params(layer, backward_op, dy):
    """Run ``backward_op`` on the layer's cache; add dw, db to its parameters' ``.grad``."""
    dx, dw, db = backward_op(dy, layer._saved())
    layer.weight.accumulate_grad(dw)
    if layer.bias is not None:
        layer.bias.accumulate_grad(db)
    return dx


# ---------------------------------------------------------------- convolutions


class Conv2d(Module):
    """2-D convolution: ``y = conv2d(x, weight) + bias`` (``F.conv2d_forward``).

    weight: (C_out, C_in, kH, kW), Kaiming-normal with ``fan_in = C_in·kH·kW`` and the ReLU
    gain; bias: (C_out,) zeros, or absent with ``bias=False``.
    x: (N, C_in, H, W) → y: (N, C_out, H_out, W_out),
    ``H_out = floor((H + 2p - d(kH-1) - 1) / s) + 1``.
    ``rng``: an int seed or a ``numpy.random.Generator`` (default: ``nn.init``'s generator).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 *, bias=True, rng=None):
        super().__init__()
        fn = "Conv2d"
        self.in_channels = _positive_int(fn, "in_channels", in_channels)
        self.out_channels = _positive_int(fn, "out_channels", out_channels)
        self.kernel_size = pair(fn, "kernel_size", kernel_size, minimum=1)
        self.stride = pair(fn, "stride", stride, minimum=1)
        self.padding = pair(fn, "padding", padding, minimum=0)
        self.dilation = pair(fn, "dilation", dilation, minimum=1)
        kh, kw = self.kernel_size
        shape = (self.out_channels, self.in_channels, kh, kw)
        self.weight = Parameter(kaiming_normal(shape, fan_in=self.in_channels * kh * kw, rng=rng))
        self.bias = Parameter(np.zeros(self.out_channels, np.float32)) if bias else None

    def forward(self, x):
        self._check_input(x, self.in_channels)
        b = None if self.bias is None else self.bias.data
        y, self._cache = F.conv2d_forward(x, self.weight.data, b, self.stride, self.padding,
                                          self.dilation)
        return y

    def backward(self, dy):
        return _backward_into_params(self, F.conv2d_backward, dy)

    def extra_repr(self):
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.bias is None:
            text += ", bias=False"
        return text


class ConvTranspose2d(Module):
    """2-D transposed convolution: ``y = conv_transpose2d(x, weight) + bias``.

    weight: (C_in, C_out, kH, kW) (PyTorch's layout); bias: (C_out,) zeros or absent.
    x: (N, C_in, H, W) → y: (N, C_out, H_out, W_out),
    ``H_out = (H-1)s - 2p + d(kH-1) + output_padding + 1``.

    ``init="kaiming"`` (default): Kaiming normal with ``fan_in = C_in·kH·kW / (s_h·s_w)``,
    the number of input values that reach one output pixel on average (each input pixel
    paints a ``kH×kW`` patch, and patches are ``s`` apart).
    ``init="bilinear"``: FCN's fixed-bilinear start, ``weight = bilinear_kernel(C, k)``
    (needs ``C_in == C_out``); with ``kernel_size=2s``, ``stride=s``, ``padding=s/2`` the
    layer then upsamples by ``s`` exactly like bilinear interpolation, away from the border.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, *, bias=True, dilation=1, init="kaiming", rng=None):
        super().__init__()
        fn = "ConvTranspose2d"
        self.in_channels = _positive_int(fn, "in_channels", in_channels)
        self.out_channels = _positive_int(fn, "out_channels", out_channels)
        self.kernel_size = pair(fn, "kernel_size", kernel_size, minimum=1)
        self.stride = pair(fn, "stride", stride, minimum=1)
        self.padding = pair(fn, "padding", padding, minimum=0)
        self.output_padding = pair(fn, "output_padding", output_padding, minimum=0)
        self.dilation = pair(fn, "dilation", dilation, minimum=1)
        self.weight = Parameter(self._initial_weight(init, rng))
        self.bias = Parameter(np.zeros(self.out_channels, np.float32)) if bias else None

    def _initial_weight(self, init, rng):
        kh, kw = self.kernel_size
        if init == "bilinear":
            if self.in_channels != self.out_channels:
                raise ValueError("ConvTranspose2d: init='bilinear' needs in_channels == "
                                 f"out_channels, got {self.in_channels} and {self.out_channels}")
            return bilinear_kernel(self.in_channels, self.kernel_size)
        if init == "kaiming":
            fan_in = max(1.0, self.in_channels * kh * kw / (self.stride[0] * self.stride[1]))
            return kaiming_normal((self.in_channels, self.out_channels, kh, kw), fan_in, rng=rng)
        raise ValueError(f"ConvTranspose2d: init must be 'kaiming' or 'bilinear', got {init!r}")

    def forward(self, x):
        self._check_input(x, self.in_channels)
        b = None if self.bias is None else self.bias.data
        y, self._cache = F.conv_transpose2d_forward(x, self.weight.data, b, self.stride,
                                                    self.padding, self.output_padding,
                                                    self.dilation)
        return y

    def backward(self, dy):
        return _backward_into_params(self, F.conv_transpose2d_backward, dy)

    def extra_repr(self):
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        for name, default in (("padding", (0, 0)), ("output_padding", (0, 0)),
                              ("dilation", (1, 1))):
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name)}"
        if self.bias is None:
            text += ", bias=False"
        return text


# ---------------------------------------------------------------- normalisation


class BatchNorm2d(Module):
    """Batch normalisation over (N, H, W) per channel, as ``torch.nn.BatchNorm2d``.

    ``y = weight · (x - μ) / sqrt(σ² + eps) + bias`` with, in training mode, the batch mean
    and biased batch variance (and the running statistics updated as
    ``(1 - momentum)·old + momentum·batch``, the variance unbiased), in eval mode the running
    statistics. ``momentum=None`` gives the cumulative average over all batches seen so far
    (PyTorch's meaning), counted by the ``num_batches_tracked`` buffer.

    Parameters ``weight`` (ones) and ``bias`` (zeros); buffers ``running_mean`` (zeros),
    ``running_var`` (ones), ``num_batches_tracked`` (int64, 0). x, y: (N, C, H, W).

    In training mode each channel needs more than one value (``N·H·W > 1``): a 1×1 map with a
    batch of one is a ``ValueError``, as in PyTorch (PSPNet's 1×1 pyramid bin hits this).
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        self.num_features = _positive_int("BatchNorm2d", "num_features", num_features)
        if not eps > 0:
            raise ValueError(f"BatchNorm2d: eps must be positive, got {eps!r}")
        if momentum is not None and not 0 <= momentum <= 1:
            raise ValueError(f"BatchNorm2d: momentum must be in [0, 1] or None, got {momentum!r}")
        self.eps, self.momentum = float(eps), momentum
        c = self.num_features
        self.weight = Parameter(np.ones(c, np.float32))
        self.bias = Parameter(np.zeros(c, np.float32))
        self.register_buffer("running_mean", np.zeros(c, np.float32))
        self.register_buffer("running_var", np.ones(c, np.float32))
        self.register_buffer("num_batches_tracked", np.zeros((), np.int64))

    def forward(self, x):
        self._check_input(x, self.num_features)
        momentum = self.momentum
        if momentum is None:   # cumulative moving average: batch k gets weight 1/k
            momentum = 1.0 / (int(self.num_batches_tracked) + 1)
        # F updates running_mean and running_var in place (training mode only).
        y, self._cache = F.batch_norm2d_forward(
            x, self.weight.data, self.bias.data, self.running_mean, self.running_var,
            training=self.training, momentum=momentum, eps=self.eps)
        if self.training:
            self.num_batches_tracked[...] += 1   # in place: the buffer stays the same array
        return y

    def backward(self, dy):
        dx, dgamma, dbeta = F.batch_norm2d_backward(dy, self._saved())
        self.weight.accumulate_grad(dgamma)
        self.bias.accumulate_grad(dbeta)
        return dx

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


# ---------------------------------------------------------------- activation


class ReLU(Module):
    """``y = max(x, 0)``; ``dx = dy · [x > 0]`` (``F.relu_forward``). Any shape."""

    def forward(self, x):
        y, self._cache = F.relu_forward(x)
        return y

    def backward(self, dy):
        return F.relu_backward(dy, self._saved())


# ---------------------------------------------------------------- pooling and unpooling


class MaxPool2d(Module):
    """Max pooling that remembers where each maximum was (for ``MaxUnpool2d``).

    x: (N, C, H, W) → y: (N, C, H_out, W_out), ``H_out = floor((H + 2p - k) / s) + 1``;
    ``stride`` defaults to ``kernel_size``. After a forward, ``self.indices`` (int64, shaped
    like y, positions in each flattened H·W plane as PyTorch's) and ``self.input_size``
    (``(H, W)``) describe the last input: SegNet and DeconvNet unpool with them.
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        fn = "MaxPool2d"
        self.kernel_size = pair(fn, "kernel_size", kernel_size, minimum=1)
        self.stride = self.kernel_size if stride is None else pair(fn, "stride", stride, minimum=1)
        self.padding = pair(fn, "padding", padding, minimum=0)
        self.indices = None
        self.input_size = None

    def forward(self, x):
        y, self.indices, self._cache = F.max_pool2d_forward(
            x, self.kernel_size, self.stride, self.padding, return_indices=True)
        self.input_size = tuple(x.shape[2:])
        return y

    def backward(self, dy):
        return F.max_pool2d_backward(dy, self._saved())

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool2d(Module):
    """Max unpooling paired with a ``MaxPool2d``: each value goes back to where its pool's
    maximum came from, zeros elsewhere (SegNet, DeconvNet).

    x: (N, C, h, w), shaped like the pool's last output → y: (N, C, H, W), the pool's last
    input size. The pool is referenced, not owned: it is not a child module (it lives in
    the encoder), so it is not listed twice in ``modules()`` or printed twice.
    """

    def __init__(self, pool):
        super().__init__()
        if not isinstance(pool, MaxPool2d):
            raise TypeError(f"MaxUnpool2d: pool must be the MaxPool2d to pair with, "
                            f"got {type(pool).__name__}")
        object.__setattr__(self, "pool", pool)   # bypass registration: a reference only

    def forward(self, x):
        pool = self.pool
        if pool.indices is None:
            raise RuntimeError("MaxUnpool2d.forward: the paired MaxPool2d has not run forward "
                               "yet, so there are no indices to unpool with")
        y, self._cache = F.max_unpool2d_forward(x, pool.indices, pool.kernel_size, pool.stride,
                                                pool.padding, output_size=pool.input_size)
        return y

    def backward(self, dy):
        return F.max_unpool2d_backward(dy, self._saved())

    def extra_repr(self):
        return f"pool=MaxPool2d({self.pool.extra_repr()})"


class _OneSizeOp(Module):
    """A parameter-free layer around one ``F`` forward/backward pair with one size argument.

    Subclasses name the pair (``forward_op``, ``backward_op``) and the argument
    (``size_name``: ``scale_factor`` or ``output_size``, an int or a pair).
    """

    forward_op = backward_op = None
    size_name = ""

    def __init__(self, size):
        super().__init__()
        setattr(self, self.size_name, pair(type(self).__name__, self.size_name, size, minimum=1))

    def forward(self, x):
        y, self._cache = type(self).forward_op(x, getattr(self, self.size_name))
        return y

    def backward(self, dy):
        return type(self).backward_op(dy, self._saved())

    def extra_repr(self):
        return f"{self.size_name}={getattr(self, self.size_name)}"


class UnpoolNearest(_OneSizeOp):
    """Nearest-neighbour unpooling: each value copied into an ``s×s`` block (the lecture's).

    ``y[n, c, h, w] = x[n, c, h // s_h, w // s_w]``; backward sums each block.
    x: (N, C, H, W) → y: (N, C, H·s_h, W·s_w). ``scale_factor``: a positive int or pair.
    """

    forward_op = staticmethod(F.unpool_nearest_forward)
    backward_op = staticmethod(F.unpool_nearest_backward)
    size_name = "scale_factor"

    def __init__(self, scale_factor):
        super().__init__(scale_factor)


class UnpoolBedOfNails(_OneSizeOp):
    """"Bed of nails" unpooling: each value at the top-left of its ``s×s`` block, zeros
    elsewhere; backward takes every ``s``-th gradient.
    x: (N, C, H, W) → y: (N, C, H·s_h, W·s_w).
    """

    forward_op = staticmethod(F.unpool_bed_of_nails_forward)
    backward_op = staticmethod(F.unpool_bed_of_nails_backward)
    size_name = "scale_factor"

    def __init__(self, scale_factor):
        super().__init__(scale_factor)


class AdaptiveAvgPool2d(_OneSizeOp):
    """Average over ``output_size`` bins: bin i covers ``[floor(iH/h), ceil((i+1)H/h))``.

    x: (N, C, H, W) → y: (N, C, h, w). PSPNet's pyramid levels (1, 2, 3, 6 bins).
    """

    forward_op = staticmethod(F.adaptive_avg_pool2d_forward)
    backward_op = staticmethod(F.adaptive_avg_pool2d_backward)
    size_name = "output_size"

    def __init__(self, output_size):
        super().__init__(output_size)


class AdaptiveMaxPool2d(_OneSizeOp):
    """Maximum over ``output_size`` bins (the same bins as ``AdaptiveAvgPool2d``).

    x: (N, C, H, W) → y: (N, C, h, w). The gradient goes to each bin's maximum.
    """

    forward_op = staticmethod(F.adaptive_max_pool2d_forward)
    backward_op = staticmethod(F.adaptive_max_pool2d_backward)
    size_name = "output_size"

    def __init__(self, output_size):
        super().__init__(output_size)


# ---------------------------------------------------------------- resizing


class Upsample(Module):
    """Bilinear resizing, as ``torch.nn.Upsample(mode="bilinear")``.

    Give exactly one of ``size`` (``(H_out, W_out)`` or an int) and ``scale_factor``
    (output ``floor(H·s)``; source coordinates use ``1/s``). ``align_corners=False`` maps
    pixel centres (``src = (dst + 0.5)/s - 0.5``); ``True`` maps the corner pixels onto each
    other. x: (N, C, H, W) → y: (N, C, H_out, W_out).
    """

    def __init__(self, size=None, scale_factor=None, *, align_corners=False):
        super().__init__()
        if (size is None) == (scale_factor is None):
            raise ValueError("Upsample: give exactly one of size and scale_factor, got "
                             f"size={size!r}, scale_factor={scale_factor!r}")
        self.size = None if size is None else pair("Upsample", "size", size, minimum=1)
        factors = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor,)
        if scale_factor is not None and not (
                len(factors) in (1, 2) and all(isinstance(f, (int, float)) and not isinstance(f, bool)
                                               and f > 0 for f in factors)):
            raise ValueError(f"Upsample: scale_factor must be a positive number or a pair of "
                             f"them, got {scale_factor!r}")
        self.scale_factor = scale_factor
        self.align_corners = bool(align_corners)

    def forward(self, x):
        y, self._cache = F.bilinear_upsample_forward(x, size=self.size,
                                                     scale_factor=self.scale_factor,
                                                     align_corners=self.align_corners)
        return y

    def backward(self, dy):
        return F.bilinear_upsample_backward(dy, self._saved())

    def extra_repr(self):
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{what}, mode='bilinear', align_corners={self.align_corners}"


class Resize(Module):
    """Bilinear resize to a size given at call time: ``y = resize.forward(x, size)``.

    ``Upsample`` with the output size chosen per call (x: (N, C, H, W), size ``(H_out, W_out)``
    → y: (N, C, H_out, W_out)); backward is ``bilinear_upsample_backward``. The models use it
    for the final upsampling of the scores to the input's ``(H, W)`` and, in FCN-8s, where
    Caffe's FCN used a ``Crop`` layer: to bring an upsampled map to exactly the size of the
    skip it is added to (an identity when the sizes already agree).
    """

    def __init__(self, align_corners=False):
        super().__init__()
        self.align_corners = bool(align_corners)

    def forward(self, x, size=None):
        if size is None:
            raise ValueError("Resize.forward: give the output size (H, W)")
        y, self._cache = F.bilinear_upsample_forward(x, size=tuple(int(s) for s in size),
                                                     align_corners=self.align_corners)
        return y

    def backward(self, dy):
        return F.bilinear_upsample_backward(dy, self._saved())
