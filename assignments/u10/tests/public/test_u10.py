"""Unit 10, public tests of the notebook's exercises (what ``check`` runs)."""

import numpy as np
import pytest

RULES = ("IoU = |p & g| / (|p| + |g| - |p & g| - |p & void|); a pair matches when IoU > 0.5; "
         "an unmatched prediction is an FP unless (|p & void| + |p & crowd|) / |p| > 0.5")


def blank(h=8, w=12):
    return np.zeros((h, w), np.int64), np.zeros((h, w), np.int64), np.zeros((h, w), np.uint8)


@pytest.mark.exercise("10.1")
@pytest.mark.points(1)
def test_car_counts(check):
    """(TP, FP, FN) of the car category of the scene"""
    check("number", name="car_counts", secret=True,
          hint="car 2 split in two: only the part with IoU > 0.5 matches, the other one is an FP; "
               "car 3's pixels on void leave its union")


@pytest.mark.exercise("10.1")
@pytest.mark.points(1)
def test_person_counts(check):
    """(TP, FP, FN) of the person category of the scene"""
    check("number", name="person_counts", secret=True,
          hint="a prediction lying mostly on void is neither matched nor a false positive")


def _two_cars():
    target, pred, void = blank()
    target[2:6, 0:5], target[2:6, 5:12] = 1, 2          # 20 and 28 pixels
    pred[2:6, 0:6] = 4                                 # IoU 20/24
    pred[2:6, 6:9], pred[2:6, 9:12] = 5, 6             # 12 and 12 of car 2's 28: IoU 3/7 each
    return pred, target, void


@pytest.mark.exercise("10.2")
@pytest.mark.points(1)
def test_match_one_class_matches_and_misses(check):
    """one segment matched (IoU 5/6), one split into parts too small to match"""
    pred, target, void = _two_cars()
    check("match_one_class", pred_ids=pred, target_ids=target, void=void, crowd=np.zeros_like(void),
          hint="loop over the target ids and the predicted ids (np.unique, without 0); a pair "
               "matches when IoU > 0.5; every unmatched target segment is a false negative, "
               "every unmatched prediction (here) a false positive")


@pytest.mark.exercise("10.2")
@pytest.mark.points(1)
def test_match_one_class_exactly_one_half(check):
    """a segment predicted as two exact halves: IoU 0.5 is not a match"""
    target, pred, void = blank()
    target[2:6, :] = 1
    pred[2:6, :6], pred[2:6, 6:] = 3, 8
    check("match_one_class", pred_ids=pred, target_ids=target, void=void, crowd=np.zeros_like(void),
          hint="the threshold is strict: IoU > 0.5, not >= 0.5")


@pytest.mark.exercise("10.2")
@pytest.mark.points(1)
def test_match_one_class_void(check):
    """a prediction running into void (IoU 3/7 plain, 3/4 with the rule), two more on void"""
    target, pred, void = blank()
    void[:, 8:] = 1                                    # the right third is void
    target[0:4, 4:8] = 1                               # 16 pixels
    pred[1:4, 4:12] = 2                                # 12 on the target, 12 on void
    pred[5:7, 6:10] = 3                                # 8 pixels, exactly half on void: an FP
    pred[7, 7:12] = 4                                  # 5 pixels, 4 on void: ignored
    check("match_one_class", pred_ids=pred, target_ids=target, void=void, crowd=np.zeros_like(void),
          hint="the part of the prediction on void leaves the union; an unmatched prediction "
               "more than half of whose pixels lie on void is not a false positive. " + RULES)


@pytest.mark.exercise("10.2")
@pytest.mark.points(1)
def test_match_one_class_crowd(check):
    """a crowd region: not a false negative; guesses on it and on void are ignored together"""
    target, pred, void = blank(10, 10)
    crowd = np.zeros((10, 10), np.uint8)
    crowd[:, 5:] = 1                                   # the crowd region of this category
    void[:, :2] = 1
    target[0:3, 2:5] = 1                               # one object outside the crowd: missed
    pred[5:10, 0:4] = 7                                # 20 px: 10 void, 0 crowd -> an FP
    pred[0:4, 4:10] = 8                                # 24 px: 20 on the crowd -> ignored
    pred[6:10, 4:7] = 9                                # 12 px: 8 crowd, 0 void -> ignored
    pred[4, 0:3] = 5                                   # 3 px: 2 void ...
    pred[4, 5:7] = 5                                   # ... + 2 crowd = 4 of 5 -> ignored
    check("match_one_class", pred_ids=pred, target_ids=target, void=void, crowd=crowd,
          hint="the crowd region is no target segment: it is never matched and never a false "
               "negative. An unmatched prediction is ignored when its pixels on void and on the "
               "crowd, counted together, are more than half of it")


@pytest.mark.exercise("10.3")
@pytest.mark.points(1)
def test_halves_counts(check):
    """(TP, FP, FN) of a car predicted as two exact halves"""
    check("number", name="halves_counts", secret=True,
          hint="each half has IoU exactly 0.5 with the car")


@pytest.mark.exercise("10.4")
@pytest.mark.points(1)
def test_crowd_and_void_together(check):
    """an unmatched guess lying 35 % on a crowd region and 20 % on void"""
    check("choice", name="answer_10_4", options="abcd", secret=True)
