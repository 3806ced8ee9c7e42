"""The lecture's two fixed unpoolings: nearest neighbour and "bed of nails".

Nearest copies each value into an ``s×s`` block, so its backward *sums* each block;
bed of nails puts each value at the top-left of its block (zeros elsewhere), so its
backward *picks* every ``s``-th gradient. Each backward is the other's forward pattern
read in reverse (pooling-like gathering). Lesson: ``lessons/05-unpooling-and-interpolation.md``.
"""

from __future__ import annotations

from typing import NamedTuple

from .._checks import check_array, check_cache, check_shape, pair
from ..backend import get_array_module

__all__ = [
    "unpool_nearest_forward",
    "unpool_nearest_backward",
    "unpool_bed_of_nails_forward",
    "unpool_bed_of_nails_backward",
]


class _UnpoolCache(NamedTuple):
    kind: str
    scale: tuple
    x_shape: tuple


def _start(fn, x, scale_factor, kind):
    check_array(fn, "x", x, 4, "(N, C, H, W)")
    scale = pair(fn, "scale_factor", scale_factor, minimum=1)
    return scale, _UnpoolCache(kind, scale, x.shape)


def _check_dy(fn, dy, cache, kind):
    check_cache(fn, cache, kind)
    n, c, h, w = cache.x_shape
    check_array(fn, "dy", dy, 4, "(N, C, H*s, W*s)")
    check_shape(fn, "dy", dy, (n, c, h * cache.scale[0], w * cache.scale[1]))


def unpool_nearest_forward(x, scale_factor):
    """Nearest-neighbour unpooling: ``y[n, c, h, w] = x[n, c, h // s_h, w // s_w]``.

    x: (N, C, H, W); scale_factor: positive int or pair. Returns ``(y, cache)``,
    y: (N, C, H·s_h, W·s_w).
    """
    scale, cache = _start("unpool_nearest_forward", x, scale_factor, "unpool_nearest")
    xp = get_array_module(x)
    n, c, h, w = x.shape
    blocks = xp.broadcast_to(x[:, :, :, None, :, None], (n, c, h, scale[0], w, scale[1]))
    return blocks.reshape(n, c, h * scale[0], w * scale[1]), cache


def unpool_nearest_backward(dy, cache):
    """Gradient of nearest unpooling: the sum of each ``s×s`` block of dy.

    dy: (N, C, H·s_h, W·s_w); returns dx: (N, C, H, W).
    """
    _check_dy("unpool_nearest_backward", dy, cache, "unpool_nearest")
    n, c, h, w = cache.x_shape
    return dy.reshape(n, c, h, cache.scale[0], w, cache.scale[1]).sum(axis=(3, 5))


def unpool_bed_of_nails_forward(x, scale_factor):
    """Bed-of-nails unpooling: ``y[n, c, h·s_h, w·s_w] = x[n, c, h, w]``, zeros elsewhere.

    x: (N, C, H, W); scale_factor: positive int or pair. Returns ``(y, cache)``,
    y: (N, C, H·s_h, W·s_w).
    """
    scale, cache = _start("unpool_bed_of_nails_forward", x, scale_factor, "unpool_bed_of_nails")
    xp = get_array_module(x)
    n, c, h, w = x.shape
    y = xp.zeros((n, c, h * scale[0], w * scale[1]), dtype=x.dtype)
    y[:, :, ::scale[0], ::scale[1]] = x
    return y, cache


def unpool_bed_of_nails_backward(dy, cache):
    """Gradient of bed-of-nails unpooling: every ``s``-th entry of dy (the nails).

    dy: (N, C, H·s_h, W·s_w); returns dx: (N, C, H, W).
    """
    _check_dy("unpool_bed_of_nails_backward", dy, cache, "unpool_bed_of_nails")
    return dy[:, :, ::cache.scale[0], ::cache.scale[1]].copy()
