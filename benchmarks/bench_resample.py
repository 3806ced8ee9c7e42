"""Benchmark minisegnet's resampling ops and the loss, forward + backward, on the CPU.

The ops a segmentation net runs around its convolutions: bilinear upsampling of the
logits, the pyramid pooling module's adaptive average pooling, SegNet's max pool + max
unpool, and the pixel-wise softmax cross-entropy. Each case times one forward then one
backward with a fixed random upstream gradient (float32) and reports the median of several
runs. minisegnet runs its default tier setting (``"auto"``: the fast tier, Numba kernels for
max pooling and unpooling, wherever it exists); one extra row times max pool + unpool on the
reference tier (the graded code of assignment A2), for information. If PyTorch is installed,
the same step is timed with ``torch.nn.functional`` in the same process and at the same
thread count (Numba's too), interleaved with minisegnet's runs, and each case is checked once
against PyTorch's outputs and gradients.

    python benchmarks/bench_resample.py                # full run
    python benchmarks/bench_resample.py --quick        # CI smoke test
    python benchmarks/bench_resample.py --threads 1 --json resample.json

Every case has a target for minisegnet's time as a multiple of PyTorch's; the table prints
it next to the ratio with PASS or MISS. The exit status is 1 if any case's outputs disagree
with PyTorch's (max relative error above TOLERANCE, or a max-pool index that differs), else
0. Timings, and so the targets, never affect the exit status.
"""

from __future__ import annotations

import os
import sys

import _harness as H

ARGS = H.parse_args(__doc__)  # sets the thread env vars: must come before numpy's import
os.environ["NUMBA_NUM_THREADS"] = str(ARGS.threads)  # the fast tier's kernels: same count
H.use_repo_checkout()

import numpy as np  # noqa: E402

from minisegnet import backend  # noqa: E402
from minisegnet import functional as F  # noqa: E402

torch = H.torch_or_none()
H.set_threads(ARGS.threads)
TF = torch.nn.functional if torch is not None else None

# Largest acceptable max relative error (see H.max_rel_error) against PyTorch, float32.
TOLERANCE = 1e-3

# The ignore label of the Pascal VOC masks, and the share of pixels that carry it.
IGNORE_INDEX = 255
IGNORED_FRACTION = 0.05

BILINEAR = "bilinear"
ADAPTIVE = "adaptive_avg"
POOL_UNPOOL = "maxpool+unpool"
XENT = "cross_entropy"

# target: the largest acceptable minisegnet / PyTorch time ratio (reported, never enforced);
# None for the reference-tier row, which has no speed target. impl: the tier setting.
CASES = [
    dict(op=BILINEAR, n=8, c=21, h=33, w=33, out=257, align_corners=False, target=1.0),
    dict(op=BILINEAR, n=8, c=21, h=33, w=33, out=257, align_corners=True, target=1.0),
    dict(op=ADAPTIVE, n=8, c=512, h=60, w=60, bins=1, target=1.0),
    dict(op=ADAPTIVE, n=8, c=512, h=60, w=60, bins=2, target=1.0),
    dict(op=ADAPTIVE, n=8, c=512, h=60, w=60, bins=3, target=1.0),
    dict(op=ADAPTIVE, n=8, c=512, h=60, w=60, bins=6, target=1.0),
    dict(op=POOL_UNPOOL, n=8, c=64, h=112, w=112, k=2, stride=2, target=2.0),
    dict(op=POOL_UNPOOL, n=8, c=64, h=112, w=112, k=2, stride=2, target=None, impl="reference"),
    dict(op=XENT, n=8, c=21, h=256, w=256, target=1.5),
]  # fmt: skip

COLUMNS = [
    ("name", "case", ""),
    ("mb", "MB in+out", ".1f"),
    ("mini_ms", "minisegnet ms", ".2f"),
    ("mini_iqr", "mini IQR", ".0%"),
    ("torch_ms", "torch ms", ".2f"),
    ("torch_iqr", "torch IQR", ".0%"),
    ("ratio", "mini/torch", ".2f"),
    ("target_text", "target", ""),
    ("verdict", "vs target", ""),
    ("max_rel_err", "max rel err", ".1e"),
    ("check", "check", ""),
]


# --------------------------------------------------------------------------- shapes


def case_name(c: dict) -> str:
    """A short readable label, e.g. ``bilinear 8x21 33x33->257x257 ac=F``."""
    shape = f"{c['n']}x{c['c']} {c['h']}x{c['w']}"
    if c["op"] == BILINEAR:
        return f"bilinear {shape}->{c['out']}x{c['out']} ac={'T' if c['align_corners'] else 'F'}"
    if c["op"] == ADAPTIVE:
        return f"adaptive_avg {shape}->{c['bins']}x{c['bins']}"
    if c["op"] == POOL_UNPOOL:
        tier = " reference tier" if c.get("impl") == "reference" else ""
        return f"maxpool+unpool {shape} k{c['k']} s{c['stride']}{tier}"
    return f"cross_entropy {shape} ign {IGNORED_FRACTION:.0%}"


