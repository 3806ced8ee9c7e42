"""Benchmark minisegnet's metrics on the CPU: confusion matrix + mIoU, and panoptic quality.

Two workloads, each compared with its peers in the same process, minisegnet on its default
tier setting (``"auto"``: the fast tier of ``metrics/_fast.py``) and, in a row of its own,
on the reference tier (``backend.use_impl("reference")``: the readable code students write;
no target, a report only):

* confusion matrix + mIoU over 50 label maps of 512 x 1024, 19 classes, 10% of the target
  pixels ignored (255), int64 labels: against a bare ``np.bincount`` floor (the minimal
  ``np.bincount(target * K + pred, minlength=K * K)`` on arrays masked beforehand, outside
  the timing; no checks, no mIoU) and against torchmetrics'
  ``multiclass_jaccard_index(average="macro", ignore_index=255)`` when installed;
* panoptic quality over 20 synthetic 512 x 1024 panoptic maps (11 stuff and 8 thing
  categories, about 30 instances per image, void pixels in the targets): against
  torchmetrics' ``PanopticQuality`` when installed.

    python benchmarks/bench_metrics.py                # full run
    python benchmarks/bench_metrics.py --quick        # CI smoke test
    python benchmarks/bench_metrics.py --json metrics.json

Targets (a report only, printed with PASS or MISS): the confusion matrix within 1.3x of the
bincount floor and faster than torchmetrics; panoptic quality at least 3x faster than
torchmetrics. torchmetrics' PanopticQuality takes tens of seconds per call here, so it is
timed once (no warm-up, no settle), whatever ``--repeat`` says. The exit status is 1 if a
result disagrees with its peer's (the matrix with the floor's, mIoU and PQ/SQ/RQ with
torchmetrics' beyond TOLERANCE), else 0; timings never change it.
"""

from __future__ import annotations

import sys

import _harness as H

ARGS = H.parse_args(__doc__)  # sets the thread env vars: must come before numpy's import
H.use_repo_checkout()

import numpy as np  # noqa: E402

from minisegnet import backend  # noqa: E402
from minisegnet import metrics as M  # noqa: E402

torch = H.torch_or_none()
H.set_threads(ARGS.threads)

try:  # torchmetrics is an optional peer
    from torchmetrics.detection import PanopticQuality
    from torchmetrics.functional.classification import multiclass_jaccard_index
except ImportError:
    PanopticQuality = multiclass_jaccard_index = None

# Largest acceptable |ours - theirs| (mIoU: torchmetrics works in float32).
TOLERANCE = 1e-5

K = 19
IGNORE_INDEX = 255
IGNORED_FRACTION = 0.10
CM_MAPS, PQ_MAPS, H_, W_ = 50, 20, 512, 1024
STUFFS = set(range(11))
THINGS = set(range(11, 19))
VOID = 255

COLUMNS = [
    ("name", "case", ""),
    ("peer", "peer", ""),
    ("mini_ms", "minisegnet ms", ".1f"),
    ("mini_iqr", "mini IQR", ".0%"),
    ("peer_ms", "peer ms", ".1f"),
    ("peer_iqr", "peer IQR", ".0%"),
    ("ratio", "mini/peer", ".3f"),
    ("target_text", "target", ""),
    ("verdict", "vs target", ""),
    ("check", "check", ""),
]


# --------------------------------------------------------------------------- data


