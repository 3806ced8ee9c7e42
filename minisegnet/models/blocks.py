"""Building blocks shared by the models: conv-BN-ReLU and the residual blocks.

All built from ``minisegnet.nn`` containers: none of them needs a hand-written backward.
"""

from __future__ import annotations

from .. import nn

__all__ = ["conv_bn_relu", "ResidualBlock", "Bottleneck"]


def conv_bn_relu(in_channels, out_channels, kernel_size=3, stride=1, dilation=1):
    """``Conv2d (no bias) → BatchNorm2d → ReLU``; ``padding = dilation·(k-1)/2`` keeps the size
    (divided by ``stride``). The conv has no bias because the BatchNorm after it has one."""
    padding = dilation * (kernel_size - 1) // 2
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    )


def _shortcut(in_channels, out_channels, stride):
    """The identity when shapes match, else a strided 1×1 projection + BN (ResNet's option B)."""
    if in_channels == out_channels and stride == 1:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                         nn.BatchNorm2d(out_channels))


class ResidualBlock(nn.Sequential):
    """He et al.'s basic block: ``y = ReLU(shortcut(x) + body(x))``, i.e.
    ``Sequential(Sum(shortcut, body), ReLU())``.

    body: ``conv3×3(stride, dilation) → BN → ReLU → conv3×3(dilation) → BN``;
    shortcut: ``Identity()`` when the shape is kept, else the projection
    ``conv1×1(stride) → BN`` (He et al.'s option B).
    x: (N, C_in, H, W) → y: (N, C_out, H/stride, W/stride).

    A dilated block (``dilation = 2``, ``stride = 1``) is DeepLab's and PSPNet's way to grow
    the receptive field without shrinking the map: output stride 8 instead of 32.
    """

    def __init__(self, in_channels, out_channels, stride=1, dilation=1):
        body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, stride, dilation, dilation, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, 3, 1, dilation, dilation, bias=False),
            nn.BatchNorm2d(out_channels),
        )
        super().__init__(nn.Sum(_shortcut(in_channels, out_channels, stride), body), nn.ReLU())
        self.in_channels, self.out_channels = in_channels, out_channels
        self.stride, self.dilation = stride, dilation

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, stride={self.stride}, "
                f"dilation={self.dilation}")


class Bottleneck(nn.Sequential):
    """ResNet-50's bottleneck block: ``y = ReLU(shortcut(x) + body(x))`` with the body
    ``conv1×1 → BN → ReLU → conv3×3(stride, dilation) → BN → ReLU → conv1×1 → BN``.

    The 1×1 convolutions squeeze the channels to ``mid_channels`` (default ``out/2``) and
    expand them back, so the block is cheap; only the one 3×3 convolution widens the
    receptive field, by ``2·dilation`` input-grid steps. Shortcut as in ``ResidualBlock``.
    """

    def __init__(self, in_channels, out_channels, stride=1, dilation=1, mid_channels=None):
        mid = mid_channels or max(1, out_channels // 2)
        body = nn.Sequential(
            nn.Conv2d(in_channels, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(),
            nn.Conv2d(mid, mid, 3, stride, dilation, dilation, bias=False), nn.BatchNorm2d(mid),
            nn.ReLU(),
            nn.Conv2d(mid, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels),
        )
        super().__init__(nn.Sum(_shortcut(in_channels, out_channels, stride), body), nn.ReLU())
        self.in_channels, self.out_channels, self.mid_channels = in_channels, out_channels, mid
        self.stride, self.dilation = stride, dilation

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, mid={self.mid_channels}, "
                f"stride={self.stride}, dilation={self.dilation}")
