"""The dense CRF on real photographs: a coarse labelling refined to follow the image's edges.

``demo_refinement(name)`` takes one of scikit-image's bundled photographs (no download),
makes an edge-blind labelling of it (colour clusters voted into ``block × block`` squares:
what an upsampled low-resolution prediction looks like) and a soft, uncertain unary from
that, and runs the mean field; ``refinement_figure`` draws the before/after. scikit-image and
matplotlib are imported only when these are called. Lesson: ``lessons/09-dense-crf.md``.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_array, check_int, check_number
from .meanfield import mean_field_forward
from .unary import unary_from_probabilities

__all__ = ["load_photo", "colour_clusters", "blocky_labels", "demo_refinement", "refinement_figure"]

PHOTOS = ("chelsea", "coffee", "astronaut", "rocket", "cat")


def load_photo(name="chelsea"):
    """A bundled scikit-image photograph as (H, W, 3) uint8 (``skimage.data.<name>()``)."""
    if name not in PHOTOS:
        raise ValueError(f"load_photo: name must be one of {', '.join(map(repr, PHOTOS))}, got {name!r}")
    from skimage import data  # optional: the images extra

    image = np.asarray(getattr(data, name)())
    return np.ascontiguousarray(image[..., :3]).astype(np.uint8, copy=False)


def colour_clusters(image, n_labels=4, seed=0, iters=20, sample=20000):
    """k-means on the RGB colours: (H, W, 3) uint8 → (H, W) int64 labels in ``[0, n_labels)``.

    Lloyd's algorithm on a random sample of ``sample`` pixels (k-means++ start, ``seed``),
    then every pixel goes to its nearest centre; labels are ordered by the centres' brightness.
    """
    rng = np.random.default_rng(seed)
    pixels = image.reshape(-1, 3).astype(np.float64)
    pts = pixels[rng.choice(len(pixels), size=min(sample, len(pixels)), replace=False)]
    centres = [pts[rng.integers(len(pts))]]
    for _ in range(1, n_labels):  # k-means++: far points are likelier centres
        d2 = np.min([((pts - c) ** 2).sum(1) for c in centres], axis=0)
        centres.append(pts[rng.choice(len(pts), p=d2 / d2.sum())] if d2.sum() > 0 else pts[0])
    centres = np.array(centres)
    for _ in range(iters):
        assign = ((pts[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)
        for k in range(n_labels):
            if np.any(assign == k):
                centres[k] = pts[assign == k].mean(0)
    centres = centres[np.argsort(centres.sum(1))]
    labels = np.empty(len(pixels), np.int64)
    for start in range(0, len(pixels), 1 << 16):
        chunk = pixels[start:start + (1 << 16)]
        labels[start:start + len(chunk)] = ((chunk[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)
    return labels.reshape(image.shape[:2])


def blocky_labels(labels, block=16, n_labels=None):
    """Majority vote of ``labels`` (H, W) in ``block × block`` squares, blown back up: (H, W)."""
    h, w = labels.shape
    n_labels = int(labels.max()) + 1 if n_labels is None else n_labels
    hb, wb = -(-h // block), -(-w // block)
    votes = np.zeros((n_labels, hb, wb))
    rows, cols = np.arange(h) // block, np.arange(w) // block
    for k in range(n_labels):
        np.add.at(votes[k], (rows[:, None], cols[None, :]), labels == k)
    winners = votes.argmax(0)
    return winners[rows[:, None], cols[None, :]]


def demo_refinement(name="chelsea", n_labels=4, block=16, confidence=0.6, noise=0.5, seed=0,
                    n_iter=5, method="auto", **crf_params):
    """A blocky labelling of a real photograph, before and after the dense CRF.

    The photograph ``skimage.data.<name>()`` (H, W, 3) is clustered by colour into
    ``n_labels`` classes; the clusters are voted into ``block × block`` squares (the coarse
    labelling); the unary gives the coarse label probability ``confidence`` (the rest
    spread evenly) with Gaussian noise of std ``noise`` on the log-probabilities; the mean
    field (``crf_params``: ``mean_field_forward``'s parameters, pydensecrf's defaults
    otherwise) refines it. Returns ``(image, coarse, refined)``: (H, W, 3) uint8 and two
    (H, W) int64 label maps. Lesson: ``lessons/09-dense-crf.md``.
    """
    fn = "demo_refinement"
    n_labels = check_int(fn, "n_labels", n_labels, minimum=2)
    block = check_int(fn, "block", block, minimum=1)
    confidence = check_number(fn, "confidence", confidence, positive=True)
    if not 1.0 / n_labels < confidence < 1.0:
        raise ValueError(f"{fn}: confidence must be in (1/n_labels, 1), got {confidence!r}")
    noise = check_number(fn, "noise", noise)
    image = load_photo(name)
    coarse = blocky_labels(colour_clusters(image, n_labels, seed), block, n_labels)
    prob = np.full((n_labels,) + coarse.shape, (1.0 - confidence) / (n_labels - 1))
    np.put_along_axis(prob, coarse[None], confidence, axis=0)
    if noise:
        logits = np.log(prob) + noise * np.random.default_rng(seed).standard_normal(prob.shape)
        prob = np.exp(logits - logits.max(0))
        prob /= prob.sum(0)
    unary = unary_from_probabilities(prob.astype(np.float32))
    q, _ = mean_field_forward(unary, image, n_iter=n_iter, method=method, save_history=False,
                              **crf_params)
    return image, coarse, q.argmax(0).astype(np.int64)


def _palette(n):
    base = np.array([
        [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
        [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212],
        [0, 128, 128], [220, 190, 255], [170, 110, 40], [255, 250, 200], [128, 0, 0],
        [170, 255, 195], [128, 128, 0], [255, 215, 180], [0, 0, 128], [128, 128, 128],
        [255, 255, 255],
    ], dtype=np.float64) / 255.0
    reps = -(-n // len(base))
    return np.tile(base, (reps, 1))[:n]


def refinement_figure(image, coarse, refined, titles=("photograph", "coarse labels",
                                                       "after the dense CRF"), alpha=0.55):
    """Before/after figure: the photograph, then each labelling blended over it.

    image (H, W, 3) uint8; coarse, refined (H, W) integer labels. Returns a
    ``matplotlib.figure.Figure`` (1 × 3 panels; no pyplot state is touched, so it works with
    any backend, Agg included). Lesson: ``lessons/09-dense-crf.md``.
    """
    fn = "refinement_figure"
    check_array(fn, "image", image, 3, "(H, W, 3)", floating=False)
    for name, lab in (("coarse", coarse), ("refined", refined)):
        check_array(fn, name, lab, 2, "(H, W)", floating=False)
        if tuple(lab.shape) != tuple(image.shape[:2]):
            raise ValueError(f"{fn}: {name} must have shape {tuple(image.shape[:2])}, got {tuple(lab.shape)}")
    from matplotlib.figure import Figure  # optional at import time

    from ..backend import to_numpy

    image, coarse, refined = to_numpy(image), to_numpy(coarse), to_numpy(refined)
    colours = _palette(int(max(coarse.max(), refined.max())) + 1)
    base = image.astype(np.float64) / 255.0
    h, w = image.shape[:2]
    fig = Figure(figsize=(12, 12 * h / (3 * w) + 0.6), layout="constrained")
    axes = fig.subplots(1, 3)
    panels = [base] + [(1 - alpha) * base + alpha * colours[lab] for lab in (coarse, refined)]
    for ax, panel, title in zip(axes, panels, titles):
        ax.imshow(np.clip(panel, 0, 1))
        ax.set_title(title)
        ax.set_axis_off()
    return fig
