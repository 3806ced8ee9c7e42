"""A4 hidden tests of panoptic quality.

Every rule is drawn by a chosen parameter, not left to a seed: void (``void_label`` in both
maps, and target categories in neither set), crowd regions under predictions of their own
and of another category, things and stuff both present, things only, stuff only, thing and
stuff categories that never occur (8 and 10), uint8 maps, batches of images, and the
streaming meter. The seeds only draw shapes and labels.
Maps are blocky (2 x 2 blocks plus pixel noise), so that segments match, nearly match and
miss.
"""

import numpy as np
import pytest

# name: (things, stuffs, categories in the target, void_label, crowd, dtype, batch)
CASES = {
    "things-and-stuff": ([1, 2, 8], [3, 4, 5, 10], [1, 2, 3, 4, 5], None, None, np.int64, (2,)),
    "void-label": ([1, 2], [3, 4, 5, 10], [0, 1, 2, 3, 4], 0, None, np.int64, (2,)),
    "unknown-target-category": ([1, 2], [3, 4], [1, 2, 3, 4, 9], None, None, np.int64, (1,)),
    "crowd-own-category": ([1, 2], [3, 4], [1, 2, 3, 4], None, "own", np.int64, (2,)),
    "crowd-other-category": ([1, 2], [3, 4], [1, 2, 3, 4], None, "other", np.int64, (2,)),
    "crowd-and-void": ([1, 2], [3, 4], [0, 1, 2, 3, 4], 0, "own", np.int64, (3,)),
    "things-only": ([1, 2, 3, 8], [], [1, 2, 3, 6], None, None, np.int64, (2,)),
    "stuff-only": ([], [1, 2, 3, 10], [0, 1, 2, 3], 0, None, np.int64, (2,)),
    "uint8-batch": ([1, 2], [3, 4], [0, 1, 2, 3, 4], 0, "own", np.uint8, (2, 2)),
}


def _ints(data, seed, count=6):
    return [int(v) for v in data.integers((count,), seed, 0, 1 << 20)]


def _blocky(data, shape, seed, low, high):
    n, h, w = shape
    coarse = data.integers((n, (h + 1) // 2, (w + 1) // 2), seed, low, high)
    return np.repeat(np.repeat(coarse, 2, 1), 2, 2)[:, :h, :w]


def _scene(data, seed, things, stuffs, categories, void_label, crowd, batch):
    """Blocky target and a noisy prediction that names only the known categories of the
    target (or void_label): a thing or stuff category absent from ``categories`` never occurs."""
    r = _ints(data, seed)
    shape = (int(np.prod(batch)), 4 + r[0] % 7, 4 + r[1] % 7)
    cats = np.asarray(categories)[_blocky(data, shape, seed + 1, 0, len(categories))]
    inst = _blocky(data, shape, seed + 2, 0, 3)
    known = sorted(set(categories) & set(things + stuffs))
    noise = data.integers(shape, seed + 3, 0, 6)
    p_cats = np.where(noise == 0, np.asarray(known)[data.integers(shape, seed + 4, 0, len(known))],
                      cats)
    unknown = ~np.isin(p_cats, known)  # the target's void: unlabelled or a known category
    p_cats = np.where(unknown, void_label if void_label is not None else known[0], p_cats)
    p_inst = np.where(noise == 1, inst + 1, inst)
    mask = None
    if crowd:
        mask = (_blocky(data, shape, seed + 5, 0, 2) == 0) & np.isin(cats, things)
        if crowd == "other":  # the prediction names another thing on the crowd regions
            swap = np.asarray(things)[(np.searchsorted(things, cats.clip(min(things))) + 1)
                                      % len(things)]
            p_cats = np.where(mask, swap, p_cats)
        mask = mask.reshape(batch + shape[1:])
    pred = np.stack([p_cats, p_inst], axis=-1).reshape(batch + shape[1:] + (2,))
    target = np.stack([cats, inst], axis=-1).reshape(batch + shape[1:] + (2,))
    return pred, target, mask


@pytest.mark.points(2)
@pytest.mark.parametrize("case", sorted(CASES))
def test_panoptic_cases(check, data, case):
    """panoptic_quality with void, crowd regions (own and other category), things or stuff only"""
    things, stuffs, categories, void_label, crowd, dtype, batch = CASES[case]
    seed = 4200 + 10 * sorted(CASES).index(case)
    pred, target, mask = _scene(data, seed, things, stuffs, categories, void_label, crowd, batch)
    check("panoptic", pred=pred.astype(dtype), target=target.astype(dtype), things=things,
          stuffs=stuffs, void_label=void_label, crowd=mask)


@pytest.mark.points(1)
@pytest.mark.parametrize("case", ["things-and-stuff", "void-label", "stuff-only"])
def test_panoptic_meter_cases(check, data, case):
    """PanopticMeter over the images of a batch, one at a time"""
    things, stuffs, categories, void_label, _, dtype, _ = CASES[case]
    seed = 4300 + 10 * sorted(CASES).index(case)
    pred, target, _ = _scene(data, seed, things, stuffs, categories, void_label, None, (3,))
    check("panoptic_meter", preds=pred.astype(dtype), targets=target.astype(dtype), things=things,
          stuffs=stuffs, void_label=void_label)
