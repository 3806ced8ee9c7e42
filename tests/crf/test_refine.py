"""CRF refinement of a batch of softmax outputs."""

import numpy as np
import pytest
from scipy import ndimage

from minisegnet import data
from minisegnet.crf import crf_refine
from minisegnet.metrics import band_metrics


def test_crf_refine_sharpens_a_blurred_labelling():
    ds = data.make_context(2, "val", seed=0, size=32)
    onehot = np.eye(5, dtype=np.float32)[ds.labels].transpose(0, 3, 1, 2)
    blurred = ndimage.uniform_filter(onehot, size=(1, 1, 7, 7))
    blurred = 0.6 * blurred + 0.4 / 5
    q = crf_refine(blurred, ds.images, method="exact")
    assert q.shape == blurred.shape
    np.testing.assert_allclose(q.sum(axis=1), 1, atol=1e-4)
    before = band_metrics(blurred.argmax(1), ds.labels, 5, 2)["pixel_accuracy"]
    after = band_metrics(q.argmax(1), ds.labels, 5, 2)["pixel_accuracy"]
    assert after >= before
    with pytest.raises(ValueError, match="agree"):
        crf_refine(blurred, ds.images[:1])
