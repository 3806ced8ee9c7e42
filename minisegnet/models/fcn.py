"""FCN-8s (Long, Shelhamer & Darrell, 2015), small: a VGG-style encoder whose coarse scores
are refined with skip connections from two shallower pooling stages.

::

    x ─ stage1 ─ stage2 ─ stage3 ──┬── stage4 ──┬── stage5 ─ fc6 ─ fc7 ─ score_fr   (1/32)
        (each: convs + 2×2 max pool)│  (1/16)    │                          │
                              (1/8) │            └─ score_pool4 ──(+)── up2 ┘      (1/16)
                                    └─ score_pool3 ──────────(+)── up2 ─┘           (1/8)
                                                              └─ bilinear ×8 → logits (H, W)

Scores are predicted at three depths and summed after upsampling: the deep, coarse
prediction says *what*, the shallow skips say *where*. The 2× upsamplings are learned
``ConvTranspose2d`` layers initialised to bilinear interpolation (FCN's choice); the final
×8 is fixed bilinear. Where FCN's Caffe model crops an upsampled map to the size of the
skip it is added to, ``Resize`` resamples it to that size (the identity when the sizes
already agree, e.g. for inputs divisible by 32).

Backward runs the graph in reverse; where a feature map fed two branches (pool3 and pool4
each feed the next stage and a score layer) the two gradients add.
"""

from __future__ import annotations

from .. import nn
from .blocks import conv_bn_relu

__all__ = ["FCN8s"]


def _stage(in_channels, out_channels, convs):
    layers = [conv_bn_relu(in_channels, out_channels)]
    layers += [conv_bn_relu(out_channels, out_channels) for _ in range(convs - 1)]
    return nn.Sequential(*layers, nn.MaxPool2d(2))


class FCN8s(nn.Module):
    """x: (N, in_channels, H, W) → logits (N, num_classes, H, W); H, W ≥ 32.

    ``widths``: channels of the five stages; ``convs``: conv layers per stage (VGG has
    2, 2, 3, 3, 3); ``fc_width``: channels of fc6/fc7 (3×3 and 1×1 convs here, VGG's 7×7 and
    1×1 "fully connected" layers made convolutional).
    """

    def __init__(self, num_classes, in_channels=3, widths=(16, 32, 48, 64, 64),
                 convs=(1, 1, 2, 2, 2), fc_width=96):
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if len(widths) != 5 or len(convs) != 5:
            raise ValueError(f"FCN8s: widths and convs must have 5 entries, got {widths!r}, {convs!r}")
        self.config = dict(num_classes=num_classes, in_channels=in_channels, widths=list(widths),
                           convs=list(convs), fc_width=fc_width)
        chans = (in_channels,) + widths
        self.stage1, self.stage2, self.stage3, self.stage4, self.stage5 = (
            _stage(chans[i], chans[i + 1], convs[i]) for i in range(5))
        self.fc = nn.Sequential(conv_bn_relu(widths[4], fc_width, 3),
                                conv_bn_relu(fc_width, fc_width, 1))
        self.score_fr = nn.Conv2d(fc_width, num_classes, 1)
        self.score_pool4 = nn.Conv2d(widths[3], num_classes, 1)
        self.score_pool3 = nn.Conv2d(widths[2], num_classes, 1)
        self.up32 = nn.ConvTranspose2d(num_classes, num_classes, 4, 2, 1, bias=False, init="bilinear")
        self.up16 = nn.ConvTranspose2d(num_classes, num_classes, 4, 2, 1, bias=False, init="bilinear")
        self.crop32, self.crop16, self.resize = nn.Resize(), nn.Resize(), nn.Resize()

    def forward(self, x):
        self._check_input(x)
        if min(x.shape[2:]) < 32:
            raise ValueError(f"FCN8s.forward: x must be at least 32×32 (five 2×2 poolings), got "
                             f"shape {tuple(x.shape)}")
        p3 = self.stage3.forward(self.stage2.forward(self.stage1.forward(x)))    # 1/8
        p4 = self.stage4.forward(p3)                                             # 1/16
        s32 = self.score_fr.forward(self.fc.forward(self.stage5.forward(p4)))   # 1/32
        s16 = self.crop32.forward(self.up32.forward(s32), p4.shape[2:]) + self.score_pool4.forward(p4)
        s8 = self.crop16.forward(self.up16.forward(s16), p3.shape[2:]) + self.score_pool3.forward(p3)
        self._cache = True
        return self.resize.forward(s8, x.shape[2:])

    def backward(self, d_logits):
        self._saved()
        d_s8 = self.resize.backward(d_logits)
        d_p3 = self.score_pool3.backward(d_s8)                      # branch 1 of the sum
        d_s16 = self.up16.backward(self.crop16.backward(d_s8))      # branch 2
        d_p4 = self.score_pool4.backward(d_s16)
        d_s32 = self.up32.backward(self.crop32.backward(d_s16))
        d_p4 = d_p4 + self.stage5.backward(self.fc.backward(self.score_fr.backward(d_s32)))
        d_p3 = d_p3 + self.stage4.backward(d_p4)
        return self.stage1.backward(self.stage2.backward(self.stage3.backward(d_p3)))
