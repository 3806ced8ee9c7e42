"""Built-in synthetic data sets, augmentation and palettes: ``from minisegnet import data``.

- ``make_context(n, split, seed, size)``: boats on water and cars on road that look alike
  (lesson 07: context decides the class);
- ``make_shapes(n, split, seed, size)``: balls, boxes and signs on sky, grass, road and
  water, with instances (lessons 01 and 10: semantic and panoptic segmentation);
- ``load_dataset(name, ...)``: either by name;
- ``SegmentationDataset``: the arrays (``images`` uint8, ``labels``, ``panoptic``) and
  ``batches(...)`` of normalised float32 inputs;
- ``Augment``: PSPNet's mirror / scale / rotation / blur on image and labels together.

Example::

    from minisegnet import data
    train = data.make_context(512, "train", seed=0)
    rng = np.random.default_rng(0)
    for x, y in train.batches(8, rng, shuffle=True, augment=data.DEMO_AUGMENT):
        ...   # x: (8, 3, 64, 64) float32, y: (8, 64, 64) int64
"""

from .augment import DEMO_AUGMENT, PSPNET_AUGMENT, Augment
from .dataset import IGNORE_INDEX, MEAN, STD, SegmentationDataset, denormalize, normalize
from .palette import colorize
from .synthetic import (
    CONTEXT_CLASSES,
    DATASETS,
    SHAPES_CLASSES,
    SPLITS,
    load_dataset,
    make_context,
    make_shapes,
)

__all__ = [
    "SegmentationDataset",
    "normalize",
    "denormalize",
    "MEAN",
    "STD",
    "IGNORE_INDEX",
    "Augment",
    "PSPNET_AUGMENT",
    "DEMO_AUGMENT",
    "colorize",
    "make_context",
    "make_shapes",
    "load_dataset",
    "DATASETS",
    "SPLITS",
    "CONTEXT_CLASSES",
    "SHAPES_CLASSES",
]
