"""Dense-CRF refinement of a network's softmax outputs over a batch of images."""

from __future__ import annotations

import numpy as np

from ..backend import to_numpy
from .meanfield import mean_field_forward
from .unary import unary_from_probabilities

__all__ = ["crf_refine"]


def crf_refine(probabilities, images, progress=False, **params):
    """Dense-CRF refinement of softmax outputs, image by image.

    probabilities: ``(N, K, H, W)``; images: ``(N, H, W, 3)`` ``uint8`` (the same images).
    ``params``: ``mean_field_forward``'s keyword arguments (``n_iter``, ``sxy_gaussian``, ...;
    pydensecrf's values by default). Unary energies are ``-log p``
    (``unary_from_probabilities``). Returns the marginals ``Q`` ``(N, K, H, W)`` float32.
    Lesson: ``lessons/09-dense-crf.md``.
    """
    probabilities = np.asarray(probabilities)
    images = np.asarray(images)
    if probabilities.ndim != 4 or images.shape != (probabilities.shape[0], *probabilities.shape[2:], 3):
        raise ValueError(f"crf_refine: probabilities (N, K, H, W) and images (N, H, W, 3) must "
                         f"agree, got {probabilities.shape} and {images.shape}")
    out = np.empty(probabilities.shape, np.float32)
    iterator = range(len(images))
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc="dense CRF", unit="img", leave=False)
    for i in iterator:
        unary = unary_from_probabilities(probabilities[i].astype(np.float32))
        q, _ = mean_field_forward(unary, np.ascontiguousarray(images[i]), save_history=False,
                                  **params)
        out[i] = to_numpy(q)
    return out
