"""Containers: chains, skips and concatenations whose backward is written once, here.

A network is a tree of modules. ``Sequential`` chains them; ``Sum`` and ``Concat`` feed the
same input to several branches and add or concatenate the results; ``Identity`` is the
"do nothing" branch of a skip; ``ResizeToInput`` brings a branch's output back to the
spatial size of its input. Nesting them gives FCN's skips and U-Net's levels without a
hand-written backward in any model:

FCN-8s-style skips (the deep path's scores, upsampled, added to scores from shallower
features; innermost first)::

    score4 = Conv2d(C4, K, 1)                         # scores from pool4's features
    deep = Sequential(pool5_block, Conv2d(C5, K, 1))  # pool4 → deeper features → scores
    level4 = Sum(score4, ResizeToInput(deep))         # stride-16 scores: skip + upsampled deep
    level3 = Sum(Conv2d(C3, K, 1),                    # pool3's scores, plus ...
                 ResizeToInput(Sequential(pool4_block, level4)))  # ... the stride-16 ones
    fcn8s = Sequential(backbone_to_pool3, level3, Upsample(scale_factor=8))

A U-Net level (skip = concatenate the encoder features with the upsampled decoder output;
the innermost level is the bottleneck, and each level wraps the one below it)::

    def level(c, inner, c_inner_out):
        down = Sequential(MaxPool2d(2), inner,
                          ConvTranspose2d(c_inner_out, c, 2, stride=2))  # back to H×W
        return Sequential(Concat(Identity(), down),                      # [x, up(inner(x))]
                          Conv2d(2 * c, c, 3, padding=1), ReLU())

Every branch receives the same input ``x``; ``Sum.backward`` and ``Concat.backward`` give
each branch its share of ``dy`` and add the branches' input gradients, because ``x`` fed
them all (the multivariate chain rule: a value used twice gets both gradients).
"""

from __future__ import annotations

from .. import functional as F
from ..backend import get_array_module
from .module import Module

__all__ = ["Sequential", "Identity", "Sum", "Concat", "ResizeToInput"]


class _Indexed(Module):
    """Children named ``"0"``, ``"1"``, ... with indexing, ``len`` and iteration."""

    def __init__(self, *modules):
        super().__init__()
        for index, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"{type(self).__name__}: argument {index} must be a Module, "
                                f"got {type(module).__name__}")
            self.add_module(str(index), module)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        """``self[i]`` is the i-th child (negative indices count from the end)."""
        return list(self._modules.values())[index]


class Sequential(_Indexed):
    """``y = layers[-1](... layers[1](layers[0](x)))``; backward runs the chain in reverse.

    ``Sequential(Conv2d(3, 8, 3, padding=1), ReLU())``: children ``0``, ``1``, so the
    parameter names are ``0.weight``, ``0.bias`` as in PyTorch. Indexable (``seq[0]``,
    ``seq[-1]``, ``seq[1:]`` a new Sequential sharing the layers), ``len``, iteration.
    """

    def __getitem__(self, index):
        """``seq[i]`` the i-th layer; ``seq[a:b]`` a new Sequential of the same layer objects."""
        if isinstance(index, slice):
            return Sequential(*list(self)[index])
        return super().__getitem__(index)

    def append(self, module):
        """Add ``module`` at the end; returns self."""
        self.add_module(str(len(self)), module)
        return self

    def forward(self, x):
        for layer in self:
            x = layer.forward(x)
        return x

    def backward(self, dy):
        for layer in reversed(list(self)):
            dy = layer.backward(dy)
        return dy


class Identity(Module):
    """``y = x``, ``dx = dy``: the plain skip branch of ``Sum`` or ``Concat``."""

    def forward(self, x):
        return x

    def backward(self, dy):
        return dy


def _add(a, b):
    # Out of place on purpose: a branch may return its input (Identity) or dy itself, and
    # ``a += b`` would then overwrite the caller's array.
    return a + b


