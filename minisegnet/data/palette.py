"""Colouring label maps for figures."""

from __future__ import annotations

import numpy as np

__all__ = ["colorize", "IGNORE_COLOUR"]

IGNORE_COLOUR = np.array([255, 255, 255], np.uint8)   # ignore_index pixels: white


def colorize(labels, palette, ignore_index=255):
    """Label map(s) ``(..., H, W)`` of class ids → RGB ``(..., H, W, 3)`` ``uint8``.

    ``palette``: ``(K, 3)`` ``uint8``; pixels equal to ``ignore_index`` (or any id without a
    colour) are white.
    """
    labels = np.asarray(labels)
    palette = np.asarray(palette, np.uint8)
    table = np.tile(IGNORE_COLOUR, (256, 1))
    table[:len(palette)] = palette
    if labels.dtype.kind not in "iu":
        raise TypeError(f"colorize: labels must be integers, got dtype {labels.dtype}")
    safe = np.where((labels >= 0) & (labels < 256), labels, ignore_index).astype(np.int64)
    out = table[safe]
    out[labels == ignore_index] = IGNORE_COLOUR
    return out
