"""Benchmark minisegnet's conv2d and conv_transpose2d, forward + backward, on the CPU.

Each case times one forward then one backward with a fixed random ``dy`` (float32) and
reports the median of several runs, for minisegnet's default tier (``auto``: the fast tier
where it pays, Winograd for 3×3 stride-1 convolutions) and for its reference tier (the
readable im2col code students write; no target). If PyTorch is installed, the same step is
timed with ``torch.nn.functional`` in the same process and at the same thread count,
interleaved with minisegnet's runs, and each case is checked once against PyTorch's outputs
(y, dx, dw, db), both tiers. Target: ``mini/torch`` at most ``TARGET`` on every case.

    python benchmarks/bench_conv.py                # full run
    python benchmarks/bench_conv.py --quick        # CI smoke test
    python benchmarks/bench_conv.py --threads 1 --json conv.json

The exit status is 1 if any case's outputs disagree with PyTorch's (max relative error
above TOLERANCE), else 0. Timings never affect the exit status.
"""

from __future__ import annotations

import os
import sys

import _harness as H

ARGS = H.parse_args(__doc__)  # sets the thread env vars: must come before numpy's import
H.use_repo_checkout()
# The Winograd transform kernels split their work over numba.get_num_threads() threads.
os.environ["NUMBA_NUM_THREADS"] = str(ARGS.threads)

import numpy as np  # noqa: E402

from minisegnet import backend  # noqa: E402
from minisegnet import functional as F  # noqa: E402

torch = H.torch_or_none()
H.set_threads(ARGS.threads)

# Largest acceptable max relative error (see H.max_rel_error) against PyTorch, float32.
TOLERANCE = 1e-3
# Largest acceptable mini/torch ratio of the default tier, every case (a report only).
TARGET = 1.5

CONV = "conv2d"
TRANSPOSE = "conv_transpose2d"

CASES = [
    dict(op=CONV, n=8, c_in=64, c_out=64, h=64, w=64, k=3, padding=1),
    dict(op=CONV, n=2, c_in=3, c_out=64, h=224, w=224, k=7, stride=2, padding=3),
    dict(op=CONV, n=4, c_in=256, c_out=256, h=33, w=33, k=3, padding=2, dilation=2),
    dict(op=CONV, n=8, c_in=512, c_out=21, h=60, w=60, k=1),  # classifier head, 60x60 map
    dict(op=TRANSPOSE, n=4, c_in=21, c_out=21, h=16, w=16, k=4, stride=2, padding=1),
    dict(op=TRANSPOSE, n=2, c_in=64, c_out=32, h=32, w=32, k=3, stride=2, padding=1,
         output_padding=1),
]  # fmt: skip

DEFAULTS = dict(stride=1, padding=0, dilation=1, output_padding=0)

COLUMNS = [
    ("name", "case", ""),
    ("gflop", "GFLOP", ".4g"),
    ("mini_ms", "minisegnet ms", ".2f"),
    ("torch_ms", "torch ms", ".2f"),
    ("ratio", "mini/torch", ".2f"),
    ("target", "target", ""),
    ("ref_ms", "reference ms", ".2f"),
    ("ref_ratio", "ref/torch", ".2f"),
    ("mini_gflops", "mini GFLOP/s", ".1f"),
    ("mini_gemm_frac", "mini %GEMM", ".1%"),
    ("torch_gemm_frac", "torch %GEMM", ".1%"),
    ("max_rel_err", "max rel err", ".1e"),
    ("check", "check", ""),
]


# --------------------------------------------------------------------------- shapes


def full_case(case: dict) -> dict:
    """The case with every hyper-parameter filled in."""
    return {**DEFAULTS, **case}


