"""minisegnet: semantic segmentation built from scratch, forward and backward, NumPy or CuPy.

``from minisegnet import functional as F`` gives the stateless ops, ``minisegnet.nn`` the
layers, ``minisegnet.metrics`` the confusion matrix, IoU family and panoptic quality;
``minisegnet.backend`` the array-module dispatch; ``minisegnet.gradcheck`` the
finite-difference helpers.
"""

from . import backend, functional, metrics, nn

__version__ = "0.1.0"

__all__ = ["backend", "functional", "metrics", "nn", "__version__"]
