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
from ..backend import get_array_module
from .blocks import conv_bn_relu

__all__ = ["UNet"]


def _double_conv(in_channels, out_channels):
    return nn.Sequential(conv_bn_relu(in_channels, out_channels), conv_bn_relu(out_channels, out_channels))


class UNet(nn.Module):
    """x: (N, in_channels, H, W) → logits (N, num_classes, H, W); H, W divisible by 4.

    ``widths = (w1, w2, w3)``: channels at full, half and quarter resolution.
    """

    def __init__(self, num_classes, in_channels=3, widths=(16, 32, 64)):
        super().__init__()
        w1, w2, w3 = (int(w) for w in widths)
        self.config = dict(num_classes=num_classes, in_channels=in_channels, widths=[w1, w2, w3])
        self.enc1 = _double_conv(in_channels, w1)
        self.pool1 = nn.MaxPool2d(2)
        self.enc2 = _double_conv(w1, w2)
        self.pool2 = nn.MaxPool2d(2)
        self.bottleneck = _double_conv(w2, w3)
        self.up2 = nn.ConvTranspose2d(w3, w2, 2, 2)
        self.dec2 = _double_conv(2 * w2, w2)
        self.up1 = nn.ConvTranspose2d(w2, w1, 2, 2)
        self.dec1 = _double_conv(2 * w1, w1)
        self.classifier = nn.Conv2d(w1, num_classes, 1)

    def forward(self, x):
        self._check_input(x)
        h, w = x.shape[2:]
        if h % 4 or w % 4:
            raise ValueError(f"UNet.forward: H and W must be divisible by 4 (two 2×2 poolings), "
                             f"got shape {tuple(x.shape)}")
        xp = get_array_module(x)
        e1 = self.enc1.forward(x)
        e2 = self.enc2.forward(self.pool1.forward(e1))
        b = self.bottleneck.forward(self.pool2.forward(e2))
        d2 = self.dec2.forward(xp.concatenate([e2, self.up2.forward(b)], axis=1))
        d1 = self.dec1.forward(xp.concatenate([e1, self.up1.forward(d2)], axis=1))
        self._cache = (e1.shape[1], e2.shape[1])
        return self.classifier.forward(d1)

    def backward(self, d_logits):
        c1, c2 = self._saved()
        xp = get_array_module(d_logits)
        d_cat1 = self.dec1.backward(self.classifier.backward(d_logits))
        d_e1 = d_cat1[:, :c1]                                   # skip share ...
        d_d2 = self.up1.backward(xp.ascontiguousarray(d_cat1[:, c1:]))   # ... and decoder share
        d_cat2 = self.dec2.backward(d_d2)
        d_e2 = d_cat2[:, :c2]
        d_b = self.up2.backward(xp.ascontiguousarray(d_cat2[:, c2:]))
        d_e2 = d_e2 + self.pool2.backward(self.bottleneck.backward(d_b))
        d_e1 = d_e1 + self.pool1.backward(self.enc2.backward(d_e2))
        return self.enc1.backward(d_e1)
