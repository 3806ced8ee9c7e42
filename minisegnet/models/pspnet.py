"""MiniPSPNet: PSPNet (Zhao et al., CVPR 2017) scaled down to train in a minute on a CPU.

The paper's recipe, every part kept, every size shrunk::

    image (3, H, W)
      stem    conv3×3, stride 2                                   (w0, H/2, W/2)
      layer1  bottleneck residual block, stride 2                 (w1, H/4, W/4)
      layer2  bottleneck residual block, stride 2                 (w2, H/8, W/8) ─┐ auxiliary
      layer3  bottleneck residual block, dilation 2 (stride 1)    (w3, H/8, W/8)  │ head
      ppm     pyramid pooling, bins (1, 2, 3, 6)                  (2·w3, H/8, W/8)│
      head    conv → BN → ReLU → conv1×1                          (K, H/8, W/8)   │
      resize  bilinear to the input size                          (K, H, W) main  │
                                                         aux logits (K, H, W) ◄───┘

The backbone is a dilated residual network with **output stride 8** (the last block dilates
instead of striding, as in DeepLab and PSPNet), built from ResNet-50's bottleneck blocks
(1×1 squeeze, 3×3, 1×1 expand); the **pyramid pooling module** adds a global prior; an
**auxiliary classifier** on layer2 gives the earlier layers a direct gradient (the paper's
deep supervision, loss weight 0.4).

Receptive field. Without the PPM every output pixel sees a window of
``F.receptive_field(model.backbone_layers())`` = 47×47 input pixels (the 3×3 convs: 3 at
stride 2, then one with dilation 2 at stride 8; ``head_kernel=3``, the paper's head, adds 16).
That is small on purpose: the ``context`` data set draws vehicles larger than it, so the FCN
baseline (``ppm=False``) cannot see, from the middle of a vehicle, whether it floats on water
or drives on a road, while the PPM's pooled levels see the whole scene. (The *empirical*
receptive field is smaller still, Zhou et al. 2015; PSPNet's own argument.)

How the auxiliary output flows (there is no autograd, so it is explicit):

- ``forward(x)`` returns the main logits. In training mode with ``aux=True`` it also
  computes the auxiliary logits and stores them in ``self.aux_logits`` (``None``
  otherwise, and always ``None`` in ``eval()`` mode: the auxiliary head is dropped at test
  time, as in the paper).
- ``backward(d_logits, d_aux=None)`` backpropagates the main gradient and, when given, the
  auxiliary one; the two meet at layer2's output, where their gradients add.

The training loop does ``loss = CE(main) + 0.4·CE(aux)`` and passes ``0.4·dCE(aux)`` as
``d_aux``; see ``minisegnet.train``.

Ablation switches (the paper's Table 1 and more): ``bins`` (``(1,)`` or ``(1, 2, 3, 6)``),
``pooling`` (``"avg"`` or ``"max"``), ``reduction`` (the 1×1 conv to ``C/len(bins)``, on or
off), ``aux`` (on or off), and ``ppm=False``: the FCN baseline, the same dilated backbone
and head without the pyramid pooling module.
"""

from __future__ import annotations

from .. import nn
from .blocks import Bottleneck, ResidualBlock, conv_bn_relu

__all__ = ["MiniPSPNet"]


