"""Built-in synthetic data sets: ``shapes`` and ``context``. Nothing is downloaded.

Every sample is drawn from its own generator ``default_rng([seed, split, index])``, so

- the same ``(seed, split, index)`` gives the same pixels on every run and machine, and
  sample ``i`` does not depend on how many samples were asked for;
- the splits (``train``, ``val``, ``test``) never share a sample.

``shapes`` (lessons 01, 10): several thing categories (``ball``, ``box``, ``sign``), several
instances each, on stuff backgrounds (``sky``, ``grass``, ``road``, ``water``), with pixel
noise, occlusion (later instances cover earlier ones) and a range of scales. Its panoptic
maps make it the data set for panoptic quality.

``context`` (lesson 07): PSPNet's *mismatched relationship* made concrete. Every object is
the same kind of vehicle, drawn from one distribution of shapes, colours and markings; it
is a ``boat`` when it sits on ``water`` and a ``car`` when it sits on ``road``. Local
appearance cannot tell the two apart: only the surroundings decide. The vehicles come in
crowds (a packed marina, a traffic jam) that fill most of the picture and may run off its
edges, with a strip of water or road in view above and sometimes beside them. From deep
inside a crowd nothing but vehicle paint is in view: at the default 160 pixels about a
quarter of the vehicle pixels lie more than 31 pixels from any water or road, beyond the
reach of MiniPSPNet's FCN baseline (receptive field 47 pixels, plus the final ×8 bilinear
upsampling). There that network can only guess; the pyramid pooling module's global
levels see the whole scene and decide. A sky band at the top (in most images) adds a third
stuff class that says nothing about the vehicles.

How the design was reached (lesson 07 tells it): with single vehicles of 30–50 pixels on
64-pixel images, a dilated FCN baseline whose receptive field spans the image (123 pixels)
labelled them as well as PSPNet did; shrinking the receptive field to 47 pixels and making
vehicles larger still left too few pixels out of its reach (a 1-point gap after longer
training). Crowds that fill the frame put enough pixels out of reach for a clear gap.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .dataset import SegmentationDataset
from .textures import TEXTURES, polygon_mask, smooth_noise, superellipse_mask

__all__ = ["make_shapes", "make_context", "load_dataset", "DATASETS", "SPLITS",
           "SHAPES_CLASSES", "CONTEXT_CLASSES"]

SPLITS = {"train": 0, "val": 1, "test": 2}

SHAPES_CLASSES = ("sky", "grass", "road", "water", "ball", "box", "sign")
SHAPES_STUFF = (0, 1, 2, 3)
SHAPES_THINGS = (4, 5, 6)
SHAPES_PALETTE = np.array([[135, 190, 240], [60, 150, 50], [90, 90, 90], [30, 70, 170],
                           [220, 40, 40], [160, 100, 40], [240, 200, 30]], np.uint8)

CONTEXT_CLASSES = ("sky", "water", "road", "boat", "car")
CONTEXT_STUFF = (0, 1, 2)
CONTEXT_THINGS = (3, 4)
CONTEXT_PALETTE = np.array([[135, 190, 240], [30, 70, 170], [90, 90, 90], [240, 150, 20],
                            [200, 30, 60]], np.uint8)

# Vehicle paint: the same list for boats and cars (none of them blue or grey, so that the
# stuff never looks like paint and the CRF's colour kernel sees the outline).
_VEHICLE_COLOURS = np.array([[0.85, 0.15, 0.12], [0.95, 0.55, 0.10], [0.95, 0.85, 0.15],
                             [0.75, 0.20, 0.65], [0.20, 0.70, 0.25], [0.55, 0.30, 0.15]])


def _sample_rng(seed, split, index):
    return np.random.default_rng([int(seed), SPLITS[split], int(index)])


def _finish(rng, image, noise):
    """Brightness jitter, Gaussian pixel noise, rounding to ``uint8``."""
    image = image.astype(np.float32) * np.float32(255.0 * rng.uniform(0.9, 1.1))
    if noise > 0:
        image += rng.standard_normal(image.shape, dtype=np.float32) * np.float32(255.0 * noise)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- context


def _vehicle(rng, shape, centre, rx, ry, tilt):
    """Window, mask and paint of one vehicle centred at ``centre = (cy, cx)``.

    A rounded body (superellipse, half-axes ``ry × rx``) with a cabin on top, a darker
    stripe along the body and dark windows. Paint, cabin size and position and the tilt vary,
    drawn from the same distributions for boats and cars. Everything is computed in the
    vehicle's bounding box: returns ``(window, mask, paint)`` with ``window`` a pair of
    slices into the image (``None`` if the vehicle is entirely outside).
    """
    h, w = shape
    cy, cx = centre
    cab_rx, cab_ry = rx * rng.uniform(0.5, 0.65), ry * rng.uniform(0.55, 0.75)
    cab_dx = rng.uniform(-0.3, 0.3) * rx
    colour = _VEHICLE_COLOURS[rng.integers(len(_VEHICLE_COLOURS))] + rng.uniform(-0.06, 0.06, 3)
    stripe_dy, stripe_half = rng.uniform(-0.2, 0.2) * ry, rng.uniform(0.12, 0.22) * ry
    y0, y1 = int(np.floor(cy - 2.4 * ry - 0.1 * rx)) - 1, int(np.ceil(cy + ry + 0.1 * rx)) + 2
    x0, x1 = int(np.floor(cx - 1.05 * rx)) - 1, int(np.ceil(cx + 1.05 * rx)) + 2
    y0, y1, x0, x1 = max(y0, 0), min(y1, h), max(x0, 0), min(x1, w)
    if y0 >= y1 or x0 >= x1:
        return None
    local = (y1 - y0, x1 - x0)
    ly, lx = cy - y0, cx - x0                      # centre in window coordinates
    body = superellipse_mask(local, (ly, lx), (ry, rx), power=4.0, angle=tilt)
    cabin_centre = (ly - ry - 0.5 * cab_ry, lx + cab_dx)
    cabin = superellipse_mask(local, cabin_centre, (cab_ry * 1.1, cab_rx), power=3.0, angle=tilt)
    mask = body | cabin
    yy, xx = np.mgrid[0:local[0], 0:local[1]].astype(np.float64)
    paint = np.broadcast_to(colour, (*local, 3)).copy()
    paint *= (1.0 - 0.25 * np.clip((yy - ly) / ry, 0, 1))[..., None]   # darker below
    stripe = np.abs((yy - ly) - np.tan(tilt) * (xx - lx) - stripe_dy) < stripe_half
    paint[stripe & body] *= 0.55
    paint[cabin & ~body] = 0.5 * colour + 0.5 * np.array([0.95, 0.95, 0.92])
    pitch = max(4.0, cab_rx / 2)
    windows = cabin & ~body & (np.abs(yy - cabin_centre[0]) < 0.35 * cab_ry) \
        & (((xx - lx - cab_dx) % pitch) < pitch * 0.6)
    paint[windows] = [0.15, 0.17, 0.22]
    return (slice(y0, y1), slice(x0, x1)), mask, paint


# Vehicle height above / below its body centre, in units of the body half-height ry
# (the cabin reaches up to ry + 1.6·0.75·ry).
_TOP, _BOTTOM = 2.25, 1.0


def _crowd(rng, shape, ground_top):
    """Centres and half-axes of a crowd of vehicles: a packed marina, a traffic jam.

    ``rows × cols`` vehicles (1–3 rows, 1–4 columns) on a jittered grid whose neighbours
    overlap (side by side by 25–45% of a vehicle's width, row over row by 35–50% of its
    height), so the crowd is one solid block. Like a jam seen from the kerb it may run off
    the picture at the sides and the bottom, while a strip of water or road stays in view
    above it (8–30% of the ground's height) and, sometimes, beside it. Deep inside the
    crowd nothing but vehicles is in view.
    Returns ``[(cy, cx, rx, ry, tilt), ...]`` back to front (higher rows first).
    """
    h, w = shape
    ground_h = h - ground_top

    def edge():   # a margin of ground (> 0) or an overflow past the border (< 0)
        return rng.uniform(0.03, 0.15) if rng.random() < 0.5 else -rng.uniform(0.0, 0.2)

    left, right = edge() * w, edge() * w
    top = ground_top + rng.uniform(0.08, 0.3) * ground_h
    bottom = h - (rng.uniform(0.03, 0.1) * h if rng.random() < 0.5 else -rng.uniform(0.0, 0.2) * h)
    box_w, box_h = w - left - right, bottom - top
    rows = int(rng.integers(1, 4))
    cols = int(rng.integers(max(1, rows - 1), 5))
    step_x, step_y = rng.uniform(0.55, 0.75), rng.uniform(0.5, 0.65)   # pitch / vehicle size
    width = box_w / (1 + (cols - 1) * step_x)                 # one vehicle's full width
    height = box_h / (1 + (rows - 1) * step_y)                # ... and full height
    rx, ry = width / 2, height / (_TOP + _BOTTOM)
    ry = min(ry, 0.9 * rx)                                    # not taller than wide
    while ry < 0.3 * rx and cols < 6:                         # too flat: more, narrower columns
        cols += 1
        rx = box_w / (1 + (cols - 1) * step_x) / 2
    height = (_TOP + _BOTTOM) * ry
    rows = max(rows, int(np.ceil((box_h / height - 1) / step_y + 1 - 1e-9)))   # fill the box
    out = []
    for r in range(rows):
        for c in range(cols):
            jx, jy = rng.uniform(-0.05, 0.05) * rx, rng.uniform(-0.04, 0.04) * height
            cx = left + rx + c * step_x * 2 * rx + jx
            cy = top + _TOP * ry + r * step_y * height + jy
            scale = rng.uniform(0.92, 1.05)
            out.append((cy, cx, rx * scale, ry * scale, rng.uniform(-0.08, 0.08)))
    return out


def _context_sample(rng, size):
    h = w = size
    ground_name = "water" if rng.random() < 0.5 else "road"
    ground_class = CONTEXT_CLASSES.index(ground_name)
    thing_class = CONTEXT_CLASSES.index("boat" if ground_name == "water" else "car")
    horizon = 0 if rng.random() < 0.3 else int(round(rng.uniform(0.06, 0.16) * h))
    image = TEXTURES[ground_name](rng, (h, w))
    label = np.full((h, w), ground_class, np.uint8)
    if horizon:
        image[:horizon] = TEXTURES["sky"](rng, (horizon, w))
        label[:horizon] = CONTEXT_CLASSES.index("sky")
    panoptic = np.zeros((h, w, 2), np.int32)
    sky = CONTEXT_CLASSES.index("sky")
    instance = 0
    for cy, cx, rx, ry, tilt in _crowd(rng, (h, w), horizon):
        drawn = _vehicle(rng, (h, w), (cy, cx), rx, ry, tilt)
        if drawn is None:
            continue
        window, mask, paint = drawn
        mask &= label[window] != sky                       # the horizon is behind the crowd
        if not mask.any():
            continue
        instance += 1
        image[window][mask] = paint[mask]
        label[window][mask] = thing_class
        panoptic[window][mask, 1] = instance               # nearer vehicles cover farther ones
    panoptic[..., 0] = label
    return _finish(rng, image, rng.uniform(0.01, 0.04)), label, panoptic


# ---------------------------------------------------------------- shapes


def _thing_mask(rng, category, shape, centre, radius):
    if category == "ball":
        return superellipse_mask(shape, centre, (radius, radius), power=2.0)
    if category == "box":
        return superellipse_mask(shape, centre, (radius * 0.85, radius * 0.85), power=8.0,
                                 angle=rng.uniform(0, np.pi / 2))
    angle = rng.uniform(-0.3, 0.3)                 # sign: an (almost) upright triangle
    vertices = [(centre[0] + radius * np.sin(a - np.pi / 2),
                 centre[1] + radius * np.cos(a - np.pi / 2))
                for a in (angle, angle + 2 * np.pi / 3, angle + 4 * np.pi / 3)]
    vertices = [(centre[0] - (vy - centre[0]), vx) for vy, vx in vertices]
    return polygon_mask(shape, vertices)


_THING_COLOURS = {
    "ball": np.array([[0.90, 0.15, 0.12], [0.95, 0.50, 0.10], [0.85, 0.25, 0.60]]),
    "box": np.array([[0.60, 0.38, 0.18], [0.80, 0.62, 0.40], [0.95, 0.50, 0.10]]),
    "sign": np.array([[0.98, 0.85, 0.15], [0.95, 0.95, 0.95], [0.95, 0.50, 0.10]]),
}


def _paint_thing(rng, category, mask, centre, radius, image):
    colour = _THING_COLOURS[category][rng.integers(3)] + rng.uniform(-0.05, 0.05, 3)
    h, w = mask.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    distance = np.hypot(yy + 0.5 - centre[0], xx + 0.5 - centre[1]) / max(radius, 1.0)
    if category == "ball":                         # radial shading
        paint = colour * (1.15 - 0.45 * np.clip(distance, 0, 1))[..., None]
    elif category == "box":                        # flat, with a darker rim
        paint = np.broadcast_to(colour, (h, w, 3)).copy()
        rim = mask & ~ndimage.binary_erosion(mask, iterations=max(1, int(radius / 5)))
        paint[rim] *= 0.6
    else:                                          # sign: a dark core
        paint = np.broadcast_to(colour, (h, w, 3)).copy()
        paint[distance < 0.3] = [0.2, 0.2, 0.2]
    image[mask] = np.clip(paint[mask], 0, 1)


def _shapes_sample(rng, size):
    h = w = size
    scale = size / 64.0
    label = np.zeros((h, w), np.uint8)
    image = np.zeros((h, w, 3))
    horizon = int(round(rng.uniform(0.2, 0.45) * h)) if rng.random() < 0.75 else 0
    grounds = [n for n in ("grass", "road", "water")]
    rng.shuffle(grounds)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    if rng.random() < 0.5:
        regions = [(grounds[0], np.ones((h, w), bool))]
    else:                                          # two grounds split by a slanted wavy line
        x0 = rng.uniform(0.3, 0.7) * w
        slope = rng.uniform(-0.8, 0.8)
        wave = 2.0 * scale * smooth_noise(rng, (h, w), 3)
        left = xx < x0 + slope * (yy - h / 2) + wave
        regions = [(grounds[0], left), (grounds[1], ~left)]
    for name, region in regions:
        image[region] = TEXTURES[name](rng, (h, w))[region]
        label[region] = SHAPES_CLASSES.index(name)
    if horizon:
        image[:horizon] = TEXTURES["sky"](rng, (horizon, w))
        label[:horizon] = 0
    panoptic = np.zeros((h, w, 2), np.int32)
    instance = 0
    for _ in range(rng.integers(2, 7)):
        category = ("ball", "box", "sign")[rng.integers(3)]
        radius = rng.uniform(3.5, 11.0) * scale
        centre = (rng.uniform(radius, h - radius), rng.uniform(radius, w - radius))
        mask = _thing_mask(rng, category, (h, w), centre, radius)
        if mask.sum() < 4:
            continue
        instance += 1
        _paint_thing(rng, category, mask, centre, radius, image)
        label[mask] = SHAPES_CLASSES.index(category)
        panoptic[mask, 1] = instance               # occludes whatever was drawn before
    panoptic[..., 0] = label
    stuff = np.isin(label, SHAPES_STUFF)
    panoptic[stuff, 1] = 0
    return _finish(rng, image, rng.uniform(0.01, 0.05)), label, panoptic


# ---------------------------------------------------------------- public constructors


def _make(name, sampler, classes, stuff, things, palette, n, split, seed, size, start=0):
    if split not in SPLITS:
        raise ValueError(f"make_{name}: split must be one of {sorted(SPLITS)}, got {split!r}")
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"make_{name}: n must be a positive int, got {n!r}")
    if not isinstance(size, (int, np.integer)) or size < 32:
        raise ValueError(f"make_{name}: size must be an int >= 32, got {size!r}")
    if not isinstance(start, (int, np.integer)) or start < 0:
        raise ValueError(f"make_{name}: start must be an int >= 0, got {start!r}")
    images = np.empty((n, size, size, 3), np.uint8)
    labels = np.empty((n, size, size), np.uint8)
    panoptic = np.empty((n, size, size, 2), np.int32)
    for i in range(n):
        images[i], labels[i], panoptic[i] = sampler(_sample_rng(seed, split, start + i), size)
    return SegmentationDataset(name, split, images, labels, panoptic, tuple(classes),
                               tuple(things), tuple(stuff), palette.copy(), int(seed),
                               info={"start": int(start)})


def make_context(n=512, split="train", seed=0, size=160, start=0) -> SegmentationDataset:
    """The ``context`` data set: boats on water and cars on road that look the same.

    Classes ``sky, water, road, boat, car``; things ``boat, car``. ``n`` images of
    ``size × size`` pixels: samples ``start, ..., start + n - 1`` of the split, each
    deterministic in ``(seed, split, index)``. At 160 pixels (the demo's size) about a
    quarter of the vehicle pixels lie more than 31 pixels inside a crowd.
    """
    return _make("context", _context_sample, CONTEXT_CLASSES, CONTEXT_STUFF, CONTEXT_THINGS,
                 CONTEXT_PALETTE, n, split, seed, size, start)


def make_shapes(n=512, split="train", seed=0, size=64, start=0) -> SegmentationDataset:
    """The ``shapes`` data set: balls, boxes and signs on sky, grass, road and water.

    Classes ``sky, grass, road, water, ball, box, sign``; things ``ball, box, sign``.
    Samples ``start, ..., start + n - 1`` of the split.
    """
    return _make("shapes", _shapes_sample, SHAPES_CLASSES, SHAPES_STUFF, SHAPES_THINGS,
                 SHAPES_PALETTE, n, split, seed, size, start)


DATASETS = {"context": make_context, "shapes": make_shapes}


def load_dataset(name, split="train", n=512, seed=0, size=None, start=0) -> SegmentationDataset:
    """``make_<name>(n, split, seed, size, start)`` for a built-in data set name (``size``
    ``None``: the data set's default)."""
    if name not in DATASETS:
        raise ValueError(f"load_dataset: name must be one of {sorted(DATASETS)}, got {name!r}")
    extra = {} if size is None else {"size": size}
    return DATASETS[name](n=n, split=split, seed=seed, start=start, **extra)
