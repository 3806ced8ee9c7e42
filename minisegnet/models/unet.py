"""A small U-Net (Ronneberger, Fischer & Brox, 2015): an encoder, a decoder, and skips that
*concatenate* encoder features onto the decoder at every resolution.

::

    x ─ enc1 ───────────────────────────── concat ─ dec1 ─ classifier → logits (H, W)
          └ pool ─ enc2 ─────────── concat ─ dec2 ─ up ┘
                    └ pool ─ bottleneck ─ up ┘

Each ``enc``/``dec`` is two conv3×3-BN-ReLU layers; ``pool`` a 2×2 max pool; ``up`` a 2×2
transposed convolution with stride 2 that halves the channels. Padded convolutions keep the
sizes, so no cropping is needed (the original used unpadded ones and cropped the skips);
H and W must be divisible by 4. Concatenation keeps the shallow features whole (FCN adds
scores instead), at the price of memory: the encoder's full-resolution activations stay
alive until the decoder has used them (lesson 08).
"""

from __future__ import annotations

from .. import nn
from .blocks import conv_bn_relu

__all__ = ["UNet"]


def _double_conv(in_channels, out_channels):
    return nn.Sequential(conv_bn_relu(in_channels, out_channels), conv_bn_relu(out_channels, out_channels))


def _level(channels, inner, inner_channels):
    """One U-Net level around ``inner``: ``double_conv([x, up(inner(pool(x)))])``.

    x: (N, channels, H, W) → (N, channels, H, W); ``inner`` maps ``channels`` to
    ``inner_channels`` at half the resolution.
    """
    down_and_up = nn.Sequential(nn.MaxPool2d(2), inner,
                                nn.ConvTranspose2d(inner_channels, channels, 2, 2))
    return nn.Sequential(nn.Concat(nn.Identity(), down_and_up),   # the skip: [x, up(...)]
                         _double_conv(2 * channels, channels))


class UNet(nn.Sequential):
    """x: (N, in_channels, H, W) → logits (N, num_classes, H, W); H, W divisible by 4.

    ``widths = (w1, w2, w3)``: channels at full, half and quarter resolution. Built from
    ``nn`` containers (``Concat(Identity(), ...)`` is the skip), so it needs no hand-written
    backward; ``enc1``, ``pool1``, ``enc2``, ``pool2``, ``bottleneck``, ``up2``, ``dec2``,
    ``up1``, ``dec1`` and ``classifier`` name its parts for tracing shapes (lesson 08).
    """

    def __init__(self, num_classes, in_channels=3, widths=(16, 32, 64)):
        w1, w2, w3 = (int(w) for w in widths)
        level2 = _level(w2, _double_conv(w2, w3), w3)
        level1 = _level(w1, nn.Sequential(_double_conv(w1, w2), level2), w2)
        super().__init__(_double_conv(in_channels, w1), level1, nn.Conv2d(w1, num_classes, 1))
        self.config = dict(num_classes=num_classes, in_channels=in_channels, widths=[w1, w2, w3])

    # The named parts, read from the nested containers (properties: no second registration).
    enc1 = property(lambda self: self[0])
    pool1 = property(lambda self: self[1][0][1][0])
    enc2 = property(lambda self: self[1][0][1][1][0])
    pool2 = property(lambda self: self[1][0][1][1][1][0][1][0])
    bottleneck = property(lambda self: self[1][0][1][1][1][0][1][1])
    up2 = property(lambda self: self[1][0][1][1][1][0][1][2])
    dec2 = property(lambda self: self[1][0][1][1][1][1])
    up1 = property(lambda self: self[1][0][1][2])
    dec1 = property(lambda self: self[1][1])
    classifier = property(lambda self: self[2])

    def forward(self, x):
        self._check_input(x)
        h, w = x.shape[2:]
        if h % 4 or w % 4:
            raise ValueError(f"UNet.forward: H and W must be divisible by 4 (two 2×2 poolings), "
                             f"got shape {tuple(x.shape)}")
        return super().forward(x)
