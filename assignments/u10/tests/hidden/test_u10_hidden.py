"""Unit 10, hidden tests: the write-it exercise on random scenes and edge cases."""

import numpy as np
import pytest


def _scene(data, seed, crowd=False, void=False):
    """A blocky target (ids 0..4 on a 4x6 grid of 3x3 blocks), a prediction that is the target
    shifted by one pixel with one segment split, and optional void columns and crowd blocks."""
    target = np.kron(data.integers((4, 6), seed, 0, 5), np.ones((3, 3), np.int64))
    pred = np.roll(target, 1, axis=1)
    pred = np.where((pred == 2) & (np.arange(18) >= 9), 7, pred)      # segment 2 split in two
    void_mask = np.zeros(target.shape, np.uint8)
    crowd_mask = np.zeros(target.shape, np.uint8)
    if void:
        void_mask[:, 16:] = 1
    if crowd:
        crowd_mask[np.kron(data.integers((4, 6), seed + 1, 0, 4), np.ones((3, 3), np.int64)) == 0] = 1
        crowd_mask[void_mask == 1] = 0
    target[(void_mask == 1) | (crowd_mask == 1)] = 0
    return pred, target, void_mask, crowd_mask


@pytest.mark.exercise("10.2")
@pytest.mark.points(1)
def test_match_one_class_random_scenes(check, data):
    """random blocky scenes without void or crowd"""
    for seed in (1001, 1002, 1003):
        pred, target, void, crowd = _scene(data, seed)
        check("match_one_class", pred_ids=pred, target_ids=target, void=void, crowd=crowd)


@pytest.mark.exercise("10.2")
@pytest.mark.points(1)
def test_match_one_class_random_void_and_crowd(check, data):
    """random blocky scenes with void columns and crowd blocks"""
    for seed in (1011, 1012, 1013):
        pred, target, void, crowd = _scene(data, seed, crowd=True, void=True)
        check("match_one_class", pred_ids=pred, target_ids=target, void=void, crowd=crowd)


@pytest.mark.exercise("10.2")
@pytest.mark.points(1)
def test_match_one_class_edge_cases(check):
    """no target, no prediction, one segment covering everything, non-consecutive ids"""
    empty = np.zeros((5, 7), np.int64)
    full = np.full((5, 7), 3, np.int64)
    nothing = np.zeros((5, 7), np.uint8)
    check("match_one_class", pred_ids=full, target_ids=empty, void=nothing, crowd=nothing)
    check("match_one_class", pred_ids=empty, target_ids=full, void=nothing, crowd=nothing)
    check("match_one_class", pred_ids=full, target_ids=full * 9, void=nothing, crowd=nothing)
    sparse = np.zeros((5, 7), np.int64)
    sparse[:, :3], sparse[:, 3:] = 1000, 17
    check("match_one_class", pred_ids=np.roll(sparse, 1, axis=1), target_ids=sparse,
          void=nothing, crowd=nothing)
