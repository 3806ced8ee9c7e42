"""Real photographs: unaries from probabilities, the refinement demo, its figure, and (where
pydensecrf is installed) the same parameters give pydensecrf's result.

pydensecrf comparison: MAP agreement >= 95 % on each of three full-size scikit-image photos
(the lattice uses Krähenbühl's constants, so in practice it agrees on ~100 % of the pixels
and the marginals to ~1e-5: both are float32 runs of the same algorithm); the figure is
printed (``pytest -s``).
"""

from __future__ import annotations

import io

import numpy as np
import pytest

from minisegnet import backend
from minisegnet.crf import demo_refinement, mean_field_forward, refinement_figure, unary_from_probabilities
from minisegnet.crf.viz import blocky_labels, colour_clusters

from ._util import PHOTOS, noisy_unary, photo


def test_unary_from_probabilities_is_clipped_negative_log(rng, to_dev):
    prob = rng.dirichlet(np.ones(4), size=(5, 6)).transpose(2, 0, 1)
    prob[0, 0, 0], prob[1, 0, 0] = 0.0, prob[1, 0, 0] + prob[0, 0, 0]
    u = backend.to_numpy(unary_from_probabilities(to_dev(prob)))
    assert u.shape == prob.shape and u.dtype == np.float64
    np.testing.assert_allclose(u, -np.log(np.clip(prob, 1e-5, 1.0)), rtol=1e-15)
    u32 = unary_from_probabilities(to_dev(prob.astype(np.float32)), scale=0.8, clip=1e-3)
    assert u32.dtype == np.float32
    mixed = 0.8 * prob + 0.2 / 4
    np.testing.assert_allclose(backend.to_numpy(u32), -np.log(np.clip(mixed, 1e-3, 1)), rtol=1e-6)


def test_unary_from_probabilities_matches_pydensecrf(rng):
    utils = pytest.importorskip("pydensecrf.utils")
    prob = rng.dirichlet(np.ones(3), size=(7, 8)).transpose(2, 0, 1).astype(np.float32)
    prob[2, 3, 3] = 0.0
    for kwargs in ({}, dict(scale=0.7), dict(clip=1e-3)):
        theirs = utils.unary_from_softmax(prob, **kwargs)
        ours = unary_from_probabilities(prob, **kwargs).reshape(3, -1)
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_demo_refinement_follows_the_photographs_edges():
    image, coarse, refined = demo_refinement("chelsea")
    assert image.shape == (300, 451, 3) and image.dtype == np.uint8
    assert coarse.shape == refined.shape == image.shape[:2]
    clusters = colour_clusters(image, 4, seed=0)  # edge-following colour classes
    np.testing.assert_array_equal(coarse, blocky_labels(clusters, 16, 4))
    before, after = (coarse == clusters).mean(), (refined == clusters).mean()
    print(f"\nchelsea: agreement with the colour clusters {before:.3f} (blocky) -> {after:.3f} (CRF)")
    assert after > before + 0.1


def test_refinement_figure_has_three_panels():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    labels = rng.integers(0, 3, (20, 30))
    fig = refinement_figure(image, labels, labels[::-1])
    assert len(fig.axes) == 3 and fig.axes[2].get_title() == "after the dense CRF"
    fig.savefig(io.BytesIO(), format="png")
    with pytest.raises(ValueError, match="refined must have shape"):
        refinement_figure(image, labels, labels[:10])


def _pydensecrf_q(unary, image, n_iter=5):
    dcrf = pytest.importorskip("pydensecrf.densecrf")
    n_labels, h, w = unary.shape
    d = dcrf.DenseCRF2D(w, h, n_labels)
    d.setUnaryEnergy(np.ascontiguousarray(unary.reshape(n_labels, -1), dtype=np.float32))
    d.addPairwiseGaussian(sxy=3, compat=3)
    d.addPairwiseBilateral(sxy=80, srgb=13, rgbim=np.ascontiguousarray(image), compat=10)
    return np.array(d.inference(n_iter)).reshape(n_labels, h, w)


def test_same_parameters_give_pydensecrfs_result_on_real_photographs():
    pytest.importorskip("pydensecrf.densecrf")
    rng = np.random.default_rng(21)
    lines = []
    for name in PHOTOS:
        image = photo(name)
        unary = noisy_unary(image, 6, rng, noise=1.0).astype(np.float32)
        ours, _ = mean_field_forward(unary, image, method="lattice")
        theirs = _pydensecrf_q(unary, image)
        agree = float((ours.argmax(0) == theirs.argmax(0)).mean())
        gap = float(np.abs(ours - theirs).max())
        lines.append(f"{name} {image.shape[0]}x{image.shape[1]}: MAP agreement with pydensecrf "
                     f"{agree:.5f}, max |ΔQ| {gap:.1e}")
        assert agree >= 0.95, lines[-1]
    print("\n" + "\n".join(lines))
