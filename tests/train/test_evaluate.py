"""Predictions over a data set and their evaluation."""

import numpy as np

from minisegnet import data, models, nn, train


def test_predict_and_evaluate():
    ds = data.make_context(5, "val", seed=0, size=32)
    nn.init.seed(0)
    model = models.MiniPSPNet(5, widths=(4, 4, 8, 8))
    probs, loss = train.predict_probabilities(model, ds, batch_size=2, with_loss=True)
    assert probs.shape == (5, 5, 32, 32) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert loss > 0
    assert model.training                                   # mode restored
    res = train.evaluate(model, ds, batch_size=2)
    assert set(res) >= {"mean_iou", "pixel_accuracy", "iou", "band", "boundary_iou", "pred"}
    assert res["pred"].shape == (5, 32, 32)
