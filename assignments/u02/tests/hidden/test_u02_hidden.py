"""Unit 02, hidden tests: the loss loop on inputs the public tests do not use."""

import numpy as np
import pytest


@pytest.mark.exercise("02.4")
@pytest.mark.points(1)
def test_cross_entropy_loop_batch_other_ignore_index(check, data):
    """a batch of 3, 5 classes, non-square, ignore_index -1"""
    target = data.integers((3, 4, 7), seed=251, low=-1, high=5)
    check("cross_entropy_loop", logits=data.uniform((3, 5, 4, 7), seed=252, low=-4, high=4),
          target=target, ignore_index=-1)


@pytest.mark.exercise("02.4")
@pytest.mark.points(1)
def test_cross_entropy_loop_nothing_counted_and_one_pixel(check, data):
    """every pixel ignored (loss 0.0), and a single counted pixel"""
    check("cross_entropy_loop", logits=data.uniform((1, 2, 3, 3), seed=253),
          target=np.full((1, 3, 3), 255))
    target = np.full((1, 3, 3), 255)
    target[0, 2, 1] = 1
    check("cross_entropy_loop", logits=data.uniform((1, 2, 3, 3), seed=254, low=-500, high=500),
          target=target)
