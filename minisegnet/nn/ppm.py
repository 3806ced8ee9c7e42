"""PSPNet's pyramid pooling module (Zhao et al., "Pyramid Scene Parsing Network", CVPR 2017).

The module adds global context to a feature map: it pools the map into a few coarse grids
(1×1 = global average, 2×2, 3×3, 6×6), reduces each pooled map to ``C / len(bins)``
channels with a 1×1 convolution (so that the global prior does not outweigh the local
features), upsamples every level bilinearly back to the map's size and concatenates them
with the map itself. Built from containers only, so its backward is theirs::

    Concat(Identity(),
           ResizeToInput(Sequential(AdaptiveAvgPool2d(1), Conv2d(C, C/4, 1), BatchNorm2d, ReLU)),
           ResizeToInput(Sequential(AdaptiveAvgPool2d(2), ...)), ...)
"""

from __future__ import annotations

from .containers import Concat, Identity, ResizeToInput, Sequential
from .init import get_rng
from .layers import AdaptiveAvgPool2d, AdaptiveMaxPool2d, BatchNorm2d, Conv2d, ReLU

__all__ = ["PyramidPooling", "reject_single_image_batch"]


def reject_single_image_batch(fn, branch, x):
    """Raise the clear error for a branch that pools to 1×1 before a training-mode BatchNorm:
    with a batch of one it would normalise a single value per channel (PPM's bin 1, ASPP's
    image pooling). Called before any work, so the message can name the branch."""
    raise ValueError(
        f"{fn}: {branch} pools to 1×1, and BatchNorm in training mode needs more than one value "
        f"per channel; got a batch of 1 (input shape {tuple(x.shape)}). Use a batch of at least "
        f"2, or eval().")


class PyramidPooling(Concat):
    """Pyramid pooling: ``y = concat([x, up(f_1(pool_1(x))), up(f_2(pool_2(x))), ...])``.

    ``f_b`` = 1×1 Conv2d (no bias: BatchNorm follows) → BatchNorm2d → ReLU; ``pool_b`` adaptive
    average (``pooling="avg"``, the paper's best) or max pooling to ``b×b`` bins; ``up``
    bilinear resizing back to x's (H, W).

    x: (N, C, H, W) → y: (N, C + len(bins)·C', H, W) with ``C' = C // len(bins)``
    (``reduction=True``; so ``2C`` channels when len(bins) divides C) or ``C' = C``
    (``reduction=False``, the paper's ablation without dimension reduction).
    Channel order: ``[x, bins[0]'s level, bins[1]'s level, ...]``; ``self[0]`` is the
    identity branch and ``self[i]`` (a ``ResizeToInput``) the level of ``bins[i-1]``.

    Batch-norm caveat: the 1×1 level has one value per channel and image, so in training
    mode BatchNorm normalises over just the N images of the batch, and a batch of one is a
    ``ValueError`` (as in PyTorch); use batches of at least 2 or ``eval()``.
    """

    def __init__(self, in_channels, bins=(1, 2, 3, 6), pooling="avg", reduction=True,
                 align_corners=False, *, rng=None):
        fn = "PyramidPooling"
        if not isinstance(in_channels, int) or in_channels < 1:
            raise ValueError(f"{fn}: in_channels must be a positive int, got {in_channels!r}")
        bins = tuple(bins)
        if not bins:
            raise ValueError(f"{fn}: bins must name at least one pyramid level, got {bins!r}")
        pools = {"avg": AdaptiveAvgPool2d, "max": AdaptiveMaxPool2d}
        if pooling not in pools:
            raise ValueError(f"{fn}: pooling must be 'avg' or 'max', got {pooling!r}")
        branch_channels = in_channels // len(bins) if reduction else in_channels
        if branch_channels < 1:
            raise ValueError(f"{fn}: in_channels={in_channels} is too small to reduce to "
                             f"in_channels // len(bins) for {len(bins)} bins")
        rng = get_rng(rng)   # one generator for all levels (an int seed would repeat weights)
        ### BEGIN SOLUTION A3
        levels = [
            ResizeToInput(Sequential(pools[pooling](b),
                                     Conv2d(in_channels, branch_channels, 1, bias=False, rng=rng),
                                     BatchNorm2d(branch_channels),
                                     ReLU()),
                          align_corners=align_corners)
            for b in bins
        ]
        ### END SOLUTION A3
        super().__init__(Identity(), *levels)
        self.in_channels, self.bins, self.pooling = in_channels, bins, pooling
        self.reduction, self.align_corners = bool(reduction), bool(align_corners)
        self.branch_channels = branch_channels
        self.out_channels = in_channels + len(bins) * branch_channels

    def forward(self, x):
        self._check_input(x, self.in_channels)
        if self.training and x.shape[0] == 1:
            ones = [b for b, level in zip(self.bins, self[1:]) if level.module[0].output_size == (1, 1)]
            if ones:
                reject_single_image_batch("PyramidPooling.forward", f"bin {ones[0]}", x)
        return super().forward(x)

    def extra_repr(self):
        return (f"in_channels={self.in_channels}, bins={self.bins}, pooling='{self.pooling}', "
                f"reduction={self.reduction}, out_channels={self.out_channels}")
