"""A ladder-style network (after Krešo, Krapac and Šegvić, "Ladder-style DenseNets for semantic
segmentation of large natural images", ICCV Workshops 2017): a deep encoder that recognises,
and a *lean* upsampling path that restores the resolution by blending the deep representation
with the encoder's shallower features, level by level (lesson 08).

::

    x ─ stem (/2) ─ enc1 (/4) ─┬─ enc2 (/8) ─┬─ enc3 (/16) ─┬─ enc4 (/32) ─ top (D)
                               │             │              │                  │ up
                               │             │              └── 1×1 ──(+)── 3×3 ─ F̂₃ (D, /16)
                               │             └── 1×1 ───────────(+)── 3×3 ─ F̂₂ (D, /8)   │ up
                               └── 1×1 ──────────────────(+)── 3×3 ─ F̂₁ (D, /4)          │ up
                                                                  └─ classifier 1×1 ─ bilinear ×4

Every decoder level computes ``F̂_t = ReLU(BN(conv3×3(conv1×1(F_t) + up(F̂_{t+1}))))`` at a
fixed, small width ``D``: recognition is the encoder's job (five stride-2 stages: a receptive
field of 63 pixels at the top, widened further by the decoder's 3×3 convolutions and the
bilinear upsamplings), restoring edges the decoder's, and the
decoder costs little memory because it is narrow where the maps are large. Contrast U-Net
(``unet.py``), whose decoder is as wide as its encoder and whose receptive field stays small.

Built from ``nn`` containers only: a level is ``Sequential(Sum(lateral, ResizeToInput(deeper)),
conv_bn_relu(D, D, 3))``, where ``deeper`` is the next encoder stage followed by the next
level, so the whole network is one nested expression and its backward comes from the
containers. The encoder stages are ResNet bottleneck blocks (``blocks.py``).
"""

from __future__ import annotations

from .. import nn
from .blocks import Bottleneck, conv_bn_relu

__all__ = ["LadderNet"]


def _ladder_level(channels, deeper, width):
    """One rung: x = F_t (N, channels, h, w) → F̂_t (N, width, h, w).

    ``deeper`` maps F_t to F̂_{t+1} (N, width, h/2, w/2); it is upsampled back to (h, w),
    added to the 1×1 projection of F_t, and blended by a 3×3 conv-BN-ReLU."""
    lateral = nn.Conv2d(channels, width, 1, bias=False)
    return nn.Sequential(nn.Sum(lateral, nn.ResizeToInput(deeper)),
                         conv_bn_relu(width, width, 3))


class LadderNet(nn.Module):
    """x: (N, in_channels, H, W) → logits (N, num_classes, H, W); H, W ≥ 32.

    ``widths = (w0, w1, w2, w3, w4)``: channels of the stem (stride 2) and of the four
    bottleneck stages (strides 4, 8, 16, 32); ``decoder_width``: the fixed width ``D`` of the
    upsampling path. The decoder blends at strides 16, 8 and 4; the classifier runs at
    stride 4 and its scores are resized bilinearly to the input. ``blend=False`` drops the
    decoder (the ablation of the ladder talk): the classifier runs on the top of the encoder
    and its stride-32 scores are interpolated straight to the input.
    """

    def __init__(self, num_classes, in_channels=3, widths=(16, 32, 48, 64, 96), decoder_width=32,
                 blend=True):
        super().__init__()
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"LadderNet: num_classes must be an int >= 2, got {num_classes!r}")
        widths = tuple(int(w) for w in widths)
        if len(widths) != 5 or min(widths) < 1:
            raise ValueError(f"LadderNet: widths must be 5 positive ints, got {widths!r}")
        width = int(decoder_width)
        if width < 1:
            raise ValueError(f"LadderNet: decoder_width must be a positive int, got {decoder_width!r}")
        w0, w1, w2, w3, w4 = widths
        self.config = dict(num_classes=num_classes, in_channels=in_channels, widths=list(widths),
                           decoder_width=width, blend=bool(blend))
        stem = [conv_bn_relu(in_channels, w0, 3, stride=2),   # /2
                Bottleneck(w0, w1, stride=2)]                  # enc1, /4
        top = nn.Sequential(Bottleneck(w3, w4, stride=2), conv_bn_relu(w4, width, 1))   # /32
        if not blend:   # the encoder alone, its scores interpolated ×32
            self.net = nn.ResizeToInput(nn.Sequential(
                *stem, Bottleneck(w1, w2, stride=2), Bottleneck(w2, w3, stride=2), top,
                nn.Conv2d(width, num_classes, 1)))
            return
        rung3 = _ladder_level(w3, top, width)                                        # /16
        rung2 = _ladder_level(w2, nn.Sequential(Bottleneck(w2, w3, stride=2), rung3), width)
        rung1 = _ladder_level(w1, nn.Sequential(Bottleneck(w1, w2, stride=2), rung2), width)
        self.net = nn.ResizeToInput(nn.Sequential(
            *stem,
            rung1,                                             # F̂₁ at /4 (the encoder goes on inside)
            nn.Conv2d(width, num_classes, 1)))                 # classifier

    def encoder_layers(self):
        """``[(kernel, stride, dilation), ...]`` of the 3×3 convolutions from the input to the
        top of the encoder (stride 32), for ``F.receptive_field``."""
        return [(3, 2, 1)] * 5

    def forward(self, x):
        self._check_input(x)
        if min(x.shape[2:]) < 32:
            raise ValueError(f"LadderNet.forward: x must be at least 32×32 (five stride-2 stages), "
                             f"got shape {tuple(x.shape)}")
        self._cache = True
        return self.net.forward(x)

    def backward(self, d_logits):
        self._saved()
        return self.net.backward(d_logits)

    def extra_repr(self):
        c = self.config
        return (f"num_classes={c['num_classes']}, widths={tuple(c['widths'])}, "
                f"decoder_width={c['decoder_width']}, blend={c['blend']}")