def label_maps(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """50 x 512 x 1024 int64 target and prediction: 70% of predictions right, 10% ignored."""
    shape = (CM_MAPS, H_, W_)
    target = rng.integers(0, K, shape)
    wrong = rng.random(shape) >= 0.7
    pred = np.where(wrong, rng.integers(0, K, shape), target)
    target[rng.random(shape) < IGNORED_FRACTION] = IGNORE_INDEX
    return pred, target


def panoptic_maps(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` synthetic (512, 1024, 2) prediction / target pairs, int64.

    Targets: stuff in 64 x 64 blocks, about 30 thing rectangles with their own instance ids,
    a 100 x 100 void patch (category 255, in neither set). Predictions: the stuff shifted a
    few pixels, 80% of the things shifted by up to 8 pixels (10% with a wrong category), 5
    invented things; no predicted void (where torchmetrics and panopticapi differ).
    """
    target = np.zeros((n, H_, W_, 2), np.int64)
    pred = np.zeros((n, H_, W_, 2), np.int64)
    blocks = rng.integers(0, len(STUFFS), (n, H_ // 64, W_ // 64))
    target[..., 0] = np.repeat(np.repeat(blocks, 64, 1), 64, 2)
    pred[..., 0] = np.roll(target[..., 0], (5, 7), axis=(1, 2))
    things = sorted(THINGS)
    for b in range(n):
        for k in range(30):
            c = int(rng.choice(things))
            y, x = int(rng.integers(0, H_ - 40)), int(rng.integers(0, W_ - 40))
            hh, ww = (int(v) for v in rng.integers(10, 120, 2))
            target[b, y:y + hh, x:x + ww] = (c, k + 1)
            if rng.random() < 0.8:
                dy, dx = (int(v) for v in rng.integers(-8, 9, 2))
                pc = c if rng.random() < 0.9 else int(rng.choice(things))
                pred[b, max(y + dy, 0):y + dy + hh, max(x + dx, 0):x + dx + ww] = (pc, 1000 + k)
        for k in range(5):
            y, x = int(rng.integers(0, H_ - 40)), int(rng.integers(0, W_ - 40))
            pred[b, y:y + 30, x:x + 30] = (int(rng.choice(things)), 2000 + k)
        y, x = int(rng.integers(0, H_ - 100)), int(rng.integers(0, W_ - 100))
        target[b, y:y + 100, x:x + 100, 0] = VOID
    return pred, target


# --------------------------------------------------------------------------- cases


def row_from(name: str, peer: str, timings: dict, target: float | None, check: str,
             peer_key: str) -> dict:
    """One table row: ours against ``timings[peer_key]``, with the target ratio (``None``:
    a reference-tier row, reported without a target)."""
    mini = timings["mini"]
    row = {"name": name, "peer": peer, "mini_ms": mini.median * 1e3,
           "mini_iqr": mini.iqr / mini.median, "target": target, "check": check,
           "target_text": "none" if target is None else f"<= {target:.3g}x", "timings": timings}
    if peer_key in timings:
        theirs = timings[peer_key]
        row["peer_ms"] = theirs.median * 1e3
        row["peer_iqr"] = theirs.iqr / theirs.median
        row["ratio"] = row["mini_ms"] / row["peer_ms"]
        if target is not None:
            row["verdict"] = "PASS" if row["ratio"] <= target else "MISS"
    return row


def on_reference_tier(fn):
    """``fn`` run with the reference tier forced."""

    def run():
        with backend.use_impl("reference"):
            return fn()

    return run


def confusion_rows(rng: np.random.Generator) -> list[dict]:
    """Confusion matrix + mIoU against the bincount floor and torchmetrics."""
    pred, target = label_maps(rng)
    keep = target != IGNORE_INDEX
    pred_kept, target_kept = pred[keep], target[keep]  # the floor's masking: not timed

    def mini():
        cm = M.confusion_matrix(pred, target, K, ignore_index=IGNORE_INDEX)
        return cm, M.mean_iou(cm)

    def floor():
        return np.bincount(target_kept * K + pred_kept, minlength=K * K)

    cm, miou = mini()
    ref_cm, ref_miou = on_reference_tier(mini)()
    ok = np.array_equal(cm.ravel(), floor())
    ref_ok = np.array_equal(ref_cm.ravel(), floor()) and ref_miou == miou
    fns = {"mini": mini, "floor": floor, "reference": on_reference_tier(mini)}
    torch_check = "unchecked"
    if multiclass_jaccard_index is not None:
        tp, tt = torch.from_numpy(pred), torch.from_numpy(target)

        def peer():
            return multiclass_jaccard_index(tp, tt, K, average="macro", ignore_index=IGNORE_INDEX)

        diff = abs(float(peer()) - miou)
        torch_check = "ok" if diff <= TOLERANCE else f"MISMATCH ({diff:.1e})"
        fns["torch"] = peer
    timings = H.interleaved_times(fns, ARGS.repeat, ARGS.warmup, ARGS.settle)
    name = f"confusion+mIoU {CM_MAPS}x{H_}x{W_} K{K} ign {IGNORED_FRACTION:.0%}"
    rows = [row_from(name, "np.bincount floor", {"mini": timings["mini"], "floor": timings["floor"]},
                     1.3, "ok" if ok else "MISMATCH", "floor")]
    peer_timings = {"mini": timings["mini"]}
    if "torch" in timings:
        peer_timings["torch"] = timings["torch"]
    rows.append(row_from(name, "torchmetrics Jaccard", peer_timings, 1.0, torch_check, "torch"))
    rows.append(row_from(f"{name}, reference tier", "np.bincount floor",
                         {"mini": timings["reference"], "floor": timings["floor"]}, None,
                         "ok" if ref_ok else "MISMATCH", "floor"))
    return rows


def panoptic_rows(rng: np.random.Generator) -> list[dict]:
    """Panoptic quality against torchmetrics' PanopticQuality (timed once)."""
    n = 4 if ARGS.quick else PQ_MAPS
    pred, target = panoptic_maps(rng, n)

    def mini():
        return M.panoptic_quality(pred, target, THINGS, STUFFS)

    ours = mini()
    reference = on_reference_tier(mini)
    ref_diff = max(abs(a - b) for a, b in zip(
        [reference()[k] for k in ("pq", "sq", "rq")], [ours[k] for k in ("pq", "sq", "rq")]))
    timings = H.interleaved_times({"mini": mini, "reference": reference}, ARGS.repeat, ARGS.warmup,
                                  ARGS.settle)
    check = "unchecked"
    if PanopticQuality is not None:
        tp, tt = torch.from_numpy(pred), torch.from_numpy(target)
        result = {}

        def peer():
            metric = PanopticQuality(things=THINGS, stuffs=STUFFS, return_sq_and_rq=True)
            metric.update(tp, tt)
            result["value"] = metric.compute().tolist()

        timings["torch"] = H.summarize([H.time_once(peer)])
        diff = max(abs(a - b) for a, b in zip(result["value"], (ours["pq"], ours["sq"], ours["rq"])))
        check = "ok" if diff <= TOLERANCE else f"MISMATCH ({diff:.1e})"
        print(f"  PQ {ours['pq']:.4f} SQ {ours['sq']:.4f} RQ {ours['rq']:.4f} "
              f"(torchmetrics: {', '.join(f'{v:.4f}' for v in result['value'])})", file=sys.stderr)
    name = f"panoptic quality {n}x{H_}x{W_}, {len(THINGS)} things + {len(STUFFS)} stuff"
    rows = [row_from(name, "torchmetrics PQ (1 run)", timings, 1 / 3, check, "torch")]
    ref_timings = {"mini": timings["reference"]}
    if "torch" in timings:
        ref_timings["torch"] = timings["torch"]
    rows.append(row_from(f"{name}, reference tier", "torchmetrics PQ (1 run)", ref_timings, None,
                         "ok" if ref_diff <= 1e-12 else f"MISMATCH ({ref_diff:.1e} vs fast)", "torch"))
    return rows


def main() -> int:
    """Run both workloads, print the table, optionally write JSON; 1 if a check failed."""
    gemm_gflops = H.gemm_rate(ARGS.threads)
    info = H.machine_info(ARGS.threads, gemm_gflops)
    H.print_header(f"metrics: confusion matrix + mIoU, panoptic quality; median of {ARGS.repeat}", info)
    if multiclass_jaccard_index is None:
        print("torchmetrics is not installed: compared with the bincount floor only.\n")
    rng = np.random.default_rng(0)
    rows = confusion_rows(rng)
    print("  done: confusion matrix", file=sys.stderr, flush=True)
    rows += panoptic_rows(rng)
    print("  done: panoptic quality", file=sys.stderr, flush=True)
    H.print_table(rows, COLUMNS)
    if ARGS.json:
        H.write_json(ARGS.json, "bench_metrics.py", info, rows)
    return 1 if any(row["check"].startswith("MISMATCH") for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
