"""Segmentation networks built from ``minisegnet.nn``: ``from minisegnet import models``.

- ``MiniPSPNet`` (pspnet.py): dilated residual backbone (output stride 8), pyramid pooling,
  auxiliary head; ``MiniPSPNet(ppm=False)`` is the FCN baseline of the ablation;
- ``FCN8s`` (fcn.py): VGG-style encoder with score skips from pool3 and pool4;
- ``UNet`` (unet.py): encoder-decoder with concatenated skips;
- ``LadderNet`` (ladder.py): a deep encoder with a lean ladder-style decoder that blends the
  deep representation with shallower features at every level.

Every model has ``forward(x) -> logits`` ``(N, K, H, W)`` at the input's size,
``backward(d_logits) -> dx`` and a ``config`` dict; ``build_model(name, **config)`` rebuilds
one from its name and config (checkpoints store both).
"""

from .blocks import Bottleneck, ResidualBlock, conv_bn_relu
from .fcn import FCN8s
from .ladder import LadderNet
from .pspnet import MiniPSPNet
from .unet import UNet

__all__ = ["MiniPSPNet", "FCN8s", "UNet", "LadderNet", "ResidualBlock", "Bottleneck", "conv_bn_relu",
           "MODELS", "build_model", "model_name"]

MODELS = {"pspnet": MiniPSPNet, "fcn8s": FCN8s, "unet": UNet, "ladder": LadderNet}


def build_model(name, **config):
    """A new model ``MODELS[name](**config)``; e.g. ``build_model("pspnet", num_classes=5)``."""
    if name not in MODELS:
        raise ValueError(f"build_model: name must be one of {sorted(MODELS)}, got {name!r}")
    return MODELS[name](**config)


def model_name(model) -> str:
    """The ``MODELS`` key of ``model``'s class (for checkpoints)."""
    for name, cls in MODELS.items():
        if type(model) is cls:
            return name
    raise ValueError(f"model_name: {type(model).__name__} is not one of the built-in models")
