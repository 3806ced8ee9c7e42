"""Slow, independent references for the metrics tests (never the library against itself).

* ``confusion_loop``: a Python loop over pixels.
* ``panoptic_loop``: COCO ``panopticapi``'s ``pq_compute_single_core`` re-told with one
  boolean mask per segment and Python loops over segments and segment pairs (no pair codes,
  no bincount): segments from a dict, the union minus the prediction's void part, matches at
  IoU > 0.5, the void + crowd rule for false positives, and ``pq_average``.
"""

from __future__ import annotations

import math

import numpy as np


def confusion_loop(pred, target, k, ignore_index=255):
    pred, target = np.asarray(pred).ravel(), np.asarray(target).ravel()
    cm = np.zeros((k, k), dtype=np.int64)
    for p, t in zip(pred.tolist(), target.tolist()):
        if ignore_index is not None and t == ignore_index:
            continue
        cm[t, p] += 1
    return cm


def _segment_masks(cat, inst, things, stuffs, crowd=None):
    """{(category, instance or 0): mask} of one image's real segments, plus crowd regions."""
    segs, crowds = {}, {}
    for c in sorted(set(cat.ravel().tolist())):
        if c not in things and c not in stuffs:
            continue
        of_c = cat == c
        if crowd is not None:
            if (of_c & crowd).any():
                crowds[c] = of_c & crowd
            of_c = of_c & ~crowd
        if c in stuffs:
            if of_c.any():
                segs[(c, 0)] = of_c
            continue
        for i in sorted(set(inst[of_c].tolist())):
            segs[(c, i)] = of_c & (inst == i)
    return segs, crowds


def panoptic_image_loop(pred, target, things, stuffs, void_label=None, crowd=None):
    """Per-category {cat: [iou_sum, tp, fp, fn]} of one (H, W, 2) pair."""
    things, stuffs = set(things), set(stuffs)
    tc, ti = target[..., 0], target[..., 1]
    pc, pi = pred[..., 0], pred[..., 1]
    for c in set(pc.ravel().tolist()):
        if c not in things and c not in stuffs and c != void_label:
            raise ValueError(f"unknown predicted category {c}")
    known = np.isin(tc, sorted(things | stuffs))
    void = ~known
    if void_label is not None:
        void |= tc == void_label
    gt, crowds = _segment_masks(np.where(void, -10**9, tc), ti, things, stuffs, crowd)
    pr, _ = _segment_masks(np.where(pc == void_label, -10**9, pc) if void_label is not None else pc,
                           pi, things, stuffs)
    stat = {c: [0.0, 0, 0, 0] for c in things | stuffs}
    gt_matched, pr_matched = set(), set()
    for g, gmask in gt.items():
        for p, pmask in pr.items():
            if g[0] != p[0]:
                continue
            inter = int((gmask & pmask).sum())
            if inter == 0:
                continue
            union = int(pmask.sum()) + int(gmask.sum()) - inter - int((pmask & void).sum())
            iou = inter / union
            if iou > 0.5:
                assert g not in gt_matched and p not in pr_matched, "matches must be unique"
                stat[g[0]][0] += iou
                stat[g[0]][1] += 1
                gt_matched.add(g)
                pr_matched.add(p)
    for g in gt:
        if g not in gt_matched:
            stat[g[0]][3] += 1
    for p, pmask in pr.items():
        if p in pr_matched:
            continue
        ignored = int((pmask & void).sum())
        if p[0] in crowds:
            ignored += int((pmask & crowds[p[0]]).sum())
        if ignored / pmask.sum() > 0.5:
            continue
        stat[p[0]][2] += 1
    return stat


def panoptic_loop(pred, target, things, stuffs, void_label=None, crowd=None):
    """The ``panoptic_quality`` dict (pq, sq, rq, n, things, stuff, per_class) by loops."""
    pred, target = np.asarray(pred), np.asarray(target)
    h, w = target.shape[-3:-1]
    pred = pred.reshape(-1, h, w, 2)
    target = target.reshape(-1, h, w, 2)
    crowd = None if crowd is None else np.asarray(crowd).reshape(-1, h, w)
    total = {c: [0.0, 0, 0, 0] for c in set(things) | set(stuffs)}
    for b in range(target.shape[0]):
        one = panoptic_image_loop(pred[b], target[b], things, stuffs, void_label,
                                  None if crowd is None else crowd[b])
        for c, v in one.items():
            total[c] = [a + x for a, x in zip(total[c], v)]
    per_class = {}
    for c, (iou, tp, fp, fn) in total.items():
        den = tp + 0.5 * fp + 0.5 * fn
        if den == 0:
            per_class[c] = {"pq": 0.0, "sq": 0.0, "rq": 0.0, "tp": 0, "fp": 0, "fn": 0}
            continue
        per_class[c] = {"pq": iou / den, "sq": iou / tp if tp else 0.0, "rq": tp / den,
                        "tp": tp, "fp": fp, "fn": fn}

    def average(cats):
        occurring = [c for c in cats if sum(total[c][1:]) > 0]
        if not occurring:
            return {"pq": math.nan, "sq": math.nan, "rq": math.nan, "n": 0}
        return {key: sum(per_class[c][key] for c in occurring) / len(occurring)
                for key in ("pq", "sq", "rq")} | {"n": len(occurring)}

    return {**average(set(things) | set(stuffs)), "things": average(things),
            "stuff": average(stuffs), "per_class": per_class}
