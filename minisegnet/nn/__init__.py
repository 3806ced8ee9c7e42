"""Layer objects with explicit forward and backward: ``from minisegnet import nn``.

``Module`` and ``Parameter`` (module.py) hold parameters, buffers and child modules;
containers (containers.py) chain, add and concatenate branches; layers (layers.py) wrap the
ops of ``minisegnet.functional``; ``PyramidPooling`` (ppm.py) is PSPNet's module built from
containers; ``init`` gives seedable Kaiming and bilinear initialisers.

Example::

    from minisegnet import nn
    nn.init.seed(0)
    net = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                        nn.PyramidPooling(16), nn.Conv2d(32, 5, 1))
    y = net(x)                      # x: (N, 3, H, W) float32 → y: (N, 5, H, W)
    net.zero_grad()
    dx = net.backward(dy)           # fills p.grad for p in net.parameters()
"""

from . import init
from .aspp import ASPP
from .containers import Concat, Identity, ResizeToInput, Sequential, Sum
from .init import bilinear_kernel
from .layers import (
    AdaptiveAvgPool2d,
    AdaptiveMaxPool2d,
    BatchNorm2d,
    Conv2d,
    ConvTranspose2d,
    MaxPool2d,
    MaxUnpool2d,
    ReLU,
    Resize,
    UnpoolBedOfNails,
    UnpoolNearest,
    Upsample,
)
from .module import Module, Parameter
from .ppm import PyramidPooling

__all__ = [
    "init",
    "Module",
    "Parameter",
    "Sequential",
    "Identity",
    "Sum",
    "Concat",
    "ResizeToInput",
    "Conv2d",
    "ConvTranspose2d",
    "bilinear_kernel",
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
    "PyramidPooling",
    "ASPP",
]
