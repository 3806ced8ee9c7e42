"""Atrous spatial pyramid pooling, DeepLabv3's head (Chen et al.).

DeepLab (Chen et al., TPAMI 2018) looks at one feature map at several scales at once: parallel
3×3 convolutions with different dilation ("atrous") rates see context of different sizes
around every pixel, and their outputs are fused. DeepLabv3 ("Rethinking atrous
convolution for semantic image segmentation", Chen et al., 2017) adds a 1×1 branch and an
image-level branch (global average pooling → 1×1 conv → broadcast back), with batch
normalisation in every branch, and projects the concatenation with a 1×1 convolution.
Built from containers only, so its backward is theirs::

    Sequential(
        Concat(Sequential(Conv2d(C, C', 1), BN, ReLU),                          # 1×1
               Sequential(Conv2d(C, C', 3, padding=r, dilation=r), BN, ReLU),   # one per rate
               ...,
               ResizeToInput(Sequential(AdaptiveAvgPool2d(1), Conv2d(C, C', 1), BN, ReLU))),
        Sequential(Conv2d((len(rates) + 2)·C', C', 1), BN, ReLU))               # projection

Lesson: ``lessons/06-dilated-conv.md``.
"""

from __future__ import annotations

from .containers import Concat, ResizeToInput, Sequential
from .init import get_rng
from .layers import AdaptiveAvgPool2d, BatchNorm2d, Conv2d, ReLU
from .ppm import reject_single_image_batch

__all__ = ["ASPP"]


def _conv_bn_relu(in_channels, out_channels, kernel_size, dilation, rng):
    padding = dilation * (kernel_size - 1) // 2      # "same" size for odd kernels
    return Sequential(Conv2d(in_channels, out_channels, kernel_size, padding=padding,
                             dilation=dilation, bias=False, rng=rng),
                      BatchNorm2d(out_channels), ReLU())


class ASPP(Sequential):
    """ASPP: ``y = project(concat([b_1x1(x), b_r1(x), b_r2(x), ..., pool(x)]))``.

    Branches (each Conv2d without bias → BatchNorm2d → ReLU, ``out_channels`` each):
    a 1×1 conv; for every rate ``r`` in ``rates`` a 3×3 conv with ``dilation=r`` and
    ``padding=r`` (spatial size kept); with ``image_pooling`` the image-level branch,
    global average pooling → 1×1 conv → BN → ReLU → bilinear resize back to (H, W) (a
    constant map). The projection is a 1×1 conv from ``(len(rates) + 1 + image_pooling) ·
    out_channels`` to ``out_channels`` channels → BN → ReLU (torchvision's DeepLabHead also
    applies dropout 0.5 here; this package has no dropout layer).

    x: (N, in_channels, H, W) → y: (N, out_channels, H, W). ``self[0]`` is the ``Concat`` of
    the branches (``self.branches``), ``self[1]`` the projection (``self.project``).
    ``rates=(6, 12, 18)`` is DeepLabv3's choice at output stride 16 (double them at output
    stride 8). In training mode the image-level branch normalises one value per channel
    and image, so a batch of one is a ``ValueError`` (use ``eval()`` or batches ≥ 2).
    """

    def __init__(self, in_channels, out_channels, rates=(6, 12, 18), image_pooling=True, *,
                 rng=None):
        fn = "ASPP"
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{fn}: {name} must be a positive int, got {value!r}")
        rates = tuple(rates)
        if not all(isinstance(r, int) and not isinstance(r, bool) and r >= 1 for r in rates):
            raise ValueError(f"{fn}: rates must be positive ints (dilations), got {rates!r}")
        rng = get_rng(rng)    # one generator for all branches (an int seed would repeat weights)
        branches = [_conv_bn_relu(in_channels, out_channels, 1, 1, rng)]
        branches += [_conv_bn_relu(in_channels, out_channels, 3, r, rng) for r in rates]
        if image_pooling:
            branches.append(ResizeToInput(Sequential(
                AdaptiveAvgPool2d(1),
                Conv2d(in_channels, out_channels, 1, bias=False, rng=rng),
                BatchNorm2d(out_channels), ReLU())))
        concat_channels = len(branches) * out_channels
        super().__init__(Concat(*branches),
                         _conv_bn_relu(concat_channels, out_channels, 1, 1, rng))
        self.in_channels, self.out_channels = in_channels, out_channels
        self.rates, self.image_pooling = rates, bool(image_pooling)

    @property
    def branches(self):
        """The ``Concat`` of the parallel branches (1×1, one per rate, image pooling)."""
        return self[0]

    @property
    def project(self):
        """The 1×1 projection after the concatenation (Conv2d → BatchNorm2d → ReLU)."""
        return self[1]

    def forward(self, x):
        self._check_input(x, self.in_channels)
        if self.image_pooling and self.training and x.shape[0] == 1:
            reject_single_image_batch("ASPP.forward", "the image-pooling branch", x)
        return super().forward(x)

    def extra_repr(self):
        return (f"in_channels={self.in_channels}, out_channels={self.out_channels}, "
                f"rates={self.rates}, image_pooling={self.image_pooling}")