def case_name(c: dict) -> str:
    """A short readable label, e.g. ``conv 8x64->64 64x64 k3 p1``."""
    kind = "conv " if c["op"] == CONV else "convT"
    parts = [f"{kind} {c['n']}x{c['c_in']}->{c['c_out']} {c['h']}x{c['w']} k{c['k']}"]
    for key, short in (("stride", "s"), ("padding", "p"), ("dilation", "d")):
        if c[key] != DEFAULTS[key]:
            parts.append(f"{short}{c[key]}")
    if c["output_padding"]:
        parts.append(f"op{c['output_padding']}")
    return " ".join(parts)


def output_size(c: dict, size: int) -> int:
    """Spatial output size along one axis (the same formulas as PyTorch's docs)."""
    span = c["dilation"] * (c["k"] - 1)
    if c["op"] == CONV:
        return (size + 2 * c["padding"] - span - 1) // c["stride"] + 1
    return (size - 1) * c["stride"] - 2 * c["padding"] + span + c["output_padding"] + 1


def flops(c: dict) -> int:
    """Flops of forward + backward: 3 times the forward's 2*MACs (bias terms ignored).

    conv2d:           3 * 2 * N * C_out * H_out * W_out * C_in * kH * kW
    conv_transpose2d: 3 * 2 * N * C_in * H_in * W_in * C_out * kH * kW
    """
    if c["op"] == CONV:
        positions = output_size(c, c["h"]) * output_size(c, c["w"])
    else:
        positions = c["h"] * c["w"]
    return 3 * 2 * c["n"] * positions * c["c_in"] * c["c_out"] * c["k"] * c["k"]


def make_inputs(c: dict, rng: np.random.Generator) -> dict:
    """Random float32 x, w, b and dy for one case (w laid out as in PyTorch)."""
    if c["op"] == CONV:
        w_shape = (c["c_out"], c["c_in"], c["k"], c["k"])
    else:
        w_shape = (c["c_in"], c["c_out"], c["k"], c["k"])
    fan_in = c["c_in"] * c["k"] * c["k"]
    y_shape = (c["n"], c["c_out"], output_size(c, c["h"]), output_size(c, c["w"]))
    return {
        "x": rng.standard_normal((c["n"], c["c_in"], c["h"], c["w"]), dtype=np.float32),
        "w": rng.standard_normal(w_shape, dtype=np.float32) / np.float32(np.sqrt(fan_in)),
        "b": rng.standard_normal(c["c_out"], dtype=np.float32),
        "dy": rng.standard_normal(y_shape, dtype=np.float32),
    }


# --------------------------------------------------------------------------- minisegnet


def mini_kwargs(c: dict) -> dict:
    """Keyword arguments of minisegnet's forward function for this case."""
    kwargs = dict(stride=c["stride"], padding=c["padding"], dilation=c["dilation"])
    if c["op"] == TRANSPOSE:
        kwargs["output_padding"] = c["output_padding"]
    return kwargs


def mini_run(c: dict, t: dict) -> tuple:
    """One forward + backward with minisegnet; returns ``(y, dx, dw, db)``."""
    forward, backward = (
        (F.conv2d_forward, F.conv2d_backward)
        if c["op"] == CONV
        else (F.conv_transpose2d_forward, F.conv_transpose2d_backward)
    )
    y, cache = forward(t["x"], t["w"], t["b"], **mini_kwargs(c))
    dx, dw, db = backward(t["dy"], cache)
    return y, dx, dw, db


# --------------------------------------------------------------------------- PyTorch


def torch_tensors(t: dict) -> dict:
    """PyTorch copies of the inputs; x, w and b require grad."""
    out = {k: torch.from_numpy(v.copy()) for k, v in t.items()}
    for k in ("x", "w", "b"):
        out[k].requires_grad_(True)
    return out


def torch_run(c: dict, tt: dict) -> tuple:
    """One forward + backward with PyTorch (grads reset first); returns ``(y, dx, dw, db)``."""
    for k in ("x", "w", "b"):
        tt[k].grad = None
    if c["op"] == CONV:
        y = torch.nn.functional.conv2d(
            tt["x"], tt["w"], tt["b"],
            stride=c["stride"], padding=c["padding"], dilation=c["dilation"],
        )  # fmt: skip
    else:
        y = torch.nn.functional.conv_transpose2d(
            tt["x"], tt["w"], tt["b"], stride=c["stride"], padding=c["padding"],
            output_padding=c["output_padding"], dilation=c["dilation"],
        )  # fmt: skip
    y.backward(tt["dy"])
    return y, tt["x"].grad, tt["w"].grad, tt["b"].grad


