"""Tier agreement of the metrics family: the reference and the fast tier give the same results
and raise the same errors (message included) on random cases.

Confusion matrix (the chunked counter of ``metrics/_fast.py`` against the masked bincount):
ignore_index ``None``, outside ``[0, K)`` (in and outside the label dtype) and equal to a
class id; uint8 / int16 / int64 / uint16 labels; pair codes that overflow uint8 (K >= 17);
empty inputs and all pixels ignored; a prediction that copies the ignore mask; chunks of a
few pixels so that every chunk path is taken. Panoptic quality (the vectorised group stats
against the per-image ``panopticapi`` loop): void, crowd regions, things and stuff present
and absent, uint8 and int64 maps, batches, an empty batch. Errors: bad labels scattered over
several chunks and images must name the same label on both tiers.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from minisegnet import backend
from minisegnet import metrics as M
from minisegnet.metrics import _fast as F

SCORES = (M.pixel_accuracy, M.mean_accuracy, M.mean_iou, M.frequency_weighted_iou)


def _confusion_and_scores(pred, target, k, ign):
    cm = M.confusion_matrix(pred, target, k, ignore_index=ign)
    return backend.to_numpy(cm), [f(cm) for f in SCORES], backend.to_numpy(M.iou(cm))


def _error(f, *args, **kwargs):
    """``(type, message)`` of what ``f`` raises (fails if it returns)."""
    with pytest.raises((ValueError, TypeError)) as info:
        f(*args, **kwargs)
    return type(info.value), str(info.value)


def _label_case(rng, k, ign, dtype, shape, ignored=0.3, copy_mask=False):
    """Random labels of one dtype; ignored pixels set to ``ign`` where the dtype holds it."""
    target = rng.integers(0, k, shape)
    pred = np.where(rng.random(shape) < 0.5, target, rng.integers(0, k, shape))
    info = np.iinfo(dtype)
    if ign is not None and info.min <= ign <= info.max:
        mask = rng.random(shape) < ignored
        target = np.where(mask, ign, target)
        if copy_mask:
            pred = np.where(mask, ign, pred)
    return pred.astype(dtype), target.astype(dtype)


CONFUSION_CASES = [  # K, ignore_index, dtype, copy the ignore mask into pred
    (5, 255, np.uint8, False),
    (5, 255, np.uint8, True),
    (19, 255, np.uint8, True),      # codes up to 18 * 19 + 18 = 360: overflow uint8
    (17, None, np.uint8, False),
    (6, 0, np.int64, False),         # ignore_index a class id (0 = unlabelled)
    (6, 5, np.int16, True),          # ignore_index the last class id
    (4, -1, np.int64, True),
    (4, -1, np.uint8, False),        # -1 outside uint8: nothing is ignored
    (7, 1000, np.uint16, True),
    (7, 70000, np.int64, True),      # too many rows for the throw-away-row trick
    (3, None, np.int64, False),
    (1, 255, np.int64, False),
]


@pytest.mark.parametrize("chunk", [F.CHUNK, 5], ids=["chunk-default", "chunk5"])
@pytest.mark.parametrize("case", CONFUSION_CASES,
                         ids=lambda c: f"K{c[0]}-ign{c[1]}-{np.dtype(c[2]).name}-copy{int(c[3])}")
def test_confusion_tiers_agree(case, chunk, on_both_tiers, to_dev, monkeypatch):
    monkeypatch.setattr(F, "CHUNK", chunk)
    k, ign, dtype, copy_mask = case
    rng = np.random.default_rng(k * 31 + (ign or 0) % 97)
    for shape in [(2, 9, 11), (0, 5), (1, 1, 1), (3, 40)]:
        pred, target = _label_case(rng, k, ign, dtype, shape, copy_mask=copy_mask)
        ref, fast = on_both_tiers(_confusion_and_scores, to_dev(pred), to_dev(target), k, ign)
        np.testing.assert_array_equal(fast[0], ref[0])
        assert fast[0].dtype == ref[0].dtype == np.int64
        np.testing.assert_allclose(fast[1], ref[1], equal_nan=True)
        np.testing.assert_allclose(fast[2], ref[2], equal_nan=True)


@pytest.mark.parametrize("ign", [255, None, 0])
def test_confusion_all_ignored_or_empty(ign, on_both_tiers, to_dev):
    target = np.full((3, 4), 255 if ign is None else ign, np.int64)
    pred = np.zeros((3, 4), np.int64)
    k = 300 if ign is None else 3  # ignore_index None: 255 is a class then
    ref, fast = on_both_tiers(_confusion_and_scores, to_dev(pred), to_dev(target), k, ign)
    np.testing.assert_array_equal(fast[0], ref[0])
    empty = to_dev(np.zeros((0,), np.uint8))
    ref, fast = on_both_tiers(_confusion_and_scores, empty, empty, 4, ign)
    np.testing.assert_array_equal(fast[0], np.zeros((4, 4)))
    np.testing.assert_array_equal(ref[0], np.zeros((4, 4)))


BAD_LABELS = [  # ignore_index, dtype, [(array, flat position, value)]
    (255, np.int64, [("pred", 3, 7), ("target", 40, 9), ("pred", 59, -2)]),
    (255, np.uint8, [("pred", 50, 200), ("target", 10, 1), ("pred", 10, 255)]),  # 255 counted, 200
    (255, np.uint8, [("target", 10, 1), ("pred", 10, 255), ("target", 30, 2), ("pred", 30, 255)]),
    (None, np.int64, [("target", 55, 255), ("target", 5, 4)]),
    (0, np.int64, [("target", 33, -1), ("pred", 2, 9)]),
    (-1, np.int16, [("target", 20, 300), ("target", 12, -5)]),
    (1000, np.int64, [("target", 59, 999), ("pred", 1, 1000)]),
    (70000, np.int64, [("pred", 44, 70000), ("target", 44, 3)]),
]


@pytest.mark.parametrize("chunk", [F.CHUNK, 4], ids=["chunk-default", "chunk4"])
@pytest.mark.parametrize("case", BAD_LABELS, ids=lambda c: f"ign{c[0]}-{np.dtype(c[1]).name}-{len(c[2])}")
def test_confusion_tiers_raise_the_same_error(case, chunk, on_both_tiers, to_dev, monkeypatch):
    """Bad labels in several chunks: both tiers name the same one, whatever the chunking."""
    monkeypatch.setattr(F, "CHUNK", chunk)
    ign, dtype, bad = case
    rng = np.random.default_rng(len(bad))
    pred, target = _label_case(rng, 4, ign, dtype, (60,), copy_mask=True)
    for who, position, value in bad:
        (pred if who == "pred" else target)[position] = value
    ref, fast = on_both_tiers(_error, M.confusion_matrix, to_dev(pred), to_dev(target), 4, ign)
    assert fast == ref
    assert ref[0] is ValueError and ref[1].startswith("confusion_matrix: ")


# ---------------------------------------------------------------------------- panoptic quality

THINGS, STUFFS = [1, 2, 7], [3, 4]


def _panoptic_case(rng, batch, h, w, void_label, crowd, dtype, categories):
    """Random blocky maps (so segments overlap a lot) over the given categories."""
    shape = (*batch, h, w)

    def blocky(low, high):
        coarse = rng.integers(low, high, (*batch, (h + 2) // 3, (w + 2) // 3))
        return np.repeat(np.repeat(coarse, 3, -2), 3, -1)[..., :h, :w]

    cats = np.asarray(categories)[blocky(0, len(categories))]
    inst = blocky(0, 3)
    noise = rng.integers(0, 6, shape)
    p_cats = np.where(noise == 0, np.asarray(categories)[rng.integers(0, len(categories), shape)], cats)
    p_inst = np.where(noise == 1, inst + 1, inst)
    if void_label is not None:
        cats = np.where(rng.random(shape) < 0.1, void_label, cats)
        p_cats = np.where(rng.random(shape) < 0.05, void_label, p_cats)
    cats = np.where(rng.random(shape) < 0.05, 9, cats)  # a category in neither set: void
    pred = np.stack([p_cats, p_inst], axis=-1).astype(dtype)
    target = np.stack([cats, inst], axis=-1).astype(dtype)
    mask = (rng.random(shape) < 0.3) if crowd else None
    return pred, target, mask


def _flat(result):
    rows = [result, result["things"], result["stuff"]]
    scores = [r[key] for r in rows for key in ("pq", "sq", "rq", "n")]
    per_class = [result["per_class"][c][key] for c in sorted(result["per_class"])
                 for key in ("pq", "sq", "rq", "tp", "fp", "fn")]
    return np.array(scores + per_class, dtype=np.float64)


def _panoptic_both(pred, target, void_label, crowd, things, stuffs):
    stats = M.panoptic_segment_stats(pred, target, things, stuffs, void_label, crowd)
    result = M.panoptic_quality(pred, target, things, stuffs, void_label, crowd)
    return stats, _flat(result)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("void_label, crowd", [(None, False), (0, False), (0, True), (None, True)])
def test_panoptic_tiers_agree(seed, void_label, crowd, on_both_tiers, to_dev):
    rng = np.random.default_rng(seed)
    batch = [(), (3,), (2, 2)][seed % 3]
    dtype = np.uint8 if seed % 2 else np.int64
    # things and stuff both present, or only one kind in the maps (the other absent)
    categories = [[1, 2, 3, 4, 7], [1, 2, 7], [3, 4], [2, 4]][seed % 4]
    pred, target, mask = _panoptic_case(rng, batch, 5 + seed, 7 + seed % 3, void_label, crowd, dtype,
                                        categories)
    ref, fast = on_both_tiers(_panoptic_both, to_dev(pred), to_dev(target), void_label,
                              None if mask is None else to_dev(mask), THINGS, STUFFS)
    for key in ("categories", "tp", "fp", "fn"):
        np.testing.assert_array_equal(fast[0][key], ref[0][key])
    np.testing.assert_allclose(fast[0]["iou_sum"], ref[0]["iou_sum"], rtol=1e-12)
    np.testing.assert_allclose(fast[1], ref[1], rtol=1e-12, equal_nan=True)


@pytest.mark.parametrize("things, stuffs", [([1, 2, 7], []), ([], [1, 2, 3, 4, 7])])
def test_panoptic_tiers_agree_with_one_kind_only(things, stuffs, on_both_tiers, to_dev):
    rng = np.random.default_rng(5)
    pred, target, mask = _panoptic_case(rng, (2,), 9, 8, 0, True, np.int64, [1, 2, 7])
    ref, fast = on_both_tiers(_panoptic_both, to_dev(pred), to_dev(target), 0, to_dev(mask),
                              things, stuffs)
    np.testing.assert_allclose(fast[1], ref[1], rtol=1e-12, equal_nan=True)


def test_panoptic_tiers_agree_on_an_empty_batch(on_both_tiers):
    empty = np.zeros((0, 3, 3, 2), np.int64)
    ref, fast = on_both_tiers(_panoptic_both, empty, empty, None, None, THINGS, STUFFS)
    np.testing.assert_array_equal(fast[1], ref[1])


def test_panoptic_tiers_raise_the_same_error(on_both_tiers, to_dev, monkeypatch):
    """Unknown predicted categories in two images (one group of images on the fast tier,
    one image at a time on the reference tier): the same list on both."""
    monkeypatch.setattr(F, "GROUP_PIXELS", 1 << 30)
    rng = np.random.default_rng(3)
    pred, target, _ = _panoptic_case(rng, (3,), 6, 6, None, False, np.int64, [1, 2, 3])
    pred[1, 0, 0, 0], pred[2, 3, 3, 0] = 11, 10
    ref, fast = on_both_tiers(_error, M.panoptic_quality, to_dev(pred), to_dev(target), THINGS, STUFFS)
    assert fast == ref
    assert "pred holds category ids [10, 11]" in ref[1]


def test_without_the_fast_module_the_reference_tier_answers(monkeypatch):
    """The student edition leaves ``metrics/_fast.py`` out: even with the fast tier asked
    for, the metrics then run on the reference tier."""
    rng = np.random.default_rng(4)
    pred, target = _label_case(rng, 5, 255, np.uint8, (3, 50, 60), copy_mask=True)
    p_map, t_map, mask = _panoptic_case(rng, (2,), 8, 9, 0, True, np.int64, [1, 2, 3, 4, 7])
    with backend.use_impl("fast"):
        cm = M.confusion_matrix(pred, target, 5)
        pq = M.panoptic_segment_stats(p_map, t_map, THINGS, STUFFS, 0, mask)
    monkeypatch.setitem(sys.modules, "minisegnet.metrics._fast", None)  # import fails
    with backend.use_impl("fast"):
        assert backend.fast_tier(np, "minisegnet.metrics._fast") is None
        np.testing.assert_array_equal(M.confusion_matrix(pred, target, 5), cm)
        got = M.panoptic_segment_stats(p_map, t_map, THINGS, STUFFS, 0, mask)
    for key in ("tp", "fp", "fn"):
        np.testing.assert_array_equal(got[key], pq[key])
