"""Tests of panoptic quality.

References: small maps worked by hand (the numbers are in the tests), a slow re-telling of
COCO ``panopticapi``'s ``pq_compute_single_core`` with one boolean mask per segment and
Python loops over segments (``_reference.panoptic_loop``), and torchmetrics'
``PanopticQuality`` on maps without predicted void (where its void handling and
``panopticapi``'s agree) when torchmetrics is installed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from minisegnet import backend
from minisegnet import metrics as M
from minisegnet.metrics import _fast as F

from ._reference import panoptic_loop

THINGS, STUFFS = {1, 2}, {5, 6}
VOID = 255


def _np(a):
    return backend.to_numpy(a)


def _map(cat, inst=None):
    """(H, W, 2) from a category grid and an instance grid (default zeros)."""
    cat = np.asarray(cat)
    inst = np.zeros_like(cat) if inst is None else np.asarray(inst)
    return np.stack([cat, inst], axis=-1)


def _assert_same(got, ref):
    for key in ("pq", "sq", "rq"):
        assert got[key] == pytest.approx(ref[key], nan_ok=True), key
        assert got["things"][key] == pytest.approx(ref["things"][key], nan_ok=True), ("things", key)
        assert got["stuff"][key] == pytest.approx(ref["stuff"][key], nan_ok=True), ("stuff", key)
    assert (got["n"], got["things"]["n"], got["stuff"]["n"]) == (
        ref["n"], ref["things"]["n"], ref["stuff"]["n"])
    assert set(got["per_class"]) == set(ref["per_class"])
    for c, scores in ref["per_class"].items():
        for key, value in scores.items():
            assert got["per_class"][c][key] == pytest.approx(value), (c, key)


# ============================================================================ by hand
def test_hand_thing_and_stuff(to_dev):
    """Target: thing (1, 7) in the top-left 2x2, stuff 5 elsewhere (4x4). Prediction: the
    thing grown to 2x3 under another instance id. Thing IoU 4/6, stuff IoU 10/12."""
    t = _map(np.full((4, 4), 5))
    t[:2, :2] = (1, 7)
    p = _map(np.full((4, 4), 5))
    p[:2, :3] = (1, 3)
    got = M.panoptic_quality(to_dev(p), to_dev(t), THINGS, STUFFS)
    one = {"rq": 1.0, "tp": 1, "fp": 0, "fn": 0}
    assert got["per_class"][1] == pytest.approx({"pq": 2 / 3, "sq": 2 / 3, **one})
    assert got["per_class"][5] == pytest.approx({"pq": 5 / 6, "sq": 5 / 6, **one})
    assert got["per_class"][2] == {"pq": 0.0, "sq": 0.0, "rq": 0.0, "tp": 0, "fp": 0, "fn": 0}
    assert got["pq"] == pytest.approx((2 / 3 + 5 / 6) / 2) and got["n"] == 2
    assert got["things"] == pytest.approx({"pq": 2 / 3, "sq": 2 / 3, "rq": 1.0, "n": 1})
    assert got["stuff"] == pytest.approx({"pq": 5 / 6, "sq": 5 / 6, "rq": 1.0, "n": 1})


def test_hand_unmatched_segments():
    """Row of 10 pixels. Target: car A (cols 0-3), car B (cols 4-7), road (8-9).
    Prediction: one car over cols 1-6 (IoU with A 3/7, with B 3/6: neither > 0.5), road 0, 7-9.
    Cars: TP 0, FP 1, FN 2 -> PQ 0, RQ 0. Road: IoU 2/4 = 0.5, not > 0.5 -> FP 1, FN 1."""
    t = _map([[1, 1, 1, 1, 1, 1, 1, 1, 5, 5]], [[1, 1, 1, 1, 2, 2, 2, 2, 0, 0]])
    p = _map([[5, 1, 1, 1, 1, 1, 1, 5, 5, 5]], [[0, 9, 9, 9, 9, 9, 9, 0, 0, 0]])
    got = M.panoptic_quality(p, t, THINGS, STUFFS)
    assert got["per_class"][1] == {"pq": 0.0, "sq": 0.0, "rq": 0.0, "tp": 0, "fp": 1, "fn": 2}
    assert got["per_class"][5] == {"pq": 0.0, "sq": 0.0, "rq": 0.0, "tp": 0, "fp": 1, "fn": 1}
    assert got["pq"] == 0.0 and got["n"] == 2
    # the predicted car also covers col 0: IoU with A 4/7 > 0.5, a match (B still missed);
    # predicted road is cols 7-9: IoU 2/3
    p[0, 0] = (1, 9)
    got = M.panoptic_quality(p, t, THINGS, STUFFS)
    assert got["per_class"][1] == pytest.approx(
        {"pq": 4 / 7 * 2 / 3, "sq": 4 / 7, "rq": 1 / 1.5, "tp": 1, "fp": 0, "fn": 1})
    assert got["per_class"][5] == pytest.approx({"pq": 2 / 3, "sq": 2 / 3, "rq": 1.0, "tp": 1, "fp": 0,
                                                 "fn": 0})
    assert got["pq"] == pytest.approx((8 / 21 + 2 / 3) / 2)
    assert got["sq"] == pytest.approx((4 / 7 + 2 / 3) / 2)  # mean of SQs, not PQ / RQ


def test_hand_void_is_left_out_of_the_union():
    """Target: car (cols 0-3), void 255 (cols 4-7), road (8-11). Predicted car over cols 0-6:
    |p|=7, |g|=4, inter 4, |p on void| 3 -> IoU 4 / (7 + 4 - 4 - 3) = 1 (0.571 without the
    rule). Predicted road over 7-11: IoU 4 / (5 + 4 - 4 - 1) = 1."""
    t = _map([[1, 1, 1, 1, VOID, VOID, VOID, VOID, 5, 5, 5, 5]], [[3] * 4 + [0] * 8])
    p = _map([[1, 1, 1, 1, 1, 1, 1, 5, 5, 5, 5, 5]], [[4] * 7 + [0] * 5])
    got = M.panoptic_quality(p, t, THINGS, STUFFS, void_label=VOID)
    assert got["per_class"][1]["sq"] == pytest.approx(1.0)
    assert got["per_class"][5]["sq"] == pytest.approx(1.0)
    assert got["pq"] == pytest.approx(1.0)
    # void via "in neither set": the same numbers without void_label
    assert M.panoptic_quality(p, t, THINGS, STUFFS)["pq"] == pytest.approx(1.0)


def test_hand_prediction_mostly_on_void_is_not_a_false_positive():
    """Target: road (cols 0-5), void (6-9). Predicted: road 0-5, car A over 6-9 (all void) and
    car B over cols 4-7: 2 of 4 on void (exactly half: still a false positive)."""
    t = _map([[5, 5, 5, 5, 5, 5, 0, 0, 0, 0]])  # category 0: in neither set -> void
    p = _map([[5, 5, 5, 5, 5, 5, 1, 1, 1, 1]], [[0] * 6 + [1] * 4])
    got = M.panoptic_quality(p, t, THINGS, STUFFS)
    assert got["per_class"][1] == {"pq": 0.0, "sq": 0.0, "rq": 0.0, "tp": 0, "fp": 0, "fn": 0}
    assert got["per_class"][5] == pytest.approx({"pq": 1.0, "sq": 1.0, "rq": 1.0, "tp": 1, "fp": 0, "fn": 0})
    assert got["things"]["n"] == 0 and math.isnan(got["things"]["pq"])
    p = _map([[5, 5, 5, 5, 1, 1, 1, 1, 0, 0]], [[0] * 4 + [2] * 4 + [0] * 2])
    got = M.panoptic_quality(p, t, THINGS, STUFFS, void_label=0)  # predicted 0: unlabelled
    assert got["per_class"][1]["fp"] == 1
    # road: |g| 6, |p| 4, inter 4 -> IoU 4/6 (predicted void pixels still count in |g|)
    assert got["per_class"][5]["sq"] == pytest.approx(4 / 6)


def test_hand_crowd():
    """Target: crowd region of cars (cols 0-5, crowd=True), road (6-9). Predicted car over
    cols 2-7: 4 of 6 pixels on the crowd of its own category -> not a false positive, and the
    crowd is no false negative. A predicted bus (category 2) there is a false positive."""
    t = _map([[1, 1, 1, 1, 1, 1, 5, 5, 5, 5]], [[8] * 6 + [0] * 4])
    crowd = np.array([[True] * 6 + [False] * 4])
    p = _map([[5, 5, 1, 1, 1, 1, 1, 1, 5, 5]], [[0, 0] + [3] * 6 + [0, 0]])
    got = M.panoptic_quality(p, t, THINGS, STUFFS, crowd=crowd)
    assert got["per_class"][1] == {"pq": 0.0, "sq": 0.0, "rq": 0.0, "tp": 0, "fp": 0, "fn": 0}
    # road: |g| 4, |p| 4 (cols 0,1,8,9), inter 2 -> IoU 2/6: FP + FN
    assert got["per_class"][5]["fp"] == 1 and got["per_class"][5]["fn"] == 1
    without = M.panoptic_quality(p, t, THINGS, STUFFS)  # no crowd: car IoU 4/8 -> FP and FN
    assert without["per_class"][1]["fp"] == 1 and without["per_class"][1]["fn"] == 1
    bus = p.copy()
    bus[..., 0] = np.where(p[..., 0] == 1, 2, p[..., 0])
    assert M.panoptic_quality(bus, t, THINGS, STUFFS, crowd=crowd)["per_class"][2]["fp"] == 1


def test_stuff_instance_ids_are_ignored():
    t = _map(np.full((3, 4), 5), np.arange(12).reshape(3, 4))  # every pixel its own id
    p = _map(np.full((3, 4), 5), np.full((3, 4), 42))
    got = M.panoptic_quality(p, t, THINGS, STUFFS)
    assert got["per_class"][5] == pytest.approx({"pq": 1.0, "sq": 1.0, "rq": 1.0, "tp": 1, "fp": 0, "fn": 0})


def test_segments_never_match_across_images(to_dev):
    """Image 0 has car 1 on the left, image 1 on the right; the prediction swaps the images.
    In one image that would be 2 perfect matches; across the batch it is 2 FP + 2 FN."""
    a = _map([[1, 1, 5, 5]], [[1, 1, 0, 0]])
    b = _map([[5, 5, 1, 1]], [[0, 0, 1, 1]])
    target = np.stack([a, b])
    pred = np.stack([b, a])
    got = M.panoptic_quality(to_dev(pred), to_dev(target), THINGS, STUFFS)
    assert (got["per_class"][1]["tp"], got["per_class"][1]["fp"], got["per_class"][1]["fn"]) == (0, 2, 2)
    assert M.panoptic_quality(to_dev(target), to_dev(target), THINGS, STUFFS)["pq"] == 1.0


# ============================================================================ vs loops
def _random_panoptic(rng, batch, h, w, void_label=VOID, pred_void=True):
    """Structured random maps: stuff blocks, thing rectangles, void patches; a prediction that
    shifts, drops, relabels and invents segments (so there are matches, near misses, unmatched
    segments and void overlaps)."""
    shape = (*batch, h, w)
    n = int(np.prod(batch))
    target = np.zeros((n, h, w, 2), np.int64)
    pred = np.zeros((n, h, w, 2), np.int64)
    for b in range(n):
        stuff = rng.choice(sorted(STUFFS), size=(2, 2))
        target[b, ..., 0] = np.repeat(np.repeat(stuff, (h + 1) // 2, 0), (w + 1) // 2, 1)[:h, :w]
        target[b, ..., 1] = rng.integers(0, 3, (h, w))  # stuff instance ids: noise, ignored
        pred[b] = target[b]
        pred[b, ..., 0] = np.roll(target[b, ..., 0], int(rng.integers(0, 3)), axis=1)
        for k in range(int(rng.integers(1, 6))):
            c = int(rng.choice(sorted(THINGS)))
            y, x = int(rng.integers(0, h - 2)), int(rng.integers(0, w - 2))
            hh, ww = int(rng.integers(2, h // 2 + 2)), int(rng.integers(2, w // 2 + 2))
            target[b, y:y + hh, x:x + ww] = (c, k + 1)
            if rng.random() < 0.8:
                dy, dx = (int(v) for v in rng.integers(-1, 2, 2))
                pc = c if rng.random() < 0.85 else 3 - c
                pi = int(rng.integers(0, 50))
                pred[b, max(y + dy, 0):y + dy + hh, max(x + dx, 0):x + dx + ww] = (pc, pi)
        if rng.random() < 0.7:  # invented segment
            y, x = int(rng.integers(0, h - 2)), int(rng.integers(0, w - 2))
            pred[b, y:y + 3, x:x + 3] = (int(rng.choice(sorted(THINGS))), 77)
        if rng.random() < 0.7:  # target void: void_label, or a category in neither set
            y, x = int(rng.integers(0, h - 2)), int(rng.integers(0, w - 2))
            v = void_label if (void_label is not None and rng.random() < 0.5) else 9
            target[b, y:y + int(rng.integers(2, 6)), x:x + int(rng.integers(2, 6)), 0] = v
        if pred_void and void_label is not None and rng.random() < 0.5:
            y, x = int(rng.integers(0, h - 2)), int(rng.integers(0, w - 2))
            pred[b, y:y + 2, x:x + 3, 0] = void_label
    return pred.reshape(*shape, 2), target.reshape(*shape, 2)


@pytest.mark.parametrize("impl", ["reference", "fast"])
@pytest.mark.parametrize("seed", range(12))
def test_matches_panopticapi_loops(seed, impl, to_dev):
    rng = np.random.default_rng(seed)
    batch = [(), (3,), (2, 2)][seed % 3]
    void_label = None if seed % 4 == 3 else VOID
    pred, target = _random_panoptic(rng, batch, int(rng.integers(6, 13)), int(rng.integers(6, 13)),
                                    void_label)
    crowd = None
    if seed % 2:  # crowd regions on some thing pixels
        crowd = (rng.random(target.shape[:-1]) < 0.5) & np.isin(target[..., 0], sorted(THINGS))
        crowd &= target[..., 1] == 1
    with backend.use_impl(impl):
        got = M.panoptic_quality(to_dev(pred), to_dev(target), THINGS, STUFFS, void_label,
                                 crowd=None if crowd is None else to_dev(crowd))
    _assert_same(got, panoptic_loop(pred, target, THINGS, STUFFS, void_label, crowd))


@pytest.mark.parametrize("limits", ["groups", "unique", "renumber"])
def test_fast_tier_fallback_paths(limits, to_dev, monkeypatch):
    """The fast tier with one image per group; ``unique`` instead of dense bincounts;
    instance ids renumbered."""
    if limits == "groups":
        monkeypatch.setattr(F, "GROUP_PIXELS", 1)
    elif limits == "unique":
        monkeypatch.setattr(F, "DENSE_LIMIT", 4)
    else:
        monkeypatch.setattr(F, "SPAN_LIMIT", 3)
    for seed in range(4):
        rng = np.random.default_rng(100 + seed)
        pred, target = _random_panoptic(rng, (3,), 9, 11)
        crowd = rng.random(target.shape[:-1]) < 0.2
        with backend.use_impl("fast"):
            got = M.panoptic_quality(to_dev(pred), to_dev(target), THINGS, STUFFS, VOID,
                                     crowd=to_dev(crowd))
        _assert_same(got, panoptic_loop(pred, target, THINGS, STUFFS, VOID, crowd))


def test_category_ids_beyond_the_lookup_table(to_dev):
    """Negative and huge category ids go through the searchsorted path."""
    things, stuffs = {-3, 1 << 40}, {7}
    t = _map([[-3, -3, 7, 7, 1 << 40, 1 << 40, 99]], [[1, 1, 0, 0, 2, 2, 0]])
    p = _map([[-3, -3, 7, 7, 7, 1 << 40, 7]], [[5, 5, 0, 0, 0, 6, 0]])
    got = M.panoptic_quality(to_dev(p), to_dev(t), things, stuffs)
    _assert_same(got, panoptic_loop(p, t, things, stuffs))
    assert got["per_class"][-3]["pq"] == 1.0


# ============================================================================ properties
def test_perfect_prediction(to_dev):
    _, target = _random_panoptic(np.random.default_rng(7), (4,), 10, 10)
    pred = target.copy()
    pred[..., 0] = np.where(np.isin(target[..., 0], sorted(THINGS | STUFFS)), target[..., 0], VOID)
    got = M.panoptic_quality(to_dev(pred), to_dev(target), THINGS, STUFFS, VOID)
    assert (got["pq"], got["sq"], got["rq"]) == pytest.approx((1.0, 1.0, 1.0))


def test_relabelling_instances_and_categories_changes_nothing(to_dev):
    rng = np.random.default_rng(8)
    pred, target = _random_panoptic(rng, (3,), 10, 12)
    got = M.panoptic_quality(to_dev(pred), to_dev(target), THINGS, STUFFS, VOID)
    # new instance ids (a bijection per map, negative and huge ones included)
    ids = np.unique(np.concatenate([pred[..., 1].ravel(), target[..., 1].ravel()]))
    new = rng.permutation(len(ids)) * 1_000_003 - 5_000_000
    p2, t2 = pred.copy(), target.copy()
    p2[..., 1] = new[np.searchsorted(ids, pred[..., 1])]
    t2[..., 1] = new[::-1][np.searchsorted(ids, target[..., 1])]
    _assert_same(M.panoptic_quality(to_dev(p2), to_dev(t2), THINGS, STUFFS, VOID), got)
    # swap the category ids consistently (things 1 <-> 2, stuff 5 <-> 6)
    swap = {1: 2, 2: 1, 5: 6, 6: 5}
    relabel = np.vectorize(lambda c: swap.get(int(c), int(c)))
    p3, t3 = pred.copy(), target.copy()
    p3[..., 0], t3[..., 0] = relabel(pred[..., 0]), relabel(target[..., 0])
    got3 = M.panoptic_quality(to_dev(p3), to_dev(t3), THINGS, STUFFS, VOID)
    for key in ("pq", "sq", "rq"):
        assert got3[key] == pytest.approx(got[key])
    for c in swap:
        assert got3["per_class"][swap[c]] == pytest.approx(got["per_class"][c])


def test_meter_streaming_equals_one_shot(to_dev):
    rng = np.random.default_rng(11)
    preds, targets = zip(*(_random_panoptic(rng, (2,), 8, 9) for _ in range(4)))
    meter = M.PanopticMeter(THINGS, STUFFS, VOID)
    for p, t in zip(preds, targets):
        meter.update(to_dev(p), to_dev(t))
    whole = M.panoptic_quality(np.concatenate(preds), np.concatenate(targets), THINGS, STUFFS, VOID)
    _assert_same(meter.compute(), whole)
    stats = M.panoptic_segment_stats(np.concatenate(preds), np.concatenate(targets), THINGS, STUFFS, VOID)
    np.testing.assert_array_equal(stats["categories"], [1, 2, 5, 6])
    assert [whole["per_class"][c]["tp"] for c in (1, 2, 5, 6)] == stats["tp"].tolist()
    with pytest.raises(ValueError, match="pred holds category ids"):
        meter.update(to_dev(preds[0] + 20), to_dev(targets[0]))
    assert meter.num_updates == 4
    meter.reset()
    assert meter.compute()["n"] == 0 and math.isnan(meter.compute()["pq"])


def test_integer_dtypes(to_dev):
    pred, target = _random_panoptic(np.random.default_rng(12), (2,), 8, 8)
    ref = M.panoptic_quality(pred, target, THINGS, STUFFS, VOID)
    for dtype in (np.uint8, np.int16, np.int32, np.uint32):
        p, t = to_dev(pred.astype(dtype)), to_dev(target.astype(dtype))
        got = M.panoptic_quality(p, t, THINGS, STUFFS, VOID)
        _assert_same(got, ref)


# ============================================================================ bad input
def test_bad_inputs(to_dev):
    t = to_dev(_map(np.full((3, 4), 5)))
    f = M.panoptic_quality
    with pytest.raises(ValueError, match=r"pred and target must have the same shape"):
        f(to_dev(_map(np.full((3, 5), 5))), t, THINGS, STUFFS)
    with pytest.raises(ValueError, match=r"must have shape \(\.\.\., H, W, 2\).*got \(3, 4, 3\)"):
        f(to_dev(np.zeros((3, 4, 3), int)), to_dev(np.zeros((3, 4, 3), int)), THINGS, STUFFS)
    with pytest.raises(ValueError, match=r"must have shape \(\.\.\., H, W, 2\)"):
        f(to_dev(np.zeros((4, 2), int)), to_dev(np.zeros((4, 2), int)), THINGS, STUFFS)
    with pytest.raises(TypeError, match="pred must hold integer labels, got dtype float32"):
        f(to_dev(_map(np.full((3, 4), 5)).astype(np.float32)), t, THINGS, STUFFS)
    with pytest.raises(TypeError, match="target must hold integer labels"):
        f(t, to_dev(_map(np.full((3, 4), 5)).astype(np.float64)), THINGS, STUFFS)
    with pytest.raises(ValueError, match=r"things and stuffs must be disjoint, got \[5\] in both"):
        f(t, t, {1, 5}, {5, 6})
    with pytest.raises(ValueError, match="at least one of things and stuffs must be non-empty"):
        f(t, t, set(), [])
    with pytest.raises(TypeError, match="things must hold int category ids"):
        f(t, t, {"car"}, STUFFS)
    with pytest.raises(TypeError, match="stuffs must be a collection of int category ids"):
        f(t, t, THINGS, 5)
    with pytest.raises(ValueError, match="void_label 5 must not be a thing or stuff category"):
        f(t, t, THINGS, STUFFS, void_label=5)
    with pytest.raises(TypeError, match="void_label must be an int"):
        f(t, t, THINGS, STUFFS, void_label=2.0)
    with pytest.raises(TypeError, match="crowd must be a boolean mask"):
        f(t, t, THINGS, STUFFS, crowd=to_dev(np.zeros((3, 4), int)))
    pattern = r"crowd must have the shape of target without its last axis, \(3, 4\)"
    with pytest.raises(ValueError, match=pattern):
        f(t, t, THINGS, STUFFS, crowd=to_dev(np.zeros((3, 4, 2), bool)))


def test_unknown_categories(to_dev):
    """Target categories in neither set are void; predicted ones are an error (unless void_label)."""
    t = _map([[5, 5, 9, 9]])
    assert M.panoptic_quality(to_dev(_map([[5, 5, 5, 5]])), to_dev(t), THINGS, STUFFS)["pq"] == 1.0
    pattern = r"pred holds category ids \[9\] that are in neither things nor stuffs"
    with pytest.raises(ValueError, match=pattern):
        M.panoptic_quality(to_dev(_map([[5, 5, 9, 9]])), to_dev(t), THINGS, STUFFS)
    with pytest.raises(ValueError, match=r"pred holds category ids \[9\].*nor the void_label 255"):
        M.panoptic_quality(to_dev(_map([[5, 255, 9, 9]])), to_dev(t), THINGS, STUFFS, void_label=255)
    got = M.panoptic_quality(to_dev(_map([[5, 5, 9, 9]])), to_dev(t), THINGS, STUFFS, void_label=9)
    assert got["pq"] == 1.0


def test_void_label_outside_the_map_dtype(to_dev):
    t = _map(np.array([[5, 5, 9, 9]], np.uint8))
    p = _map(np.array([[5, 5, 5, 5]], np.uint8))
    for void_label in (-1, 1000):
        assert M.panoptic_quality(to_dev(p), to_dev(t), THINGS, STUFFS, void_label)["pq"] == 1.0
        with pytest.raises(ValueError, match=r"pred holds category ids \[9\]"):
            M.panoptic_quality(to_dev(t), to_dev(t), THINGS, STUFFS, void_label)


def test_empty_batch():
    empty = np.zeros((0, 4, 4, 2), np.int64)
    got = M.panoptic_quality(empty, empty, THINGS, STUFFS)
    assert got["n"] == 0 and math.isnan(got["pq"])


# ============================================================================ torchmetrics
@pytest.mark.parametrize("seed", range(3))
def test_against_torchmetrics(seed):
    torch = pytest.importorskip("torch")
    detection = pytest.importorskip("torchmetrics.detection")
    rng = np.random.default_rng(50 + seed)
    # torchmetrics and panopticapi treat *predicted* void differently (torchmetrics also takes
    # it out of the union and of the false negatives): compare without predicted void.
    pred, target = _random_panoptic(rng, (4,), 16, 16, void_label=None, pred_void=False)
    got = M.panoptic_quality(pred, target, THINGS, STUFFS)
    metric = detection.PanopticQuality(things=THINGS, stuffs=STUFFS, return_sq_and_rq=True,
                                       return_per_class=True)
    per_class = metric(torch.from_numpy(pred), torch.from_numpy(target)).numpy()  # (1, C, 3)?
    per_class = per_class.reshape(-1, 3)
    cats = sorted(THINGS) + sorted(STUFFS)  # torchmetrics' order: things, then stuffs
    for row, c in zip(per_class, cats):
        assert got["per_class"][c]["pq"] == pytest.approx(row[0], abs=1e-6)
        assert got["per_class"][c]["sq"] == pytest.approx(row[1], abs=1e-6)
        assert got["per_class"][c]["rq"] == pytest.approx(row[2], abs=1e-6)
    overall = detection.PanopticQuality(things=THINGS, stuffs=STUFFS, return_sq_and_rq=True)
    pq, sq, rq = overall(torch.from_numpy(pred), torch.from_numpy(target)).tolist()
    assert (got["pq"], got["sq"], got["rq"]) == pytest.approx((pq, sq, rq), abs=1e-6)
