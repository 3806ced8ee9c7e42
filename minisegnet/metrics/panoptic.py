"""Panoptic quality (Kirillov et al. 2019) with the rules of COCO's ``panopticapi``.

A panoptic map gives every pixel a ``(category_id, instance_id)`` pair (torchmetrics'
``PanopticQuality`` layout, ``(..., H, W, 2)``). A *segment* is the set of pixels of one
image that share a pair; for a stuff category the instance id is ignored (all its pixels of
an image are one segment). Per category,

    PQ = Σ_{(p, g) ∈ TP} IoU(p, g) / (|TP| + ½|FP| + ½|FN|) = SQ · RQ,
    SQ = mean IoU of the matched pairs,   RQ = |TP| / (|TP| + ½|FP| + ½|FN|),

where a predicted and a target segment of the same category *match* (a true positive) when
their IoU is above 0.5 (such a match is unique by construction: two segments cannot both
overlap more than half of a third), an unmatched target segment is a false negative and an
unmatched predicted segment a false positive. The void and crowd rules of ``panopticapi``:

* target pixels whose category is ``void_label`` or in neither ``things`` nor ``stuffs``
  are *void*; the part of a predicted segment ``p`` that lies on void is left out of the
  union: ``IoU = |p ∩ g| / (|p| + |g| - |p ∩ g| - |p ∩ void|)``;
* an unmatched predicted segment more than half of which lies on void (plus, with
  ``crowd``, on the target's crowd region of its own category) is not a false positive;
* target crowd regions (optional ``crowd`` mask) are never matched and never false
  negatives.

The scores are averaged over the categories that occur (``TP + FP + FN > 0``), overall and
separately for things and for stuff.

The reference tier (``_image_stats``) follows ``panopticapi``'s ``pq_compute_single_core``
image by image: the segments of both maps are numbered, the intersections of all overlapping
pairs come from one ``unique`` of the pair code ``target_segment · P + pred_segment``, and
the rules above are a loop over those pairs and segments. The fast tier
(``metrics/_fast.py``, chosen by ``minisegnet.backend``) does the same for groups of images
with ``bincount`` calls and masks instead of Python loops. Lesson: ``lessons/10-panoptic.md``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from .._checks import check_array, check_same_device, is_int
from ..backend import fast_tier, get_array_module, to_numpy
from ._common import check_label_array, clamped_index, equal_scalar

__all__ = ["panoptic_quality", "PanopticMeter", "panoptic_segment_stats"]

class _Categories:
    """Checked ``things`` / ``stuffs`` / ``void_label``: sorted ids and their kinds."""

    def __init__(self, fn, things, stuffs, void_label):
        things = _id_set(fn, "things", things)
        stuffs = _id_set(fn, "stuffs", stuffs)
        if things & stuffs:
            raise ValueError(
                f"{fn}: things and stuffs must be disjoint, got {sorted(things & stuffs)} in both"
            )
        if not things | stuffs:
            raise ValueError(f"{fn}: at least one of things and stuffs must be non-empty")
        if void_label is not None:
            if not is_int(void_label):
                raise TypeError(f"{fn}: void_label must be an int or None, got {void_label!r}")
            if void_label in things | stuffs:
                raise ValueError(
                    f"{fn}: void_label {void_label} must not be a thing or stuff category"
                )
            void_label = int(void_label)
        self.things, self.stuffs, self.void_label = things, stuffs, void_label
        self.ids = np.array(sorted(things | stuffs), dtype=np.int64)  # (C,)
        self.is_thing = np.isin(self.ids, sorted(things))  # (C,) bool

    @property
    def count(self) -> int:
        return int(self.ids.size)


def _id_set(fn, name, values) -> set:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{fn}: {name} must be a collection of int category ids, got {values!r}")
    values = list(values)
    if not all(is_int(v) for v in values):
        raise TypeError(f"{fn}: {name} must hold int category ids, got {values!r}")
    return {int(v) for v in values}


def _check_maps(fn, pred, target, crowd):
    check_label_array(fn, "pred", pred)
    check_label_array(fn, "target", target)
    check_same_device(fn, pred=pred, target=target, crowd=crowd)
    if tuple(pred.shape) != tuple(target.shape):
        raise ValueError(
            f"{fn}: pred and target must have the same shape, got pred {tuple(pred.shape)} "
            f"and target {tuple(target.shape)}"
        )
    if pred.ndim < 3 or pred.shape[-1] != 2:
        raise ValueError(
            f"{fn}: pred and target must have shape (..., H, W, 2) holding (category_id, "
            f"instance_id), got {tuple(pred.shape)}"
        )
    if crowd is not None:
        check_array(fn, "crowd", crowd, floating=False)
        if crowd.dtype.kind != "b":
            raise TypeError(f"{fn}: crowd must be a boolean mask, got dtype {crowd.dtype}")
        if tuple(crowd.shape) != tuple(target.shape[:-1]):
            raise ValueError(
                f"{fn}: crowd must have the shape of target without its last axis, "
                f"{tuple(target.shape[:-1])}, got {tuple(crowd.shape)}"
            )
    return get_array_module(pred, target)


# --------------------------------------------------------------------------- per pixel


def _category_index(xp, c, ids):
    """Index of each category id in ``ids`` (sorted, ``(C,)``); ``C`` for any other value."""
    count = int(ids.size)
    if ids[0] >= 0 and ids[-1] < 1 << 20:  # lookup table over [0, max id + 1]
        top = int(ids[-1]) + 1
        lut = np.full(top + 1, count, dtype=np.int64)
        lut[ids] = np.arange(count)
        return xp.asarray(lut)[clamped_index(xp, c, top)]  # other values land on ``top``
    dev_ids = xp.asarray(ids)
    pos = xp.minimum(xp.searchsorted(dev_ids, c), count - 1)
    return xp.where(dev_ids[pos] == c, pos, count)


def _unknown_categories(fn, xp, pred_categories, cats):
    """The ``ValueError`` for predicted category ids in neither things nor stuffs (nor the
    void_label), listing the first ten of the whole batch (so no tier's grouping shows)."""
    unknown = _category_index(xp, pred_categories, cats.ids) == cats.count
    if cats.void_label is not None:
        unknown &= ~equal_scalar(xp, pred_categories, cats.void_label)
    bad = sorted(int(v) for v in to_numpy(xp.unique(pred_categories[unknown]))[:10])
    return ValueError(
        f"{fn}: pred holds category ids {bad} that are in neither things nor stuffs"
        + (f" nor the void_label {cats.void_label}" if cats.void_label is not None else "")
    )


# --------------------------------------------------------------------------- one image

VOID = 0  # the segment number of void pixels (``panopticapi``'s VOID id)


def _number_segments(xp, cat, inst, n_cat, crowd=None):
    """Number the segments of one image: its distinct ``(category, instance)`` pairs.

    cat: ``(P,)`` int64 category index of each pixel (``n_cat``: void). inst: ``(P,)``
    integer instance ids. crowd: ``(P,)`` bool or ``None``: the crowd pixels of a category
    form one region, whatever their instance ids. Returns ``seg`` ``(P,)`` int64, each
    pixel's segment number (``VOID`` = 0 on void pixels, else ``1..S``), and per segment
    ``0..S`` (entry 0: void) three lists: category index, whether it is a crowd region, area.
    """
    _, inst = xp.unique(inst, return_inverse=True)  # instance ids as 0, 1, ..., n - 1
    n_inst = int(inst.max()) + 2  # and n for the crowd regions
    if crowd is not None:
        inst = xp.where(crowd, n_inst - 1, inst.reshape(cat.shape))
    key = xp.where(cat == n_cat, -1, cat * n_inst + inst.reshape(cat.shape))
    # a -1 up front makes void segment 0 even in an image without void pixels
    keys, seg, area = xp.unique(xp.concatenate([xp.full(1, -1, dtype=key.dtype), key]),
                                return_inverse=True, return_counts=True)
    keys, area = to_numpy(keys), to_numpy(area) - (np.arange(keys.size) == 0)
    category = np.where(keys < 0, n_cat, keys // n_inst)
    is_crowd = (keys >= 0) & (keys % n_inst == n_inst - 1)
    return seg.reshape(-1)[1:], category.tolist(), is_crowd.tolist(), area.tolist()


def _image_stats(xp, p_cat, p_inst, t_cat, t_inst, crowd, is_thing):
    """Per-category ``(iou_sum, tp, fp, fn)`` of one image, by ``panopticapi``'s rules.

    The steps of its ``pq_compute_single_core``: number the segments of both maps (void
    apart); count the intersection of every overlapping (target, predicted) pair; a pair
    of one category, the target no crowd region, *matches* when ``IoU > 0.5``, with the
    prediction's part on void left out of the union; an unmatched target segment that is
    no crowd region is a false negative; an unmatched predicted segment is a false positive
    unless more than half of it lies on void and on the crowd region of its own category.

    p_cat, t_cat: ``(P,)`` int64 category index of each pixel into the sorted things +
    stuffs; ``C`` is void (in ``pred``: unlabelled; in ``target``: ``void_label`` or a
    category in neither set). p_inst, t_inst: ``(P,)`` integer instance ids. crowd: ``(P,)``
    bool (target crowd regions) or ``None``. is_thing: ``(C + 1,)`` bool, False at ``C``.
    All on one device. Returns NumPy ``iou_sum`` ``(C,)`` float64 and ``tp``, ``fp``,
    ``fn`` ``(C,)`` int64. Lesson 10 (``lessons/10-panoptic.md``).
    """
    n_cat = int(is_thing.size) - 1
    iou_sum = np.zeros(n_cat)
    tp, fp, fn = (np.zeros(n_cat, dtype=np.int64) for _ in range(3))
    ### BEGIN SOLUTION A4
    # a stuff category is one segment per image: its instance ids do not count
    p_inst = xp.where(is_thing[p_cat], p_inst, 0)
    t_inst = xp.where(is_thing[t_cat], t_inst, 0)
    p_seg, p_cat_of, _, p_area = _number_segments(xp, p_cat, p_inst, n_cat)
    t_seg, t_cat_of, t_crowd, t_area = _number_segments(xp, t_cat, t_inst, n_cat, crowd)
    # panopticapi's gt_pred_map: {(target segment, predicted segment): intersection}
    n_pred = len(p_area)
    pairs, inter = xp.unique(t_seg * n_pred + p_seg, return_counts=True)
    pairs, inter = to_numpy(pairs).tolist(), to_numpy(inter).tolist()
    overlap = {divmod(pair, n_pred): i for pair, i in zip(pairs, inter)}

    matched_t, matched_p = set(), set()
    for (g, p), i in overlap.items():
        if g == VOID or p == VOID or t_crowd[g] or t_cat_of[g] != p_cat_of[p]:
            continue
        iou = i / (p_area[p] + t_area[g] - i - overlap.get((VOID, p), 0))
        if iou > 0.5:  # then unique: no other segment can overlap either by more than half
            iou_sum[t_cat_of[g]] += iou
            tp[t_cat_of[g]] += 1
            matched_t.add(g)
            matched_p.add(p)
    for g in range(1, len(t_area)):
        if g not in matched_t and not t_crowd[g]:
            fn[t_cat_of[g]] += 1
    crowd_of = {t_cat_of[g]: g for g in range(1, len(t_area)) if t_crowd[g]}
    for p in range(1, n_pred):
        # its part on void and on the crowd region of its category (None: there is none)
        ignored = overlap.get((VOID, p), 0) + overlap.get((crowd_of.get(p_cat_of[p]), p), 0)
        if p not in matched_p and ignored / p_area[p] <= 0.5:
            fp[p_cat_of[p]] += 1
    ### END SOLUTION A4
    return iou_sum, tp, fp, fn


def panoptic_segment_stats(pred, target, things, stuffs, void_label=None, crowd=None) -> dict:
    """Per-category counts behind PQ: ``{"categories", "iou_sum", "tp", "fp", "fn"}``.

    Same arguments as ``panoptic_quality``. Returns ``categories`` ``(C,)`` int64 (the sorted
    things + stuffs) and, aligned with it, ``iou_sum`` ``(C,)`` float64 (summed IoU of the
    matches) and ``tp``, ``fp``, ``fn`` ``(C,)`` int64; all NumPy. Sums of these over data
    sets give the data set's PQ (what ``PanopticMeter`` does). Lesson 10.
    """
    fn = "panoptic_segment_stats"
    cats = _Categories(fn, things, stuffs, void_label)
    return _stats(fn, pred, target, cats, crowd)


def _stats(fn, pred, target, cats, crowd):
    """Summed per-category counts of a batch: one image at a time on the reference tier
    (``_image_stats``), groups of images on the fast tier (``_fast.panoptic_group_stats``)."""
    xp = _check_maps(fn, pred, target, crowd)
    h, w = pred.shape[-3], pred.shape[-2]
    n_img = math.prod(pred.shape[:-3])
    pixels = h * w
    pred = pred.reshape(n_img, pixels, 2)
    target = target.reshape(n_img, pixels, 2)
    if crowd is not None:
        crowd = crowd.reshape(n_img, pixels)
    n_cat = cats.count
    totals = [np.zeros(n_cat, np.float64)] + [np.zeros(n_cat, np.int64) for _ in range(3)]
    if n_img == 0 or pixels == 0:
        return {"categories": cats.ids.copy(), "iou_sum": totals[0], "tp": totals[1],
                "fp": totals[2], "fn": totals[3]}
    fast = fast_tier(xp, "minisegnet.metrics._fast")
    step = 1 if fast is None else fast.images_per_group(xp, n_img, pixels)
    is_thing = xp.asarray(np.append(cats.is_thing, False))  # (C + 1,): void is no thing
    for s in range(0, n_img, step):
        part = slice(s, min(s + step, n_img))
        p_cat = _category_index(xp, pred[part, :, 0], cats.ids)
        unknown = p_cat == n_cat
        if cats.void_label is not None:  # predicted void_label: unlabelled, no segment
            unknown &= ~equal_scalar(xp, pred[part, :, 0], cats.void_label)
        if bool(unknown.any()):
            raise _unknown_categories(fn, xp, pred[..., 0], cats)
        t_cat = _category_index(xp, target[part, :, 0], cats.ids)
        p_inst, t_inst = pred[part, :, 1], target[part, :, 1]
        crowd_part = None if crowd is None else crowd[part]
        if fast is not None:
            got = fast.panoptic_group_stats(xp, p_cat, p_inst, t_cat, t_inst, crowd_part, is_thing)
        else:
            got = _image_stats(xp, p_cat[0], p_inst[0], t_cat[0], t_inst[0],
                               None if crowd is None else crowd_part[0], is_thing)
        for total, value in zip(totals, got):
            total += value
    return {"categories": cats.ids.copy(), "iou_sum": totals[0], "tp": totals[1],
            "fp": totals[2], "fn": totals[3]}


# --------------------------------------------------------------------------- the scores


def _scores(stats: dict, is_thing) -> dict:
    """PQ/SQ/RQ per category and averaged (overall, things, stuff) from summed counts."""
    ### BEGIN SOLUTION A4
    iou_sum, tp = stats["iou_sum"], stats["tp"].astype(np.float64)
    den = tp + 0.5 * stats["fp"] + 0.5 * stats["fn"]
    occurs = den > 0
    safe_den = np.where(occurs, den, 1.0)
    pq = np.where(occurs, iou_sum / safe_den, 0.0)
    sq = np.where(tp > 0, iou_sum / np.where(tp > 0, tp, 1.0), 0.0)
    rq = np.where(occurs, tp / safe_den, 0.0)

    def average(select):
        keep = occurs & select
        n = int(keep.sum())
        if n == 0:
            return {"pq": math.nan, "sq": math.nan, "rq": math.nan, "n": 0}
        return {"pq": float(pq[keep].mean()), "sq": float(sq[keep].mean()),
                "rq": float(rq[keep].mean()), "n": n}

    overall = average(np.ones_like(occurs))
    per_class = {
        int(c): {"pq": float(pq[i]), "sq": float(sq[i]), "rq": float(rq[i]),
                 "tp": int(stats["tp"][i]), "fp": int(stats["fp"][i]), "fn": int(stats["fn"][i])}
        for i, c in enumerate(stats["categories"])
    }
    return {**overall, "things": average(is_thing), "stuff": average(~is_thing),
            "per_class": per_class}
    ### END SOLUTION A4


def panoptic_quality(pred, target, things, stuffs, void_label=None, crowd=None) -> dict:
    """Panoptic quality of predicted panoptic maps against targets, COCO ``panopticapi`` rules.

    ``PQ_c = Σ_TP IoU / (TP + ½FP + ½FN) = SQ_c · RQ_c``; matches at IoU > 0.5; averages over
    the categories with ``TP + FP + FN > 0``.

    pred, target: integer arrays ``(..., H, W, 2)`` of ``(category_id, instance_id)``;
    the leading dims are a batch of images (segments never match across images).
    things, stuffs: disjoint collections of int category ids (instance ids of stuff are
    ignored). void_label: int or ``None``. Target pixels of ``void_label`` or of a category in
    neither set are void; predicted pixels of ``void_label`` are unlabelled (no segment); a
    predicted category in neither set (nor ``void_label``) is a ``ValueError``.
    crowd: optional bool ``(..., H, W)``, True on target crowd regions (COCO ``iscrowd``): all
    crowd pixels of one category in one image form one region, never matched, never a false
    negative, and counted with void when deciding whether an unmatched prediction of that
    category is a false positive. Not in torchmetrics; ``panopticapi`` keeps one crowd
    segment per category and image, which this reproduces.

    Returns a dict: ``pq``, ``sq``, ``rq`` (floats) and ``n`` (categories averaged over);
    ``things`` and ``stuff`` (each ``{"pq", "sq", "rq", "n"}``); ``per_class``
    ``{category_id: {"pq", "sq", "rq", "tp", "fp", "fn"}}`` for every thing and stuff
    category (0.0 scores for one that never occurs, as ``panopticapi``). An average over no
    category is NaN (``panopticapi`` divides by zero there). The overall ``pq`` is the mean
    of per-class PQs, not ``sq · rq``. Lesson 10 (``lessons/10-panoptic.md``).
    """
    fn = "panoptic_quality"
    cats = _Categories(fn, things, stuffs, void_label)
    return _scores(_stats(fn, pred, target, cats, crowd), cats.is_thing)


class PanopticMeter:
    """Streaming panoptic quality over a data set: sums per-category counts, scores at the end.

    ``PanopticMeter(things, stuffs, void_label=None)``; ``update(pred, target, crowd=None)``
    per batch (``(..., H, W, 2)`` maps as ``panoptic_quality``); ``compute()`` returns the
    ``panoptic_quality`` dict of everything seen; ``reset()``. Equal to one call of
    ``panoptic_quality`` on all the images at once. Lesson 10 (``lessons/10-panoptic.md``).
    """

    def __init__(self, things, stuffs, void_label=None):
        self._cats = _Categories("PanopticMeter", things, stuffs, void_label)
        self.reset()

    def reset(self) -> None:
        """Forget everything seen."""
        c = self._cats.count
        self._stats = {"categories": self._cats.ids.copy(), "iou_sum": np.zeros(c),
                       "tp": np.zeros(c, np.int64), "fp": np.zeros(c, np.int64),
                       "fn": np.zeros(c, np.int64)}
        self.num_updates = 0

    def update(self, pred, target, crowd=None) -> None:
        """Add the counts of one batch; a bad batch raises and leaves the meter as it was."""
        got = _stats("PanopticMeter.update", pred, target, self._cats, crowd)
        for key in ("iou_sum", "tp", "fp", "fn"):
            self._stats[key] += got[key]
        self.num_updates += 1

    def compute(self) -> dict:
        """The ``panoptic_quality`` dict of everything seen since the last reset."""
        return _scores({k: v.copy() for k, v in self._stats.items()}, self._cats.is_thing)