class Sum(_Indexed):
    """``y = Σ_i branch_i(x)``; ``dx = Σ_i branch_i.backward(dy)`` (FCN's skip sums).

    All branches get the same x and must return arrays of one shape.
    ``Sum(Identity(), block)`` is a residual connection.
    """

    def __init__(self, *branches):
        if not branches:
            raise ValueError("Sum: give at least one branch")
        super().__init__(*branches)

    def forward(self, x):
        outputs = [branch.forward(x) for branch in self]
        shapes = [tuple(o.shape) for o in outputs]
        if len(set(shapes)) > 1:
            raise ValueError(f"Sum.forward: branch outputs must have one shape, got {shapes} "
                             "(wrap a branch in ResizeToInput to match spatial sizes)")
        y = outputs[0]
        for out in outputs[1:]:
            y = _add(y, out)
        return y

    def backward(self, dy):
        dx = None
        for branch in self:
            g = branch.backward(dy)
            dx = g if dx is None else _add(dx, g)
        return dx


class Concat(_Indexed):
    """``y = concat([branch_0(x), branch_1(x), ...], axis=1)`` (U-Net's skip, PSPNet's PPM).

    Backward splits ``dy`` along channels into each branch's share and adds the branches'
    input gradients. Branch outputs must agree in N, H and W.
    Shapes: x (N, C, H, W) → y (N, Σ C_i, H, W).
    """

    def __init__(self, *branches):
        if not branches:
            raise ValueError("Concat: give at least one branch")
        super().__init__(*branches)

    def forward(self, x):
        outputs = [branch.forward(x) for branch in self]
        others = [(o.shape[0],) + tuple(o.shape[2:]) for o in outputs]
        if any(o.ndim != 4 for o in outputs) or len(set(others)) > 1:
            raise ValueError(
                "Concat.forward: branch outputs must be (N, C_i, H, W) with one N, H, W, got "
                f"{[tuple(o.shape) for o in outputs]} (wrap a branch in ResizeToInput)")
        xp = get_array_module(*outputs)
        self._cache = [o.shape[1] for o in outputs]   # channels per branch, to split dy
        return xp.concatenate(outputs, axis=1)

    def backward(self, dy):
        channels = self._saved()
        if dy.ndim != 4 or dy.shape[1] != sum(channels):
            raise ValueError(f"Concat.backward: dy must have {sum(channels)} channels, "
                             f"got shape {tuple(dy.shape)}")
        xp = get_array_module(dy)
        dx, start = None, 0
        for branch, c in zip(self, channels):
            # A channel slice is a strided view; the ops expect ordinary contiguous arrays.
            g = branch.backward(xp.ascontiguousarray(dy[:, start:start + c]))
            dx = g if dx is None else _add(dx, g)
            start += c
        return dx


class ResizeToInput(Module):
    """``y = resize(module(x), size of x)`` by bilinear interpolation (``F.bilinear_upsample``).

    For a branch that changes the spatial size and must come back to it before a
    ``Sum`` or ``Concat``: FCN's upsampled deep scores, PSPNet's pooled pyramid levels.
    Shapes: x (N, C, H, W) → module(x) (N, C', h, w) → y (N, C', H, W).
    Backward runs the resize's backward, then the module's.
    """

    def __init__(self, module, align_corners: bool = False):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"ResizeToInput: module must be a Module, got {type(module).__name__}")
        self.module = module
        self.align_corners = bool(align_corners)

    def forward(self, x):
        z = self.module.forward(x)
        y, self._cache = F.bilinear_upsample_forward(z, size=tuple(x.shape[2:]),
                                                     align_corners=self.align_corners)
        return y

    def backward(self, dy):
        return self.module.backward(F.bilinear_upsample_backward(dy, self._saved()))

    def extra_repr(self):
        return f"align_corners={self.align_corners}"
