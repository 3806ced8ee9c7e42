"""PSPNet's data augmentation, applied to an image and its label map together.

Zhao et al. (Sec. 4.1): random mirror, random resize between 0.5 and 2, random rotation
between -10 and 10 degrees, random Gaussian blur. Mirror, resize and rotation are one affine
map of the pixel grid, so they are applied in one resampling step, whose source coordinates
are computed once and shared by the image and its maps:

- the image bilinearly (``order=1``), padded with mid grey (127, which ``normalize`` maps
  to about 0, as PSPNet pads with the data set mean);
- the labels (and panoptic maps) by **nearest** neighbour (``order=0``): interpolating class
  ids would invent classes (between 1 and 3 lies 2), padded with ``ignore_index`` (255), so
  the loss does not learn that the border is a class.

The output keeps the input size: scaled up, the result is a random crop of the enlarged
image; scaled down, the smaller image lands at a random place on a padded canvas. The blur
touches the image only.

Caution on ``context``: enlarging by 2 crops a 64-pixel image to its middle 32 pixels, which
may be all vehicle and no water or road, so the crop no longer shows what decides the
class. The demo therefore uses a narrower scale range there (``DEMO_AUGMENT``).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["Augment", "PSPNET_AUGMENT", "DEMO_AUGMENT"]


class Augment:
    """Callable ``augment(image, label, rng, panoptic=None)`` → ``(image, label)`` (or
    ``(image, label, panoptic)`` when a panoptic map is given).

    image: ``(H, W, 3)`` ``uint8``; label: ``(H, W)`` integers; panoptic: ``(H, W, 2)``;
    rng: a ``numpy.random.Generator`` (all randomness comes from it).

    Parameters: ``mirror`` (flip left-right with probability 1/2), ``scale`` (``(lo, hi)``,
    drawn log-uniformly so that 0.5 and 2 are equally likely), ``rotation`` (degrees,
    uniform in ``±rotation``), ``blur`` (probability of a Gaussian blur with sigma uniform
    in ``blur_sigma`` pixels), ``ignore_index`` (label padding), ``fill`` (image padding),
    ``image_order`` (1 bilinear; 0 nearest, for exact alignment tests).
    """

    def __init__(self, mirror=True, scale=(0.5, 2.0), rotation=10.0, blur=0.5,
                 blur_sigma=(0.2, 1.0), ignore_index=255, fill=127, image_order=1):
        lo, hi = scale
        if not 0 < lo <= hi:
            raise ValueError(f"Augment: scale must be (lo, hi) with 0 < lo <= hi, got {scale!r}")
        if rotation < 0 or not 0 <= blur <= 1:
            raise ValueError(f"Augment: rotation must be >= 0 and blur a probability, got "
                             f"rotation={rotation!r}, blur={blur!r}")
        self.mirror, self.scale, self.rotation = bool(mirror), (float(lo), float(hi)), float(rotation)
        self.blur, self.blur_sigma = float(blur), tuple(blur_sigma)
        self.ignore_index, self.fill, self.image_order = ignore_index, fill, image_order

    def sample(self, rng, shape):
        """Draw one transform: ``(matrix 2×2, offset 2, blur sigma or 0)`` mapping output
        pixel coordinates ``o`` (row, col) to input coordinates ``matrix @ o + offset``."""
        h, w = shape
        flip = self.mirror and rng.random() < 0.5
        lo, hi = self.scale
        s = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        theta = np.deg2rad(rng.uniform(-self.rotation, self.rotation))
        shift = np.array([rng.uniform(-1, 1) * abs(s - 1) * h / 2,
                          rng.uniform(-1, 1) * abs(s - 1) * w / 2])
        sigma = rng.uniform(*self.blur_sigma) if rng.random() < self.blur else 0.0
        c, si = np.cos(theta), np.sin(theta)
        inverse = np.array([[c, si], [-si, c]]) / s    # undo rotation and scale
        if flip:
            inverse = inverse @ np.diag([1.0, -1.0])     # mirror first (in output space)
        centre = np.array([(h - 1) / 2, (w - 1) / 2])
        offset = centre - inverse @ (centre + shift)
        return inverse, offset, sigma

    def __call__(self, image, label, rng, panoptic=None):
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"Augment: image must be (H, W, 3), got shape {image.shape}")
        if label.shape != image.shape[:2]:
            raise ValueError(f"Augment: label must be {image.shape[:2]}, got {label.shape}")
        if rng is None:
            raise ValueError("Augment: rng (a numpy Generator) is required")
        matrix, offset, sigma = self.sample(rng, image.shape[:2])
        grid = _source_grid(image.shape[:2], matrix, offset)   # shared by image and labels
        if self.image_order == 0:
            out = _sample_nearest(image, grid, self.fill).astype(np.float32)
        else:
            out = _sample_bilinear(image.astype(np.float32), grid, self.fill)
        if sigma > 0:
            for axis in (0, 1):
                out = ndimage.gaussian_filter1d(out, sigma, axis=axis, mode="nearest")
        if image.dtype == np.uint8:
            out = np.clip(np.round(out), 0, 255).astype(np.uint8)
        else:
            out = out.astype(image.dtype)
        new_label = _sample_nearest(label, grid, self.ignore_index)
        if panoptic is None:
            return out, new_label
        new_panoptic = np.stack([_sample_nearest(panoptic[..., 0], grid, self.ignore_index),
                                 _sample_nearest(panoptic[..., 1], grid, 0)], axis=-1)
        return out, new_label, new_panoptic.astype(panoptic.dtype)

    def __repr__(self):
        return (f"Augment(mirror={self.mirror}, scale={self.scale}, rotation={self.rotation}, "
                f"blur={self.blur}, blur_sigma={self.blur_sigma})")


def _source_grid(shape, matrix, offset):
    """Input coordinates ``(row, col)`` of every output pixel, two ``(H, W)`` float arrays."""
    h, w = shape
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    src_r = matrix[0, 0] * rows + matrix[0, 1] * cols + offset[0]
    src_c = matrix[1, 0] * rows + matrix[1, 1] * cols + offset[1]
    return src_r, src_c


def _sample_nearest(a, grid, fill):
    """``a`` at the nearest input pixel of each output pixel; ``fill`` outside the input
    (``scipy.ndimage.map_coordinates`` with ``order=0``, ``mode="constant"``)."""
    h, w = a.shape[:2]
    r = np.floor(grid[0] + 0.5).astype(np.int64)     # inside iff -0.5 <= coordinate < h - 0.5
    c = np.floor(grid[1] + 0.5).astype(np.int64)
    inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
    out = a[np.clip(r, 0, h - 1), np.clip(c, 0, w - 1)]
    out[~inside] = fill
    return out


def _sample_bilinear(a, grid, fill):
    """Bilinear interpolation of ``a`` ``(H, W, C)`` at the grid; neighbours outside the
    input count as ``fill``. The input is framed with one pixel of ``fill``, and source
    positions beyond the frame are clamped onto it, so the four gathers need no masks."""
    h, w, ch = a.shape
    framed = np.full((h + 2, w + 2, ch), fill, np.float32)
    framed[1:-1, 1:-1] = a
    r = np.clip(grid[0], -1.0, h) + 1.0            # coordinates in the framed image
    c = np.clip(grid[1], -1.0, w) + 1.0
    r0 = np.minimum(r.astype(np.int64), h)         # floor (r >= 0), leaving room for r0 + 1
    c0 = np.minimum(c.astype(np.int64), w)
    fr = (r - r0).astype(np.float32)[..., None]
    fc = (c - c0).astype(np.float32)[..., None]
    flat = framed.reshape(-1, ch)
    i00 = r0 * (w + 2) + c0
    top = flat[i00] * (1 - fc) + flat[i00 + 1] * fc
    bottom = flat[i00 + w + 2] * (1 - fc) + flat[i00 + w + 3] * fc
    out = top * (1 - fr) + bottom * fr
    # where the labels' nearest neighbour is outside the input (they become ignore), the
    # image is padding too: the two agree on where the picture ends
    outside = (grid[0] < -0.5) | (grid[0] >= h - 0.5) | (grid[1] < -0.5) | (grid[1] >= w - 0.5)
    out[outside] = fill
    return out


PSPNET_AUGMENT = Augment()   # the paper's settings
DEMO_AUGMENT = Augment(scale=(0.75, 1.25), rotation=10.0, blur=0.3)   # keeps the context in view
