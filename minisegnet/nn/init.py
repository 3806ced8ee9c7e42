"""Weight initialisers and the seedable random source that layers draw from.

Same seed, same numbers: every layer that needs random weights draws them from one
NumPy ``Generator``. Call ``minisegnet.nn.init.seed(n)`` before building a network to make
its weights reproducible, or give a layer its own ``rng=`` (an int seed or a
``numpy.random.Generator``). Weights are drawn in float64 on the CPU and then cast, so a
seed gives the same starting point in float32 and float64, on NumPy and on CuPy.

Lessons: Kaiming initialisation (He et al., 2015) and FCN's bilinear upsampling filters
(Long, Shelhamer & Darrell, 2015).
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import pair

SQRT2 = math.sqrt(2.0)  # He et al.: the gain that keeps ReLU activations at unit variance

__all__ = ["seed", "get_rng", "kaiming_normal", "bilinear_kernel", "bilinear_filter"]

_DEFAULT_SEED = 0
RELU_GAIN = math.sqrt(2.0)
_rng = np.random.default_rng(_DEFAULT_SEED)


def seed(n: int) -> None:
    """Reset the package-wide generator: the layers built after this call get the same
    weights on every run."""
    global _rng
    _rng = np.random.default_rng(n)


def get_rng(rng=None) -> np.random.Generator:
    """The generator to draw from: ``rng`` itself, a new one seeded with ``rng`` (an int),
    or the package-wide one when ``rng`` is ``None``."""
    if rng is None:
        return _rng
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def kaiming_normal(shape, fan_in, gain=RELU_GAIN, rng=None, dtype=np.float32):
    """He/Kaiming normal initialisation: ``w ~ N(0, (gain / sqrt(fan_in))²)``.

    With the ReLU gain ``sqrt(2)`` the variance of the activations stays roughly constant from
    layer to layer (ReLU zeroes half of each pre-activation's mass). ``fan_in`` is the number
    of inputs that feed one output unit (``C_in·kH·kW`` for a convolution).
    Returns a NumPy array of ``shape`` and ``dtype``.
    """
    if fan_in <= 0:
        raise ValueError(f"kaiming_normal: fan_in must be positive, got {fan_in}")
    std = gain / math.sqrt(fan_in)
    return (get_rng(rng).standard_normal(shape) * std).astype(dtype)


def bilinear_filter(kernel_size) -> np.ndarray:
    """The 2-D bilinear ("tent") filter of FCN's ``upsample_filt``, shape ``(kH, kW)``.

    Per axis: ``f[i] = 1 - |i - c| / factor`` with ``factor = ceil(k / 2)`` and centre
    ``c = factor - 1`` (odd k) or ``factor - 0.5`` (even k); the 2-D filter is the outer product.
    For k = 4: ``[0.25, 0.75, 0.75, 0.25]``.
    """
    def tent(k):
        factor = (k + 1) // 2
        centre = factor - 1 if k % 2 == 1 else factor - 0.5
        return 1.0 - np.abs(np.arange(k) - centre) / factor

    kh, kw = pair("bilinear_filter", "kernel_size", kernel_size, minimum=1)
    return np.outer(tent(kh), tent(kw))


def bilinear_kernel(channels, kernel_size, dtype=np.float32) -> np.ndarray:
    """Transposed-conv weight ``(C, C, k, k)`` that upsamples each channel bilinearly.

    ``w[c, c] = bilinear_filter(k)`` and ``w[c, d] = 0`` for ``c ≠ d``: every channel is
    upsampled on its own. With an even stride ``s``, ``kernel_size = 2s`` and ``padding = s/2``
    (e.g. k=4, s=2, p=1) the transposed convolution equals bilinear interpolation by ``s``
    (``align_corners=False``) away from the border, where it lacks the clamping of the edge
    pixel. FCN initialises its upsampling layers so (it crops instead of padding).
    """
    if not isinstance(channels, int) or channels < 1:
        raise ValueError(f"bilinear_kernel: channels must be a positive int, got {channels!r}")
    filt = bilinear_filter(kernel_size)
    weight = np.zeros((channels, channels, *filt.shape))
    weight[np.arange(channels), np.arange(channels)] = filt
    return weight.astype(dtype)
