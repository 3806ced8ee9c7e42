"""Boundary metrics: label edges, the boundary band, band metrics, boundary IoU."""

import numpy as np
import pytest

from minisegnet import metrics


def two_regions(n=1, size=12, split=6):
    lab = np.zeros((n, size, size), np.uint8)
    lab[:, :, split:] = 1
    return lab


def test_label_edges_mark_both_sides_and_skip_ignore():
    lab = two_regions()[0]
    edges = metrics.label_edges(lab)
    assert edges[:, 5].all() and edges[:, 6].all() and edges.sum() == 24
    lab[:, 6] = 255
    assert not metrics.label_edges(lab).any()          # edges to ignore pixels do not count


def test_boundary_band_width():
    lab = two_regions()
    band = metrics.boundary_band(lab, width=2)
    cols = np.nonzero(band[0].any(axis=0))[0]
    assert cols.tolist() == [3, 4, 5, 6, 7, 8]
    assert metrics.boundary_band(lab, width=0).sum() == 24
    with pytest.raises(ValueError, match="width"):
        metrics.boundary_band(lab, width=-1)


def test_band_metrics_perfect_and_shifted():
    target = two_regions(2)
    perfect = metrics.band_metrics(target, target, 2, width=2)
    assert perfect["mean_iou"] == 1.0 and perfect["pixel_accuracy"] == 1.0
    assert perfect["num_pixels"] == 2 * 12 * 6
    shifted = two_regions(2, split=7)
    off = metrics.band_metrics(shifted, target, 2, width=2)
    assert off["pixel_accuracy"] == pytest.approx(5 / 6)    # one of 6 band columns wrong
    # outside the band the prediction does not count at all
    wrong_far = target.copy()
    wrong_far[:, :, 0] = 1
    assert metrics.band_metrics(wrong_far, target, 2, width=2)["mean_iou"] == 1.0


def test_boundary_iou():
    target = two_regions(1, size=20, split=10)
    assert metrics.boundary_iou(target, target, 2, width=2)["mean"] == 1.0
    shifted = two_regions(1, size=20, split=11)        # boundary regions: cols 8-9 vs 9-10
    res = metrics.boundary_iou(shifted, target, 2, width=2)
    assert res["iou"][0] == pytest.approx(1 / 3)
    far = two_regions(1, size=20, split=12)           # rings 8-9 vs 10-11: no overlap
    assert metrics.boundary_iou(far, target, 2, width=2)["mean"] == 0.0
    # a blob: its boundary region is the ring of width w inside it
    blob = np.zeros((1, 20, 20), np.uint8)
    blob[0, 5:15, 5:15] = 1
    grown = np.zeros_like(blob)
    grown[0, 4:16, 4:16] = 1
    r = metrics.boundary_iou(grown, blob, 2, width=1)
    assert r["iou"][1] == pytest.approx(0.0)                # rings do not overlap at all
    assert np.isnan(metrics.boundary_iou(np.zeros_like(blob), np.zeros_like(blob), 2)["iou"][1])
