"""Procedural stuff textures (sky, grass, road, water) and small drawing helpers.

Everything is drawn with NumPy from a ``numpy.random.Generator``, so a seed gives the same
pixels on every machine. Images are float arrays in ``[0, 1]`` of shape ``(H, W, 3)`` while
they are being composed; the data sets convert them to ``uint8`` at the end.

Each texture has a recognisable *local* signature, so that a small network can tell the
stuff classes apart from a patch of a few pixels: sky is a smooth light-blue gradient with
soft white clouds, grass green with fine vertical blades, road dark grey with speckle and
a dashed lane marking, water blue with horizontal wave streaks.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["smooth_noise", "sky", "grass", "road", "water", "TEXTURES", "superellipse_mask",
           "polygon_mask"]


def smooth_noise(rng, shape, cells, amplitude=1.0):
    """Zero-mean random field that varies over about ``shape / cells`` pixels.

    Random values on a coarse ``(cells + 1)²`` grid, bilinearly interpolated to ``shape``.
    Returns a float64 ``(H, W)`` array with values in about ``[-amplitude, amplitude]``.
    """
    h, w = shape
    coarse = rng.uniform(-1.0, 1.0, size=(cells + 1, cells + 1))
    ys = np.linspace(0, cells, h)
    xs = np.linspace(0, cells, w)
    grid = np.meshgrid(ys, xs, indexing="ij")
    return amplitude * ndimage.map_coordinates(coarse, grid, order=1, mode="nearest")


def _rgb(base, shape):
    return np.broadcast_to(np.asarray(base, dtype=np.float64), (*shape, 3)).copy()


def sky(rng, shape):
    """Light blue, brighter towards the bottom (the horizon), with soft white clouds."""
    h, w = shape
    top = np.array([0.35, 0.55, 0.90]) + rng.uniform(-0.05, 0.05, 3)
    bottom = np.array([0.70, 0.82, 0.97]) + rng.uniform(-0.04, 0.04, 3)
    t = np.linspace(0.0, 1.0, h)[:, None, None]
    image = (1 - t) * top + t * bottom
    image = np.broadcast_to(image, (h, w, 3)).copy()
    clouds = np.clip(smooth_noise(rng, shape, max(2, w // 16)) * 1.6 - 0.3, 0.0, 1.0)
    image += clouds[..., None] * (np.array([0.97, 0.97, 0.98]) - image)
    return image


def grass(rng, shape):
    """Green with patchy shade and fine vertical blades."""
    h, w = shape
    image = _rgb(np.array([0.25, 0.55, 0.18]) + rng.uniform(-0.05, 0.05, 3), shape)
    image *= (1.0 + smooth_noise(rng, shape, max(2, w // 12), 0.15))[..., None]
    blades = rng.uniform(-1.0, 1.0, size=(h, w))
    blades = ndimage.uniform_filter1d(blades, size=4, axis=0)   # streaks along y
    image[..., 1] += 0.12 * blades
    image[..., 0] += 0.04 * blades
    return image


def road(rng, shape):
    """Dark grey asphalt with speckle and a dashed lane marking (white or yellow)."""
    h, w = shape
    image = _rgb(np.full(3, 0.33 + rng.uniform(-0.04, 0.04)), shape)
    image += (0.07 * rng.standard_normal((h, w)))[..., None]
    image *= (1.0 + smooth_noise(rng, shape, max(2, w // 16), 0.08))[..., None]
    colour = np.array([0.92, 0.92, 0.88]) if rng.random() < 0.6 else np.array([0.90, 0.78, 0.20])
    horizontal = rng.random() < 0.5
    span, length = (h, w) if horizontal else (w, h)
    centre = rng.integers(span // 5, span - span // 5)
    thick = max(1, span // 32)
    dash, gap = max(3, length // 8), max(2, length // 12)
    phase = rng.integers(0, dash + gap)
    on = ((np.arange(length) + phase) % (dash + gap)) < dash
    band = slice(max(0, centre - thick), centre + thick)
    if horizontal:
        image[band, on] = colour
    else:
        image[:, band][on] = colour
    return image


def water(rng, shape):
    """Blue with horizontal wave streaks (sinusoids along x, short in y)."""
    h, w = shape
    image = _rgb(np.array([0.10, 0.30, 0.60]) + rng.uniform(-0.04, 0.04, 3), shape)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    waves = np.zeros((h, w), np.float32)
    for _ in range(3):
        ky = rng.uniform(0.6, 1.2)
        kx = rng.uniform(0.05, 0.2)
        phase = np.float32(rng.uniform(0, 2 * np.pi)) + 1.5 * smooth_noise(rng, shape, 3).astype(np.float32)
        waves += np.sin(np.float32(ky) * yy + np.float32(kx) * xx + phase)
    waves /= 3.0
    image += np.array([0.10, 0.14, 0.16]) * waves[..., None]
    image += (0.03 * rng.standard_normal((h, w)))[..., None]
    return image


TEXTURES = {"sky": sky, "grass": grass, "road": road, "water": water}


def superellipse_mask(shape, centre, radii, power=2.0, angle=0.0):
    """Boolean mask of ``|x/a|^p + |y/b|^p <= 1`` (p=2 an ellipse, large p a rounded
    rectangle), centred at ``centre = (cy, cx)`` with radii ``(b, a)``, rotated by ``angle``
    radians."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    dy, dx = yy + 0.5 - centre[0], xx + 0.5 - centre[1]
    c, s = np.cos(angle), np.sin(angle)
    u, v = c * dx + s * dy, -s * dx + c * dy
    return (np.abs(u / radii[1]) ** power + np.abs(v / radii[0]) ** power) <= 1.0


def polygon_mask(shape, vertices):
    """Boolean mask of a convex polygon given as ``[(y, x), ...]`` in counter-clockwise or
    clockwise order (pixel centres inside every edge's half-plane)."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    v = np.asarray(vertices, dtype=np.float64)
    signs = []
    for i in range(len(v)):
        (y0, x0), (y1, x1) = v[i], v[(i + 1) % len(v)]
        signs.append((x1 - x0) * (yy - y0) - (y1 - y0) * (xx - x0))
    signs = np.stack(signs)
    return np.all(signs >= 0, axis=0) | np.all(signs <= 0, axis=0)
