"""A4 public tests: panoptic quality with COCO panopticapi's rules."""

import numpy as np
import pytest

THINGS, STUFFS = [1, 2], [3, 4]


def pmap(categories, instances=None):
    """A (H, W, 2) panoptic map from a grid of category ids and one of instance ids."""
    categories = np.asarray(categories, dtype=np.int64)
    instances = np.zeros_like(categories) if instances is None else np.asarray(instances, np.int64)
    return np.stack([categories, instances], axis=-1)


@pytest.mark.points(2)
def test_things_match_above_half(check):
    """panoptic: two thing instances, one matched, one missed, one spurious"""
    target = pmap([[1, 1, 1, 3], [1, 1, 2, 3], [3, 3, 2, 3]],
                  [[1, 1, 1, 0], [1, 1, 2, 0], [0, 0, 2, 0]])
    pred = pmap([[1, 1, 1, 3], [1, 3, 3, 3], [3, 1, 1, 3]],
                [[5, 5, 5, 0], [5, 0, 0, 0], [0, 7, 7, 0]])
    check("panoptic", pred=pred, target=target, things=THINGS, stuffs=STUFFS,
          hint="a match is a same-category pair with IoU > 0.5; PQ = sum IoU / (TP + FP/2 + FN/2)")


@pytest.mark.points(2)
def test_void_is_no_false_positive_and_leaves_the_union(check):
    """panoptic: predictions on void pixels (void_label=0)"""
    target = pmap([[0, 0, 1, 1], [0, 0, 1, 1], [3, 3, 3, 3], [0, 0, 0, 4]],
                  [[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0]])
    pred = pmap([[1, 1, 1, 1], [2, 2, 1, 1], [3, 3, 3, 3], [2, 2, 4, 4]],
                [[1, 1, 1, 1], [3, 3, 1, 1], [0, 0, 0, 0], [4, 4, 0, 0]])
    check("panoptic", pred=pred, target=target, things=THINGS, stuffs=STUFFS, void_label=0,
          hint="IoU = |p & g| / (|p| + |g| - |p & g| - |p & void|): the part of a prediction "
               "on void leaves the union; an unmatched prediction more than half on void is "
               "not a false positive")


@pytest.mark.points(2)
def test_iou_of_exactly_one_half_is_no_match(check):
    """panoptic: IoU exactly 0.5 is not a match"""
    target = pmap([[1, 1, 3, 3], [1, 1, 3, 3]], [[1, 1, 0, 0], [1, 1, 0, 0]])
    pred = pmap([[1, 3, 3, 3], [1, 3, 3, 3]], [[2, 0, 0, 0], [2, 0, 0, 0]])
    check("panoptic", pred=pred, target=target, things=THINGS, stuffs=STUFFS,
          hint="match only when IoU > 0.5 (strictly): >= 0.5 can match two segments at once")


@pytest.mark.points(2)
def test_stuff_instance_ids_are_ignored(check):
    """panoptic: a stuff category is one segment per image whatever its instance ids"""
    target = pmap([[3, 3, 4, 4], [3, 3, 4, 4], [1, 1, 4, 4]],
                  [[1, 2, 0, 0], [3, 4, 0, 0], [9, 9, 5, 6]])
    pred = pmap([[3, 3, 4, 4], [3, 3, 4, 4], [1, 1, 3, 4]],
                [[7, 7, 1, 2], [8, 8, 3, 4], [2, 2, 0, 9]])
    check("panoptic", pred=pred, target=target, things=THINGS, stuffs=STUFFS,
          hint="for stuff categories set the instance id to 0 (on both sides) before "
               "forming segments; only things have instances")


@pytest.mark.points(2)
def test_average_only_over_categories_that_occur(check):
    """panoptic: categories with TP + FP + FN = 0 are left out of the averages"""
    target = pmap([[1, 1, 3], [1, 1, 3]], [[4, 4, 0], [4, 4, 0]])
    pred = pmap([[1, 1, 3], [1, 3, 3]], [[2, 2, 0], [2, 0, 0]])
    check("panoptic", pred=pred, target=target, things=[1, 2, 5], stuffs=[3, 4, 6],
          hint="average PQ, SQ and RQ over the categories with TP + FP + FN > 0 only (overall, "
               "things, stuff); per_class of a category that never occurs is 0; n counts "
               "the categories averaged over; an average over none is NaN")