class MiniPSPNet(nn.Module):
    """A small PSPNet. x: (N, in_channels, H, W) → logits (N, num_classes, H, W).

    ``widths = (w0, w1, w2, w3)``: channels of stem, layer1, layer2 and layer3.
    ``block``: ``"bottleneck"`` (default) or ``"basic"`` (two 3×3 convs: receptive field
    103); ``head_kernel``: 1 (default) or 3 (the paper's); ``stem_convs``: 3×3 convs in the
    stem (the first has stride 2).
    ``ppm=False`` builds the no-PPM baseline (a dilated FCN of the same depth); ``bins``,
    ``pooling`` and ``reduction`` configure the pyramid (see ``nn.PyramidPooling``);
    ``aux`` adds the auxiliary head on layer2.
    """

    def __init__(self, num_classes, in_channels=3, widths=(16, 32, 48, 64), bins=(1, 2, 3, 6),
                 pooling="avg", reduction=True, aux=True, ppm=True, block="bottleneck", head_kernel=1,
                 stem_convs=1):
        super().__init__()
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"MiniPSPNet: num_classes must be an int >= 2, got {num_classes!r}")
        widths = tuple(int(w) for w in widths)
        if len(widths) != 4 or min(widths) < 1:
            raise ValueError(f"MiniPSPNet: widths must be 4 positive ints, got {widths!r}")
        w0, w1, w2, w3 = widths
        self.config = dict(num_classes=num_classes, in_channels=in_channels, widths=list(widths),
                           bins=list(bins), pooling=pooling, reduction=bool(reduction),
                           aux=bool(aux), ppm=bool(ppm), block=block, head_kernel=head_kernel,
                           stem_convs=stem_convs)
        Block = {"bottleneck": Bottleneck, "basic": ResidualBlock}[block]
        self.stem = nn.Sequential(conv_bn_relu(in_channels, w0, 3, stride=2),
                                  *[conv_bn_relu(w0, w0, 3) for _ in range(stem_convs - 1)])
        self.layer1 = Block(w0, w1, stride=2)
        self.layer2 = Block(w1, w2, stride=2)
        self.layer3 = Block(w2, w3, dilation=2)
        if ppm:
            self.ppm = nn.PyramidPooling(w3, bins=tuple(bins), pooling=pooling,
                                         reduction=reduction)
            head_in = self.ppm.out_channels
        else:
            self.ppm = nn.Identity()
            head_in = w3
        self.head = nn.Sequential(conv_bn_relu(head_in, w3, head_kernel),
                                  nn.Conv2d(w3, num_classes, 1))
        self.resize = nn.Resize()
        if aux:
            self.aux_head = nn.Sequential(conv_bn_relu(w2, w2 // 2, 3),
                                          nn.Conv2d(w2 // 2, num_classes, 1))
            self.aux_resize = nn.Resize()
        else:
            self.aux_head = None
        self.aux_logits = None

    def backbone_layers(self):
        """``[(kernel, stride, dilation), ...]`` of the spatial convolutions from the input to
        the head's output, for ``F.receptive_field`` (1×1 convs do not widen it)."""
        cfg = self.config
        layers = [(3, 2, 1)] + [(3, 1, 1)] * (cfg["stem_convs"] - 1)
        per_block = 1 if cfg["block"] == "bottleneck" else 2
        layers += [(3, 2, 1)] + [(3, 1, 1)] * (per_block - 1)
        layers += [(3, 2, 1)] + [(3, 1, 1)] * (per_block - 1)
        layers += [(3, 1, 2)] * per_block
        layers += [(cfg["head_kernel"], 1, 1)]
        return layers

    def forward(self, x):
        """Main logits ``(N, K, H, W)``; in training mode with ``aux`` also sets
        ``self.aux_logits`` ``(N, K, H, W)`` (else ``None``)."""
        self._check_input(x)
        size = x.shape[2:]
        c2 = self.layer2.forward(self.layer1.forward(self.stem.forward(x)))   # stride 8
        c3 = self.layer3.forward(c2)                                          # dilated
        scores = self.head.forward(self.ppm.forward(c3))
        self._aux_used = self.aux_head is not None and self.training
        if self._aux_used:
            self.aux_logits = self.aux_resize.forward(self.aux_head.forward(c2), size)
        else:
            self.aux_logits = None
        self._cache = True
        return self.resize.forward(scores, size)

    def backward(self, d_logits, d_aux=None):
        """Backpropagate ``d_logits`` (and ``d_aux``, the gradient of the auxiliary logits,
        when the last forward computed them); returns ``dx``."""
        self._saved()
        if d_aux is not None and not self._aux_used:
            raise ValueError("MiniPSPNet.backward: d_aux given, but the last forward computed no "
                             "auxiliary logits (aux=False or eval mode)")
        d_c3 = self.ppm.backward(self.head.backward(self.resize.backward(d_logits)))
        d_c2 = self.layer3.backward(d_c3)
        if d_aux is not None:   # layer2's output fed two heads: its gradients add
            d_c2 = d_c2 + self.aux_head.backward(self.aux_resize.backward(d_aux))
        return self.stem.backward(self.layer1.backward(self.layer2.backward(d_c2)))

    def extra_repr(self):
        c = self.config
        what = (f"bins={tuple(c['bins'])}, pooling='{c['pooling']}', reduction={c['reduction']}"
                if c["ppm"] else "ppm=False (FCN baseline)")
        return f"num_classes={c['num_classes']}, widths={tuple(c['widths'])}, {what}, aux={c['aux']}"
