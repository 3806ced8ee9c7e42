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
separately for things and for stuff. Counting is vectorised: each ``(image, category,
instance)`` triple becomes one integer code, segments are the distinct codes (one
``bincount`` per group of images), and all intersections are one ``bincount`` of the pair
code ``target_segment · P + pred_segment``; only the per-segment bookkeeping afterwards works
on the (short) lists of segments and overlapping pairs. Lesson: ``lessons/10-panoptic.md``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from .._checks import check_array, check_same_device, is_int
from ..backend import get_array_module, to_numpy
from ._common import bincount, check_label_array, clamped_index, equal_scalar

__all__ = ["panoptic_quality", "PanopticMeter", "panoptic_segment_stats"]

# Pixels per group of images counted together on the CPU (at least one image): keeps the
# per-pixel temporaries a few MB, reused by the allocator, instead of fresh batch-sized
# arrays. CuPy counts the whole batch in one group.
_GROUP_PIXELS = 1 << 20

# Largest code range counted with a dense bincount + lookup table (else ``unique``).
_DENSE_LIMIT = 1 << 24

# Instance ids spanning more than this are first renumbered densely (``unique``).
_SPAN_LIMIT = 1 << 20


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
    if ids[0] >= 0 and ids[-1] < _SPAN_LIMIT:  # lookup table over [0, max id + 1]
        top = int(ids[-1]) + 1
        lut = np.full(top + 1, count, dtype=np.int64)
        lut[ids] = np.arange(count)
        return xp.asarray(lut)[clamped_index(xp, c, top)]  # other values land on ``top``
    dev_ids = xp.asarray(ids)
    pos = xp.minimum(xp.searchsorted(dev_ids, c), count - 1)
    return xp.where(dev_ids[pos] == c, pos, count)


