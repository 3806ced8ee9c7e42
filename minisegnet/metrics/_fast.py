"""The fast tier of the metrics: a cache-sized confusion-matrix counter and vectorised PQ.

Never graded; chosen by ``minisegnet.backend.fast_tier`` (``"auto"``: where it pays) and
tested against the reference tier (``tests/metrics/test_tiers.py``). Both tiers raise the
same errors: where this tier finds a bad label it asks the shared rule
(``_common.check_confusion_labels``) to name it, so the message never depends on how the
pixels were split into chunks.

* ``confusion_matrix``: the reference counts ``bincount(target · K + pred)`` on masked
  copies of the inputs. Here the pair codes are written, chunk by chunk, into a buffer that
  stays in cache (2 MiB of int64), the labels of a chunk are checked on data already in
  cache, and ignored target pixels (e.g. 255) are counted in a throw-away row of the table
  instead of being masked out: no batch-sized temporary at all. NumPy only.
* ``panoptic_group_stats``: the reference walks the overlapping segment pairs of one image
  in Python, as ``panopticapi`` does. Here a group of images is done at once: each
  ``(image, category, instance)`` triple is one integer code, segments are the distinct
  codes (a dense ``bincount`` + lookup table, or ``unique``), all intersections one
  ``bincount`` of ``target_segment · P + pred_segment``, and the rules (void and crowd
  areas, candidate pairs, IoU > 0.5, false negatives and positives) masks and
  ``bincount`` calls over the short lists of segments and pairs. Plain array code: CuPy takes
  it too, with the whole batch as one group.
"""

from __future__ import annotations

import numpy as np

from ..backend import to_numpy
from ._common import bincount, check_confusion_labels, equal_scalar, outside

__all__ = ["CHUNK", "DUMP_ROWS_LIMIT", "GROUP_PIXELS", "DENSE_LIMIT", "SPAN_LIMIT",
           "confusion_matrix", "images_per_group", "panoptic_group_stats"]

# Pixels per bincount: the pair codes of a chunk (2 MiB of int64) stay in cache, so the count
# runs at about the speed of a bare ``np.bincount`` on pre-masked arrays, checks included.
CHUNK = 1 << 18

# Largest table (rows x (K + 1) bins) for which ignored target pixels are counted in their
# own rows (row ``ignore_index``) and thrown away afterwards, instead of being masked.
DUMP_ROWS_LIMIT = 1 << 16

# Pixels per group of images counted together on the CPU (at least one image): keeps the
# per-pixel temporaries a few MB, reused by the allocator, instead of batch-sized arrays.
GROUP_PIXELS = 1 << 20

# Largest code range counted with a dense bincount + lookup table (else ``unique``).
DENSE_LIMIT = 1 << 24

# Instance ids spanning more than this are first renumbered densely (``unique``).
SPAN_LIMIT = 1 << 20


# --------------------------------------------------------------------------- confusion matrix


def confusion_matrix(pred, target, k, ignore_index, fn="confusion_matrix"):
    """``metrics.confusion_matrix`` on flat NumPy label arrays of one length (checked shapes).

    Counts chunk by chunk into a local table returned only when every chunk passed its
    label checks; the first chunk with a bad label hands the whole input to the shared
    rule, which raises the contract's error.
    """
    total = np.zeros((k, k), dtype=np.int64)
    n = pred.size
    if n == 0:
        return total
    buf = np.empty(min(CHUNK, n), dtype=np.int64)
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        counts = _count_chunk(pred[start:stop], target[start:stop], k, ignore_index, buf)
        if counts is None:
            check_confusion_labels(fn, np, pred, target, k, ignore_index)
            raise RuntimeError(f"{fn}: the fast tier found a bad label that the rules accept")
        total += counts
    return total


def _count_chunk(p, t, k, ign, buf):
    """The ``(K, K)`` counts of one chunk, or ``None`` if one of its labels breaks the rules."""
    stride = k + 1  # column K: pred == ignore_index (allowed only on ignored target pixels)
    ign_is_class = ign is not None and 0 <= ign < k

    pmin, pmax = int(p.min()), int(p.max())
    if pmin < 0 or pmax >= k:  # rare: only a pred that copies the ignore mask gets here
        if ign is None or ign_is_class:
            return None
        names_ignore = equal_scalar(np, p, ign)
        if bool((outside(np, p, k) & ~names_ignore).any()):
            return None
        p = np.where(names_ignore, k, p.astype(np.int64))

    tmin, tmax = int(t.min()), int(t.max())
    rows, dump_rows = k, False
    if tmin < 0 or tmax >= k:
        if ign is None or ign_is_class:
            return None
        if tmin >= 0 and tmax <= ign and (ign + 1) * stride <= DUMP_ROWS_LIMIT:
            # Typical case (ignore_index 255): count ignored pixels in row 255 and drop it;
            # any other row >= K that is not empty is a bad label, found in the table.
            rows, dump_rows = tmax + 1, True
        else:
            ignored = equal_scalar(np, t, ign)
            if bool((outside(np, t, k) & ~ignored).any()):
                return None
            t, rows = np.where(ignored, k, t.astype(np.int64)), k + 1

    key = buf[: p.size]  # pair codes written into the cache-sized buffer
    np.multiply(t, stride, out=key, dtype=np.int64, casting="unsafe")
    np.add(key, p, out=key, casting="unsafe")
    counts = np.bincount(key, minlength=rows * stride).reshape(rows, stride)

    if dump_rows:
        extra = counts[k:].sum(axis=1)
        if ign < rows:
            extra[ign - k] = 0
        if bool(extra.any()):
            return None
    if ign_is_class:
        counts[ign] = 0
    if bool(counts[:k, k].any()):  # pred == ignore_index on a counted pixel
        return None
    return counts[:k, :k]