def make_inputs(c: dict, rng: np.random.Generator) -> dict:
    """Random float32 inputs and upstream gradients of one case (plus targets for the loss)."""
    n, ch, h, w = c["n"], c["c"], c["h"], c["w"]
    if c["op"] == BILINEAR:
        return {
            "x": rng.standard_normal((n, ch, h, w), dtype=np.float32),
            "dy": rng.standard_normal((n, ch, c["out"], c["out"]), dtype=np.float32),
        }
    if c["op"] == ADAPTIVE:
        return {
            "x": rng.standard_normal((n, ch, h, w), dtype=np.float32),
            "dy": rng.standard_normal((n, ch, c["bins"], c["bins"]), dtype=np.float32),
        }
    if c["op"] == POOL_UNPOOL:
        # No ties anywhere, so both libraries must pick the same argmax in every window:
        # a random permutation of n*c*h*w distinct values. Their spacing, 1/size (1.6e-7
        # here), is above float32's resolution in [-0.5, 0.5), so they stay distinct.
        size = n * ch * h * w
        x = (rng.permutation(size) / size - 0.5).astype(np.float32).reshape(n, ch, h, w)
        assert np.unique(x).size == size, "max-pool input has ties"
        return {"x": x, "dz": rng.standard_normal((n, ch, h, w), dtype=np.float32)}
    target = rng.integers(0, ch, size=(n, h, w), dtype=np.int64)
    target[rng.random((n, h, w)) < IGNORED_FRACTION] = IGNORE_INDEX
    return {"logits": rng.standard_normal((n, ch, h, w), dtype=np.float32), "target": target}


def megabytes(t: dict, outputs: tuple) -> float:
    """MB of the inputs plus the forward and backward outputs: a floor on memory traffic."""
    return (sum(a.nbytes for a in t.values()) + sum(np.asarray(a).nbytes for a in outputs)) / 1e6


# --------------------------------------------------------------------------- minisegnet

# Names of what mini_run and torch_run return, per op, in that order.
OUTPUT_NAMES = {
    BILINEAR: ("y", "dx"),
    ADAPTIVE: ("y", "dx"),
    POOL_UNPOOL: ("y", "indices", "z", "dx"),
    XENT: ("loss", "dlogits"),
}


def mini_run(c: dict, t: dict) -> tuple:
    """One forward + backward with minisegnet on the case's tier (default ``"auto"``)."""
    with backend.use_impl(c.get("impl", "auto")):
        return mini_step(c, t)


def mini_step(c: dict, t: dict) -> tuple:
    """One forward + backward with minisegnet; returns the arrays named in OUTPUT_NAMES."""
    if c["op"] == BILINEAR:
        y, cache = F.bilinear_upsample_forward(
            t["x"], size=(c["out"], c["out"]), align_corners=c["align_corners"]
        )
        return y, F.bilinear_upsample_backward(t["dy"], cache)
    if c["op"] == ADAPTIVE:
        y, cache = F.adaptive_avg_pool2d_forward(t["x"], c["bins"])
        return y, F.adaptive_avg_pool2d_backward(t["dy"], cache)
    if c["op"] == POOL_UNPOOL:
        y, idx, c1 = F.max_pool2d_forward(t["x"], c["k"], c["stride"], return_indices=True)
        z, c2 = F.max_unpool2d_forward(y, idx, c["k"], c["stride"])
        dy = F.max_unpool2d_backward(t["dz"], c2)
        dx = F.max_pool2d_backward(dy, c1)
        return y, idx, z, dx
    loss, cache = F.softmax_cross_entropy_forward(t["logits"], t["target"], ignore_index=IGNORE_INDEX)
    return loss, F.softmax_cross_entropy_backward(1.0, cache)


# --------------------------------------------------------------------------- PyTorch


def torch_tensors(c: dict, t: dict) -> dict:
    """PyTorch copies of the inputs; the op's input (x or logits) requires grad."""
    out = {k: torch.from_numpy(v.copy()) for k, v in t.items()}
    out["logits" if c["op"] == XENT else "x"].requires_grad_(True)
    return out


