"""``SegmentationDataset``: images, label maps and panoptic maps held in memory, and batches.

A data set here is three arrays of one length ``N`` plus its class table:

- ``images``   ``(N, H, W, 3)`` ``uint8``: what a camera would give (and what the dense CRF's
  bilateral kernel reads);
- ``labels``   ``(N, H, W)`` ``uint8``: the class of every pixel, ``ignore_index`` (255) where
  there is none;
- ``panoptic`` ``(N, H, W, 2)`` ``int32``: ``(category, instance)`` per pixel, torchmetrics'
  ``PanopticQuality`` layout; instance ids are ``1, 2, ...`` for things and ``0`` for stuff.

``batches`` turns them into what a network eats: ``float32`` ``(B, 3, H, W)`` images scaled by
``normalize`` and ``int64`` ``(B, H, W)`` labels, optionally augmented, on the CPU or the GPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..backend import to_device

__all__ = ["SegmentationDataset", "normalize", "denormalize", "MEAN", "STD", "IGNORE_INDEX"]

IGNORE_INDEX = 255
MEAN = 0.5   # images are scaled to (x / 255 - MEAN) / STD: about zero mean, unit spread
STD = 0.25


def normalize(images, dtype=np.float32):
    """``uint8`` images ``(N, H, W, 3)`` (or one ``(H, W, 3)``) → ``(N, 3, H, W)`` floats,
    ``(x / 255 - MEAN) / STD``. The grey 127.5 maps to 0 (augmentation pads with it)."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"normalize: images must be (N, H, W, 3) or (H, W, 3), got shape "
                         f"{images.shape}")
    x = images.astype(dtype).transpose(0, 3, 1, 2) / dtype(255.0)
    return np.ascontiguousarray((x - dtype(MEAN)) / dtype(STD))


def denormalize(x):
    """Inverse of ``normalize``: ``(N, 3, H, W)`` floats → ``(N, H, W, 3)`` ``uint8``."""
    x = np.asarray(x, dtype=np.float64).transpose(0, 2, 3, 1)
    return np.clip(np.round((x * STD + MEAN) * 255.0), 0, 255).astype(np.uint8)


@dataclass
class SegmentationDataset:
    """An in-memory segmentation data set (see the module docstring for the arrays).

    ``class_names[c]`` names class ``c``; ``things`` and ``stuff`` split the class ids for
    panoptic quality; ``palette`` ``(K, 3)`` ``uint8`` colours the label maps in figures.
    ``dataset[i]`` is a dict with ``image``, ``label`` and ``panoptic`` of sample ``i``.
    """

    name: str
    split: str
    images: np.ndarray
    labels: np.ndarray
    panoptic: np.ndarray
    class_names: tuple
    things: tuple
    stuff: tuple
    palette: np.ndarray
    seed: int = 0
    ignore_index: int = IGNORE_INDEX
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        n = len(self.images)
        if self.images.ndim != 4 or self.images.shape[-1] != 3 or self.images.dtype != np.uint8:
            raise ValueError(f"SegmentationDataset: images must be (N, H, W, 3) uint8, got "
                             f"{self.images.shape} {self.images.dtype}")
        if self.labels.shape != self.images.shape[:3]:
            raise ValueError(f"SegmentationDataset: labels must be {self.images.shape[:3]}, got "
                             f"{self.labels.shape}")
        if self.panoptic.shape != (*self.images.shape[:3], 2):
            raise ValueError(f"SegmentationDataset: panoptic must be {(*self.images.shape[:3], 2)}, "
                             f"got {self.panoptic.shape}")
        if len(self.class_names) != len(self.palette) or n == 0:
            raise ValueError("SegmentationDataset: one palette colour per class and at least one "
                             "sample are required")

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        return {"image": self.images[index], "label": self.labels[index],
                "panoptic": self.panoptic[index]}

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_size(self) -> tuple:
        return tuple(self.images.shape[1:3])

    def subset(self, indices):
        """A new data set of the samples ``indices`` (arrays copied)."""
        idx = np.asarray(indices)
        return SegmentationDataset(self.name, self.split, self.images[idx].copy(),
                                   self.labels[idx].copy(), self.panoptic[idx].copy(),
                                   self.class_names, self.things, self.stuff, self.palette,
                                   self.seed, self.ignore_index, dict(self.info))

    def class_frequencies(self) -> np.ndarray:
        """Share of labelled pixels per class, ``(K,)``."""
        counts = np.bincount(self.labels[self.labels != self.ignore_index].ravel(),
                             minlength=self.num_classes).astype(np.float64)
        return counts / max(1.0, counts.sum())

    def batch(self, indices, augment=None, rng=None, device="cpu", dtype=np.float32):
        """Samples ``indices`` as ``(x, y)``: ``x`` ``(B, 3, H, W)`` normalised floats, ``y``
        ``(B, H, W)`` ``int64`` labels; each sample through ``augment(image, label, rng)``
        when given (the same random draw moves image and labels together)."""
        images, labels = [], []
        for i in np.asarray(indices).ravel():
            image, label = self.images[i], self.labels[i]
            if augment is not None:
                image, label = augment(image, label, rng)
            images.append(image)
            labels.append(label)
        x = normalize(np.stack(images), dtype=dtype)
        y = np.stack(labels).astype(np.int64)
        return to_device(x, device), to_device(y, device)

    def batches(self, batch_size, rng=None, shuffle=False, augment=None, drop_last=False,
                device="cpu", dtype=np.float32):
        """One pass over the data set in batches of ``batch_size`` (see ``batch``).

        ``shuffle=True`` draws the order from ``rng`` (a ``numpy.random.Generator``, also
        used by ``augment``); the last short batch is kept unless ``drop_last``.
        """
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batches: batch_size must be a positive int, got {batch_size!r}")
        if (shuffle or augment is not None) and rng is None:
            raise ValueError("batches: shuffling or augmenting needs rng (a numpy Generator) "
                             "so that a seed gives the same batches")
        order = rng.permutation(len(self)) if shuffle else np.arange(len(self))
        stop = len(self) - (len(self) % batch_size if drop_last else 0)
        for start in range(0, stop, batch_size):
            yield self.batch(order[start:start + batch_size], augment, rng, device, dtype)

    def __repr__(self):
        n, h, w, _ = self.images.shape
        return (f"SegmentationDataset(name={self.name!r}, split={self.split!r}, n={n}, "
                f"size={h}x{w}, classes={list(self.class_names)}, seed={self.seed})")
