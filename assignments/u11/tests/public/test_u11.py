"""Unit 11, public tests of the notebook's exercises (what ``check`` runs)."""

import numpy as np
import pytest

STREETS_TO_U = ([0, 1, 2, 3, 4, 5, 6], [0, 1, 2, 2, 4, 5, 5])    # traffic sign (7) unmapped


@pytest.mark.exercise("11.1")
@pytest.mark.points(1)
def test_remap_streets_to_universal(check, data):
    """the lesson's Streets -> universal mapping: merges and one class without counterpart"""
    sources, targets = STREETS_TO_U
    check("remap_loop", labels=data.integers((6, 9), seed=1101, low=0, high=8, dtype=np.uint8),
          sources=np.array(sources), targets=np.array(targets),
          hint="out[labels == s] = mapping[s] for every entry; a source id the mapping does not "
               "name (here 7, traffic sign) becomes ignore_index")


@pytest.mark.exercise("11.1")
@pytest.mark.points(1)
def test_remap_when_targets_are_sources(check, data):
    """a mapping whose target ids are also source ids (0 -> 1, 1 -> 2, 2 -> 0)"""
    check("remap_loop", labels=data.integers((7, 5), seed=1102, low=0, high=3),
          sources=np.array([0, 1, 2]), targets=np.array([1, 2, 0]),
          hint="read the original labels and write a new map: updating the label map in "
               "place remaps a pixel again when its new id is a later source id")


@pytest.mark.exercise("11.1")
@pytest.mark.points(1)
def test_remap_unnamed_ids_and_ignore(check, data):
    """ids the mapping does not name, the source's own 255, and ignore_index=250"""
    labels = data.integers((5, 8), seed=1103, low=0, high=6, dtype=np.uint8)
    labels[0, :3] = 255
    check("remap_loop", labels=labels, sources=np.array([1, 3, 4]),
          targets=np.array([0, 0, 1]), ignore_index=250,
          hint="start from a map filled with ignore_index, not from a copy of labels: every id "
               "the mapping does not name (0, 2, 5 and 255 here) must become ignore_index")


@pytest.mark.exercise("11.2")
@pytest.mark.points(1)
def test_merged_confusion_is_forgiven(check):
    """truck predicted on a car pixel, scored in the universal taxonomy"""
    check("choice", name="answer_11_2", options="abcd", secret=True,
          hint="look at what streets_to_u does to car and to truck")


@pytest.mark.exercise("11.3")
@pytest.mark.points(1)
def test_iou_of_a_class_never_predicted(check):
    """the IoU of water for the model fit on Streets, on the Parks test images"""
    check("rounded", name="water_iou", decimals=2, secret=True,
          hint="IoU = TP / (TP + FP + FN): how many water pixels can a model without a water "
               "centroid get right?")


@pytest.mark.exercise("11.4")
@pytest.mark.points(1)
def test_score_where_harmonic_is_half_arithmetic(check):
    """w with H(0.8, 0.8, w) = A(0.8, 0.8, w) / 2, to three decimals"""
    check("rounded", name="w_half", decimals=3, secret=True,
          hint="6 / (2.5 + 1/w) = (1.6 + w) / 3 gives 2.5 w^2 - 13 w + 1.6 = 0; the other "
               "root is above 1")


@pytest.mark.exercise("11.5")
@pytest.mark.points(1)
def test_mapillary_with_a_perfect_scannet(check):
    """Mapillary's harmonic mean with ScanNet at 100, to one decimal"""
    check("rounded", name="mapillary_scannet_100", decimals=1, secret=True,
          hint="H = 6 / (1/22.5 + 1/13.6 + 1/82.1 + 1/55.4 + 1/67.7 + 1/100), in % like the "
               "table (not a fraction)")
