"""Shared helpers of the CRF tests: inputs, the loop reference, central differences."""

from __future__ import annotations

import numpy as np

from . import reference_crf as R  # noqa: F401

try:  # `python -m pytest` from the repository root
    from tests.reference import num_grad_array
except ImportError:  # plain `pytest`: tests/ itself is on sys.path
    from reference import num_grad_array  # noqa: F401

PHOTOS = ("chelsea", "coffee", "astronaut")


def softmax_neg(unary):
    """softmax(-U) over axis 0, float64, written here."""
    z = -np.asarray(unary, dtype=np.float64)
    z = z - z.max(axis=0, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=0, keepdims=True)


def random_case(rng, h, w, n_labels, dtype=np.float64, spread=2.0):
    """A random uint8 image and unary energies of matching size."""
    image = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    unary = (spread * rng.random((n_labels, h, w))).astype(dtype)
    return unary, image


def photo(name):
    """A bundled scikit-image photograph, (H, W, 3) uint8 (skips without scikit-image)."""
    import pytest

    data = pytest.importorskip("skimage.data")
    return np.ascontiguousarray(np.asarray(getattr(data, name)())[..., :3])


def noisy_unary(image, n_labels, rng, noise=1.5):
    """Labels by brightness band, one-hot logits plus Gaussian noise, as energies (L, H, W)."""
    h, w = image.shape[:2]
    band = (image.astype(np.float64).sum(-1) // (3 * 256 / n_labels)).astype(int).clip(0, n_labels - 1)
    logits = (np.arange(n_labels)[:, None, None] == band[None]).astype(np.float64)
    logits = logits + noise * rng.standard_normal((n_labels, h, w))
    z = logits - logits.max(0)
    p = np.exp(z) / np.exp(z).sum(0)
    return -np.log(p)


def crops(seed=0, per_photo=3, size=(40, 50)):
    """Deterministic crops ``(name, image)`` of the three photographs."""
    rng = np.random.default_rng(seed)
    out = []
    for name in PHOTOS:
        full = photo(name)
        for _ in range(per_photo):
            y = int(rng.integers(0, full.shape[0] - size[0]))
            x = int(rng.integers(0, full.shape[1] - size[1]))
            out.append((f"{name}[{y}:{y + size[0]}, {x}:{x + size[1]}]",
                        np.ascontiguousarray(full[y:y + size[0], x:x + size[1]])))
    return out