def _segments(xp, code, inst, n_codes, local):
    """Number the distinct ``(image, code, instance)`` triples of a group of images.

    code, inst: ``(B, HW)`` int64. Returns ``(seg, areas, seg_image, seg_code, start)``:
    per pixel the segment number (global, or with ``local`` counted from 0 in each image),
    per segment its pixel count, image and code, and per image the first segment's number.
    """
    b = code.shape[0]
    lo, hi = int(inst.min()), int(inst.max())
    span = hi - lo + 1
    if span > _SPAN_LIMIT:  # huge or sparse instance ids: renumber them densely first
        _, inv = xp.unique(inst, return_inverse=True)
        inst, lo, span = inv.reshape(inst.shape).astype(xp.int64), 0, int(inv.max()) + 1
    image = xp.arange(b, dtype=xp.int64).reshape(b, 1)
    key = (image * n_codes + code) * span + (inst - lo)
    key_range = b * n_codes * span
    if key_range <= _DENSE_LIMIT:
        counts = bincount(xp, key.ravel(), key_range)
        present = xp.flatnonzero(counts)
        areas = counts[present]
        lut = xp.zeros(key_range, dtype=xp.int64)
        lut[present] = xp.arange(present.size)
        seg = lut[key]
    else:
        present, inv, areas = xp.unique(key.ravel(), return_inverse=True, return_counts=True)
        seg = inv.reshape(key.shape).astype(xp.int64)
    seg_image = present // (n_codes * span)
    seg_code = (present // span) % n_codes
    start = xp.searchsorted(seg_image, xp.arange(b + 1))
    if local:
        seg = seg - start[:b].reshape(b, 1)
    return seg, areas, seg_image, seg_code, start


def _group_stats(xp, pred, target, crowd, cats, fn):
    """Per-category ``(iou_sum, tp, fp, fn)`` of a group of images (``(B, HW, 2)`` maps)."""
    n_cat = cats.count
    void = n_cat
    ids = cats.ids
    is_thing = xp.asarray(np.append(cats.is_thing, False))  # (C + 1,): void is no thing

    # categories -> 0..C-1, C for void; predictions must name a category or void_label
    p_code = _category_index(xp, pred[..., 0], ids)
    unknown = p_code == void
    if cats.void_label is not None:
        unknown &= ~equal_scalar(xp, pred[..., 0], cats.void_label)
    if bool(unknown.any()):
        bad = sorted(int(v) for v in to_numpy(xp.unique(pred[..., 0][unknown]))[:10])
        raise ValueError(
            f"{fn}: pred holds category ids {bad} that are in neither things nor stuffs"
            + (f" nor the void_label {cats.void_label}" if cats.void_label is not None else "")
        )
    t_code = _category_index(xp, target[..., 0], ids)
    ### BEGIN SOLUTION A4
    p_inst = xp.where(is_thing[p_code], pred[..., 1], 0).astype(xp.int64)
    t_inst = xp.where(is_thing[t_code], target[..., 1], 0).astype(xp.int64)
    ### END SOLUTION A4
    n_t_codes = n_cat + 1
    if crowd is not None:  # crowd pixels of category c: code C + 1 + c, one region per image
        is_crowd = crowd & (t_code != void)
        t_code = xp.where(is_crowd, t_code + n_cat + 1, t_code)
        t_inst = xp.where(is_crowd, 0, t_inst)
        n_t_codes = 2 * n_cat + 1

    t_seg, t_area, t_img, t_kind, _ = _segments(xp, t_code, t_inst, n_t_codes, local=False)
    p_seg, p_area, p_img, p_kind, p_start = _segments(xp, p_code, p_inst, n_cat + 1, local=True)

    # every overlapping (target segment, predicted segment) pair and its intersection
    per_image = p_start[1:] - p_start[:-1]
    width = max(int(per_image.max()), 1)
    pair = t_seg * width + p_seg
    pair_range = int(t_area.size) * width
    if pair_range <= _DENSE_LIMIT:
        counts = bincount(xp, pair.ravel(), pair_range)
        nz = xp.flatnonzero(counts)
        inter = counts[nz]
    else:
        nz, inter = xp.unique(pair.ravel(), return_counts=True)
    pt = nz // width
    pp = p_start[t_img[pt]] + nz % width

    t_void = t_kind == void
    t_crowd = t_kind > void
    t_cat = xp.where(t_crowd, t_kind - n_cat - 1, t_kind)
    p_void = p_kind == void
    n_pred = int(p_area.size)
    inter_f = inter.astype(xp.float64)

    ### BEGIN SOLUTION A4
    # |p ∩ void| and |p ∩ crowd region of p's own category|, per predicted segment
    on_void = t_void[pt]
    void_area = bincount(xp, pp[on_void], n_pred, weights=inter_f[on_void])
    on_crowd = t_crowd[pt] & (t_cat[pt] == p_kind[pp])
    crowd_area = bincount(xp, pp[on_crowd], n_pred, weights=inter_f[on_crowd])

    # candidate matches: same category, neither side void nor crowd
    cand = ~t_void[pt] & ~t_crowd[pt] & ~p_void[pp] & (t_kind[pt] == p_kind[pp])
    ct, cp, ci = pt[cand], pp[cand], inter_f[cand]
    union = p_area[cp] + t_area[ct] - ci - void_area[cp]
    iou = ci / union
    match = iou > 0.5
    mt, mp, miou = ct[match], cp[match], iou[match]
    cat_of_match = t_kind[mt]
    tp = bincount(xp, cat_of_match, n_cat)
    iou_sum = bincount(xp, cat_of_match, n_cat, weights=miou)

    t_matched = xp.zeros(t_area.size, dtype=bool)
    t_matched[mt] = True
    p_matched = xp.zeros(n_pred, dtype=bool)
    p_matched[mp] = True
    missed = ~t_matched & ~t_void & ~t_crowd
    fn_count = bincount(xp, t_kind[missed], n_cat)
    ignored = (void_area + crowd_area) > 0.5 * p_area
    spurious = ~p_matched & ~p_void & ~ignored
    fp = bincount(xp, p_kind[spurious], n_cat)
    return (to_numpy(iou_sum[:n_cat]).astype(np.float64), to_numpy(tp[:n_cat]).astype(np.int64),
            to_numpy(fp[:n_cat]).astype(np.int64), to_numpy(fn_count[:n_cat]).astype(np.int64))
    ### END SOLUTION A4


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
    if n_img and pixels:
        group = n_img if xp.__name__ != "numpy" else max(1, _GROUP_PIXELS // pixels)
        for s in range(0, n_img, group):
            part = slice(s, min(s + group, n_img))
            got = _group_stats(xp, pred[part], target[part],
                               None if crowd is None else crowd[part], cats, fn)
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