def reference_run(c: dict, t: dict) -> tuple:
    """``mini_run`` on minisegnet's reference tier."""
    with backend.use_impl("reference"):
        return mini_run(c, t)


def check_against_torch(c: dict, t: dict, tt: dict) -> dict:
    """Max relative error of minisegnet's y, dx, dw, db (both tiers) against PyTorch's."""
    theirs = [a.detach().numpy() for a in torch_run(c, tt)]
    errors = {}
    for tier, run in (("", mini_run), ("reference ", reference_run)):
        ours = run(c, t)
        for name, a, ref in zip(("y", "dx", "dw", "db"), ours, theirs, strict=True):
            errors[tier + name] = H.max_rel_error(a, ref)
    return errors


# --------------------------------------------------------------------------- one case


def run_case(case: dict, gemm_gflops: float, rng: np.random.Generator) -> dict:
    """Check (if PyTorch is there) and time one case; returns one row of the table."""
    c = full_case(case)
    t = make_inputs(c, rng)
    row = {"name": case_name(c), "case": c, "gflop": flops(c) / 1e9}
    fns = {"mini": lambda: mini_run(c, t), "reference": lambda: reference_run(c, t)}
    if torch is None:
        row["check"] = "unchecked"
    else:
        tt = torch_tensors(t)
        errors = check_against_torch(c, t, tt)
        row["errors"] = errors
        row["max_rel_err"] = max(errors.values())
        row["check"] = "ok" if row["max_rel_err"] <= TOLERANCE else "MISMATCH"
        fns["torch"] = lambda: torch_run(c, tt)
    timings = H.interleaved_times(fns, ARGS.repeat, ARGS.warmup, ARGS.settle)
    row["timings"] = timings
    add_rates(row, timings, gemm_gflops)
    return row


def add_rates(row: dict, timings: dict, gemm_gflops: float) -> None:
    """Fill in the ms, ratio, GFLOP/s and fraction-of-GEMM columns of a row."""
    mini = timings["mini"].median
    row["mini_ms"] = mini * 1e3
    row["ref_ms"] = timings["reference"].median * 1e3
    row["mini_gflops"] = row["gflop"] / mini
    row["mini_gemm_frac"] = row["mini_gflops"] / gemm_gflops
    if "torch" in timings:
        peer = timings["torch"].median
        row["torch_ms"] = peer * 1e3
        row["ratio"] = mini / peer
        row["target"] = f"<= {TARGET}x " + ("PASS" if row["ratio"] <= TARGET else "MISS")
        row["ref_ratio"] = timings["reference"].median / peer
        row["torch_gemm_frac"] = row["gflop"] / peer / gemm_gflops


def main() -> int:
    """Run every case, print the table, optionally write JSON; 1 if a check failed."""
    gemm_gflops = H.gemm_rate(ARGS.threads)
    info = H.machine_info(ARGS.threads, gemm_gflops)
    title = f"conv2d / conv_transpose2d, forward + backward, float32, median of {ARGS.repeat}"
    H.print_header(title, info)
    if torch is None:
        print("PyTorch is not installed: minisegnet's times only, outputs not checked.\n")
    rng = np.random.default_rng(0)
    rows = []
    for case in CASES:
        rows.append(run_case(case, gemm_gflops, rng))
        print(f"  done: {rows[-1]['name']}", file=sys.stderr, flush=True)
    H.print_table(rows, COLUMNS)
    H.print_mismatches(rows, TOLERANCE)
    if ARGS.json:
        H.write_json(ARGS.json, "bench_conv.py", info, rows)
    return 1 if any(row.get("check") == "MISMATCH" for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