@pytest.mark.points(3)
def test_crowd_regions(check):
    """panoptic: target crowd regions are never matched nor missed, and excuse only their own category"""
    target = pmap([[1, 1, 1, 1], [1, 1, 2, 2], [3, 3, 2, 2]],
                  [[1, 1, 2, 2], [1, 1, 3, 3], [0, 0, 3, 3]])
    crowd = np.array([[False, False, True, True], [False, False, False, False],
                      [False, False, False, False]])
    pred = pmap([[1, 1, 1, 1], [1, 1, 2, 2], [3, 3, 2, 1]],
                [[1, 1, 6, 6], [1, 1, 3, 3], [0, 0, 3, 8]])
    check("panoptic", pred=pred, target=target, things=THINGS, stuffs=STUFFS, crowd=crowd,
          hint="crowd pixels of a category form one region per image: never matched, never a "
               "false negative, and counted with void when deciding a false positive")
    # an unmatched prediction on the crowd region of ANOTHER category is a false positive
    target = pmap([[1, 1, 1, 3], [1, 1, 1, 3], [3, 3, 3, 3]],
                  [[4, 4, 4, 0], [4, 4, 4, 0], [0, 0, 0, 0]])
    crowd = np.array([[True, True, True, False], [True, True, True, False],
                      [False, False, False, False]])
    pred = pmap([[2, 2, 1, 3], [2, 2, 1, 3], [3, 3, 3, 3]],
                [[5, 5, 6, 0], [5, 5, 6, 0], [0, 0, 0, 0]])
    check("panoptic", pred=pred, target=target, things=THINGS, stuffs=STUFFS, crowd=crowd,
          hint="an unmatched prediction is excused when more than half of it lies on void plus "
               "the crowd region of ITS OWN category: the category-2 segment on the crowd of "
               "category 1 is a false positive, the category-1 segment there is not")


@pytest.mark.points(2)
def test_unknown_target_category_is_void(check):
    """panoptic: a target category in neither things nor stuffs is void"""
    target = pmap([[9, 9, 1, 1], [9, 9, 1, 1], [3, 3, 3, 3]],
                  [[0, 0, 2, 2], [0, 0, 2, 2], [0, 0, 0, 0]])
    pred = pmap([[2, 2, 1, 1], [2, 2, 1, 1], [3, 3, 3, 1]],
                [[1, 1, 2, 2], [1, 1, 2, 2], [0, 0, 0, 2]])
    check("panoptic", pred=pred, target=target, things=THINGS, stuffs=STUFFS,
          hint="target pixels of void_label or of a category in neither things nor stuffs are "
               "void: no segment, and predictions on them are handled as on void")


@pytest.mark.points(2)
def test_meter_over_images_equals_one_batch(check, data):
    """PanopticMeter: counts summed over images, then scored"""
    cats = data.integers((3, 6, 7), 431, 1, 5)
    inst = data.integers((3, 6, 7), 432, 0, 3)
    noise = data.integers((3, 6, 7), 433, 0, 6)
    preds = np.stack([np.where(noise == 0, 1 + (cats % 4), cats), inst], axis=-1)
    targets = np.stack([cats, inst], axis=-1)
    check("panoptic_meter", preds=preds, targets=targets, things=THINGS, stuffs=STUFFS,
          hint="sum iou_sum, TP, FP and FN over the images first, then score once")


@pytest.mark.points(2)
def test_random_batch_with_void(check, data):
    """panoptic: a random batch of two images with void"""
    cats = data.integers((2, 8, 9), 434, 0, 5)
    inst = data.integers((2, 8, 9), 435, 0, 2)
    noise = data.integers((2, 8, 9), 436, 0, 5)
    pred = np.stack([np.where(noise == 0, (cats + 1) % 5, cats), inst], axis=-1)
    target = np.stack([cats, inst], axis=-1)
    check("panoptic", pred=pred, target=target, things=THINGS, stuffs=STUFFS, void_label=0,
          hint="segments never match across images of a batch")