# --------------------------------------------------------------------------- panoptic quality


def images_per_group(xp, n_images: int, pixels: int) -> int:
    """How many images ``panoptic_group_stats`` should take at once (at least one)."""
    if xp is not np:
        return max(n_images, 1)
    return max(1, GROUP_PIXELS // max(pixels, 1))


def _segments(xp, code, inst, n_codes, local):
    """Number the distinct ``(image, code, instance)`` triples of a group of images.

    code, inst: ``(B, P)`` int64. Returns ``(seg, areas, seg_image, seg_code, start)``:
    per pixel the segment number (global, or with ``local`` counted from 0 in each image),
    per segment its pixel count, image and code, and per image the first segment's number.
    """
    b = code.shape[0]
    lo, hi = int(inst.min()), int(inst.max())
    span = hi - lo + 1
    if span > SPAN_LIMIT:  # huge or sparse instance ids: renumber them densely first
        _, inv = xp.unique(inst, return_inverse=True)
        inst, lo, span = inv.reshape(inst.shape).astype(xp.int64), 0, int(inv.max()) + 1
    image = xp.arange(b, dtype=xp.int64).reshape(b, 1)
    key = (image * n_codes + code) * span + (inst - lo)
    key_range = b * n_codes * span
    if key_range <= DENSE_LIMIT:
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


def panoptic_group_stats(xp, p_cat, p_inst, t_cat, t_inst, crowd, is_thing):
    """Per-category ``(iou_sum, tp, fp, fn)`` of a group of images, as the reference tier's
    ``panoptic._image_stats`` summed over the images.

    p_cat, t_cat: ``(B, P)`` category index of each pixel (``C``: unlabelled / void);
    p_inst, t_inst: ``(B, P)`` integer instance ids; crowd: ``(B, P)`` bool or ``None``;
    is_thing: ``(C + 1,)`` bool on the device, False at ``C``. Returns NumPy ``(C,)`` float64
    and three ``(C,)`` int64.
    """
    n_cat = int(is_thing.size) - 1
    void = n_cat
    p_inst = xp.where(is_thing[p_cat], p_inst, 0).astype(xp.int64)
    t_inst = xp.where(is_thing[t_cat], t_inst, 0).astype(xp.int64)
    n_t_codes = n_cat + 1
    if crowd is not None:  # crowd pixels of category c: code C + 1 + c, one region per image
        is_crowd = crowd & (t_cat != void)
        t_cat = xp.where(is_crowd, t_cat + n_cat + 1, t_cat)
        t_inst = xp.where(is_crowd, 0, t_inst)
        n_t_codes = 2 * n_cat + 1

    t_seg, t_area, t_img, t_kind, _ = _segments(xp, t_cat, t_inst, n_t_codes, local=False)
    p_seg, p_area, _, p_kind, p_start = _segments(xp, p_cat, p_inst, n_cat + 1, local=True)

    # every overlapping (target segment, predicted segment) pair and its intersection
    per_image = p_start[1:] - p_start[:-1]
    width = max(int(per_image.max()), 1)
    pair = t_seg * width + p_seg
    pair_range = int(t_area.size) * width
    if pair_range <= DENSE_LIMIT:
        counts = bincount(xp, pair.ravel(), pair_range)
        nz = xp.flatnonzero(counts)
        inter = counts[nz]
    else:
        nz, inter = xp.unique(pair.ravel(), return_counts=True)
    pt = nz // width
    pp = p_start[t_img[pt]] + nz % width

    t_void = t_kind == void
    t_crowd = t_kind > void
    t_cat_of = xp.where(t_crowd, t_kind - n_cat - 1, t_kind)
    p_void = p_kind == void
    n_pred = int(p_area.size)
    inter = inter.astype(xp.float64)

    # |p ∩ void| and |p ∩ crowd region of p's own category|, per predicted segment
    on_void = t_void[pt]
    void_area = bincount(xp, pp[on_void], n_pred, weights=inter[on_void])
    on_crowd = t_crowd[pt] & (t_cat_of[pt] == p_kind[pp])
    crowd_area = bincount(xp, pp[on_crowd], n_pred, weights=inter[on_crowd])

    # candidate matches: same category, neither side void nor crowd; a match is unique
    cand = ~t_void[pt] & ~t_crowd[pt] & ~p_void[pp] & (t_kind[pt] == p_kind[pp])
    ct, cp, ci = pt[cand], pp[cand], inter[cand]
    iou = ci / (p_area[cp] + t_area[ct] - ci - void_area[cp])
    match = iou > 0.5
    mt, mp = ct[match], cp[match]
    tp = bincount(xp, t_kind[mt], n_cat)
    iou_sum = bincount(xp, t_kind[mt], n_cat, weights=iou[match])

    t_matched = xp.zeros(t_area.size, dtype=bool)
    t_matched[mt] = True
    p_matched = xp.zeros(n_pred, dtype=bool)
    p_matched[mp] = True
    missed = ~t_matched & ~t_void & ~t_crowd
    fn = bincount(xp, t_kind[missed], n_cat)
    ignored = (void_area + crowd_area) > 0.5 * p_area
    spurious = ~p_matched & ~p_void & ~ignored
    fp = bincount(xp, p_kind[spurious], n_cat)
    return (to_numpy(iou_sum[:n_cat]).astype(np.float64), to_numpy(tp[:n_cat]).astype(np.int64),
            to_numpy(fp[:n_cat]).astype(np.int64), to_numpy(fn[:n_cat]).astype(np.int64))