def torch_run(c: dict, tt: dict) -> tuple:
    """One forward + backward with PyTorch (grad reset first); returns OUTPUT_NAMES' tensors."""
    if c["op"] == XENT:
        tt["logits"].grad = None
        loss = TF.cross_entropy(tt["logits"], tt["target"], ignore_index=IGNORE_INDEX)
        loss.backward()
        return loss, tt["logits"].grad
    tt["x"].grad = None
    if c["op"] == BILINEAR:
        y = TF.interpolate(
            tt["x"], size=(c["out"], c["out"]), mode="bilinear", align_corners=c["align_corners"]
        )
        y.backward(tt["dy"])
        return y, tt["x"].grad
    if c["op"] == ADAPTIVE:
        y = TF.adaptive_avg_pool2d(tt["x"], c["bins"])
        y.backward(tt["dy"])
        return y, tt["x"].grad
    y, idx = TF.max_pool2d(tt["x"], c["k"], c["stride"], return_indices=True)
    z = TF.max_unpool2d(y, idx, c["k"], c["stride"])
    z.backward(tt["dz"])
    return y, idx, z, tt["x"].grad


def check_against_torch(c: dict, t: dict, tt: dict) -> dict:
    """Max relative error of each of minisegnet's outputs against PyTorch's.

    Integer outputs (max-pool indices) must agree exactly; their entry is the fraction of
    indices that differ, and the check fails on any.
    """
    ours = mini_run(c, t)
    theirs = [a.detach().numpy() for a in torch_run(c, tt)]
    errors = {}
    for name, a, ref in zip(OUTPUT_NAMES[c["op"]], ours, theirs, strict=True):
        a = np.asarray(a)
        if np.issubdtype(ref.dtype, np.integer):
            errors[name] = float(np.mean(a != ref)) if a.shape == ref.shape else float("inf")
        else:
            errors[name] = H.max_rel_error(a, ref)
    return errors


def errors_ok(errors: dict) -> bool:
    """Whether every float output is within TOLERANCE and every index agrees."""
    return all(v == 0.0 if k == "indices" else v <= TOLERANCE for k, v in errors.items())


# --------------------------------------------------------------------------- one case


def run_case(case: dict, rng: np.random.Generator) -> dict:
    """Check (if PyTorch is there) and time one case; returns one row of the table."""
    c = dict(case)
    t = make_inputs(c, rng)
    row = {"name": case_name(c), "case": c, "target": c["target"]}
    row["target_text"] = "none" if c["target"] is None else f"<= {c['target']:g}x"
    fns = {"mini": lambda: mini_run(c, t)}
    row["mb"] = megabytes(t, mini_run(c, t))
    if torch is None:
        row["check"] = "unchecked"
    else:
        tt = torch_tensors(c, t)
        errors = check_against_torch(c, t, tt)
        row["errors"] = errors
        row["max_rel_err"] = max(v for k, v in errors.items() if k != "indices")
        row["check"] = "ok" if errors_ok(errors) else "MISMATCH"
        fns["torch"] = lambda: torch_run(c, tt)
    timings = H.interleaved_times(fns, ARGS.repeat, ARGS.warmup, ARGS.settle)
    row["timings"] = timings
    add_times(row, timings)
    return row


def add_times(row: dict, timings: dict) -> None:
    """Fill in the ms, IQR, ratio and target columns of a row."""
    mini = timings["mini"].median
    row["mini_ms"] = mini * 1e3
    row["mini_iqr"] = timings["mini"].iqr / mini
    if "torch" in timings:
        peer = timings["torch"].median
        row["torch_ms"] = peer * 1e3
        row["torch_iqr"] = timings["torch"].iqr / peer
        row["ratio"] = mini / peer
        if row["target"] is not None:
            row["verdict"] = "PASS" if row["ratio"] <= row["target"] else "MISS"


def main() -> int:
    """Run every case, print the table, optionally write JSON; 1 if a check failed."""
    gemm_gflops = H.gemm_rate(ARGS.threads)
    info = H.machine_info(ARGS.threads, gemm_gflops)
    title = (
        "bilinear / adaptive avg pool / max pool + unpool / cross-entropy, "
        f"forward + backward, float32, median of {ARGS.repeat}"
    )
    H.print_header(title, info)
    if torch is None:
        print("PyTorch is not installed: minisegnet's times only, outputs not checked.\n")
    rng = np.random.default_rng(0)
    rows = []
    for case in CASES:
        rows.append(run_case(case, rng))
        print(f"  done: {rows[-1]['name']}", file=sys.stderr, flush=True)
    H.print_table(rows, COLUMNS)
    H.print_mismatches(rows, TOLERANCE, '; indices: fraction that differ, must be 0')
    if ARGS.json:
        H.write_json(ARGS.json, "bench_resample.py", info, rows)
    return 1 if any(row.get("check") == "MISMATCH" for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
