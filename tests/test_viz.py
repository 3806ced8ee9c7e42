"""minisegnet.viz: the centred moving average of the training curves (against a naive loop,
and that it does not lag where an exponential average does), and the figures it draws."""

import numpy as np
import pytest

from minisegnet.viz import centred_moving_average, training_curves


def _naive(values, window):
    half = window // 2
    return np.array([np.mean(values[max(0, i - half):i + half + 1]) for i in range(len(values))])


@pytest.mark.parametrize("window", [1, 2, 5, 9, 40])
def test_centred_moving_average_matches_the_definition(window):
    values = np.random.default_rng(0).standard_normal(31)
    np.testing.assert_allclose(centred_moving_average(values, window), _naive(values, window),
                               rtol=1e-12, atol=1e-12)


def test_no_lag_on_a_falling_loss_unlike_an_exponential_average():
    its = np.arange(400, dtype=np.float64)
    loss = 2.0 - its / 400                         # a straight fall
    centred = centred_moving_average(loss, 21)
    inside = slice(10, -10)
    np.testing.assert_allclose(centred[inside], loss[inside], atol=1e-12)
    ema, acc = np.empty_like(loss), loss[0]
    for i, v in enumerate(loss):
        acc = 0.95 * acc + 0.05 * v
        ema[i] = acc
    assert np.all(ema[100:] - loss[100:] > 0.018)  # the exponential average sits above, lagging


def test_bad_arguments():
    with pytest.raises(ValueError, match="window"):
        centred_moving_average(np.ones(5), 0)
    with pytest.raises(ValueError, match="1-D"):
        centred_moving_average(np.ones((2, 2)), 3)


def test_training_curves_draw_one_or_several_validations():
    history = [{"iteration": i + 1, "loss": 2.0 / (i + 1)} for i in range(50)]
    fig = training_curves(history, [{"iteration": 50, "mean_iou": 0.5, "pixel_accuracy": 0.7}])
    assert "evaluated once" in " ".join(t.get_text() for t in fig.axes[1].texts)
    many = [{"iteration": k, "mean_iou": 0.1 * k / 10, "pixel_accuracy": 0.5} for k in (10, 30, 50)]
    fig = training_curves(history, many)
    assert not fig.axes[1].texts and len(fig.axes[0].lines) == 2
