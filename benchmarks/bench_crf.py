"""Benchmark the dense CRF's mean field (minisegnet.crf, method="lattice") against pydensecrf.

Five mean-field iterations, 21 labels, float32, pydensecrf's default model and parameters
(``addPairwiseGaussian(sxy=3, compat=3)``, ``addPairwiseBilateral(sxy=80, srgb=13,
compat=10)``), on scikit-image's bundled photographs: chelsea (300 x 451) and astronaut
resized to 640 x 480, then astronaut at 320 x 240, 640 x 480 and 1280 x 960 for the growth
with the number of pixels. Both sides are timed end to end: building the lattices from the
image and running the iterations (minisegnet: ``mean_field_forward``; pydensecrf:
``DenseCRF2D`` + ``setUnaryEnergy`` + both ``addPairwise*`` + ``inference(5)``).

    python benchmarks/bench_crf.py                # full run
    python benchmarks/bench_crf.py --quick        # CI smoke test
    python benchmarks/bench_crf.py --threads 1 --json crf.json
    python benchmarks/bench_crf.py --threading-layer workqueue   # Numba's own thread pool

minisegnet is timed with Numba's thread count set to ``--threads`` and to 1
(``numba.set_num_threads``); pydensecrf's C++ always runs on one thread. The build of the
two lattices alone (``lattice.Lattice``, the part of a call that does not depend on the
number of labels) is timed the same way, at both thread counts. Peak memory is
measured in a fresh process per case (the peak resident size ``VmHWM`` after the call minus
the resident size before it, with the inputs loaded and the peak mark reset through
``/proc/self/clear_refs``), as a multiple of one (L, H, W) float32 array. Linux only.

Targets (reported, never enforced): minisegnet at most 1.0x pydensecrf's time at
``--threads`` and at 1 thread; 4x the pixels within 4.5x the time; peak memory a small constant times the
(L, H, W) array. The exit status is 1 if minisegnet's MAP labels agree with pydensecrf's on
fewer than 95 % of the pixels of any case (the same model must give the same result), else 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import _harness as H

_LAYER_FLAG = "--threading-layer"
if _LAYER_FLAG in sys.argv:  # not a harness option: take it out before the harness parses
    _at = sys.argv.index(_LAYER_FLAG)
    _layer = sys.argv[_at + 1] if _at + 1 < len(sys.argv) else ""
    if _layer not in ("default", "omp", "tbb", "workqueue"):
        raise SystemExit(f"{_LAYER_FLAG} must be default, omp, tbb or workqueue, got {_layer!r}")
    del sys.argv[_at:_at + 2]
    if _layer != "default":
        os.environ["NUMBA_THREADING_LAYER"] = _layer  # read when Numba starts its threads
ARGS = H.parse_args(__doc__)  # sets the thread env vars: must come before numpy's import
H.use_repo_checkout()

import numba  # noqa: E402
import numpy as np  # noqa: E402

from minisegnet.crf import mean_field_backward, mean_field_forward, unary_from_probabilities  # noqa: E402
from minisegnet.crf.lattice import Lattice  # noqa: E402
from minisegnet.crf.meanfield import pairwise_features  # noqa: E402

try:
    import pydensecrf.densecrf as dcrf
except ImportError:  # optional peer
    dcrf = None

H.set_threads(ARGS.threads)
THREADS = min(ARGS.threads, numba.config.NUMBA_NUM_THREADS)
numba.set_num_threads(THREADS)

N_LABELS = 21
N_ITER = 5
PARAMS = dict(sxy_gaussian=3.0, compat_gaussian=3.0, sxy_bilateral=80.0, srgb=13.0,
              compat_bilateral=10.0)
AGREEMENT_FLOOR = 0.95
TIME_TARGET = 1.0
GROWTH_TARGET = 4.5

MAIN_CASES = [("chelsea", None), ("astronaut", (480, 640))]
GROWTH_SIZES = [(240, 320), (480, 640), (960, 1280)]


# --------------------------------------------------------------------------- inputs


def load_image(name: str, size) -> np.ndarray:
    """A bundled photograph, resized (bilinear, anti-aliased) to ``size = (H, W)`` if given."""
    from skimage import data, transform

    image = np.asarray(getattr(data, name)())[..., :3]
    if size is not None:
        image = transform.resize(image, size, order=1, anti_aliasing=True, preserve_range=True)
    return np.ascontiguousarray(np.clip(np.round(image), 0, 255).astype(np.uint8))


def make_unary(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A plausible classifier output: a class per brightness band, softened by noise, as energies."""
    h, w = image.shape[:2]
    band = (image.astype(np.float32).sum(-1) * (N_LABELS / 766.0)).astype(np.int64)
    logits = 2.0 * (np.arange(N_LABELS)[:, None, None] == band[None]).astype(np.float32)
    logits += rng.standard_normal((N_LABELS, h, w), dtype=np.float32)
    prob = np.exp(logits - logits.max(0))
    prob /= prob.sum(0)
    return unary_from_probabilities(prob)


def make_unary_and_image_small():
    """A 200 x 200 random case (above the parallel threshold) to start Numba's thread pool."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)
    return rng.random((N_LABELS, 200, 200), dtype=np.float32), image


# --------------------------------------------------------------------------- the runs


def mini_forward(unary, image, threads=None):
    """minisegnet's forward at ``threads`` Numba threads (the default count if None)."""
    if threads is not None:
        numba.set_num_threads(threads)
    try:
        return mean_field_forward(unary, image, n_iter=N_ITER, method="lattice", **PARAMS)
    finally:
        numba.set_num_threads(THREADS)


def mini_build(image, threads=None):
    """Both lattices of one call (features and build), at ``threads`` Numba threads."""
    if threads is not None:
        numba.set_num_threads(threads)
    try:
        return [Lattice(pairwise_features(image, PARAMS["sxy_gaussian"]), dtype=np.float32),
                Lattice(pairwise_features(image, PARAMS["sxy_bilateral"], PARAMS["srgb"]),
                        dtype=np.float32)]
    finally:
        numba.set_num_threads(THREADS)


def mini_forward_backward(unary, image, dq):
    q, cache = mini_forward(unary, image)
    return q, mean_field_backward(dq, cache)


def pydensecrf_forward(unary, image):
    """pydensecrf with the same model: returns Q (L, H, W)."""
    n_labels, h, w = unary.shape
    d = dcrf.DenseCRF2D(w, h, n_labels)
    d.setUnaryEnergy(np.ascontiguousarray(unary.reshape(n_labels, -1)))
    d.addPairwiseGaussian(sxy=PARAMS["sxy_gaussian"], compat=PARAMS["compat_gaussian"])
    d.addPairwiseBilateral(sxy=PARAMS["sxy_bilateral"], srgb=PARAMS["srgb"], rgbim=image,
                           compat=PARAMS["compat_bilateral"])
    return np.asarray(d.inference(N_ITER)).reshape(n_labels, h, w)


def check(unary, image) -> dict:
    """MAP agreement and max |ΔQ| of minisegnet against pydensecrf (once, before timing)."""
    if dcrf is None:
        return {"check": "unchecked"}
    ours, _ = mini_forward(unary, image)
    theirs = pydensecrf_forward(unary, image)
    agree = float((ours.argmax(0) == theirs.argmax(0)).mean())
    return {"agreement": agree, "max_dq": float(np.abs(ours - theirs).max()),
            "check": "ok" if agree >= AGREEMENT_FLOOR else "MISMATCH"}


def time_case(unary, image, with_backward: bool) -> dict:
    """Interleaved timings of minisegnet (``--threads`` and 1 thread), pydensecrf, and
    (optionally) minisegnet's lattice builds and forward + backward."""
    fns = {
        "mini": lambda: mini_forward(unary, image),
        "mini_1": lambda: mini_forward(unary, image, threads=1),
    }
    if with_backward:
        fns["build"] = lambda: mini_build(image)
        fns["build_1"] = lambda: mini_build(image, threads=1)
    if dcrf is not None:
        fns["pdc"] = lambda: pydensecrf_forward(unary, image)
    if with_backward:
        dq = np.random.default_rng(1).standard_normal(unary.shape, dtype=np.float32)
        fns["mini_fb"] = lambda: mini_forward_backward(unary, image, dq)
    return H.interleaved_times(fns, ARGS.repeat, ARGS.warmup, ARGS.settle)


def timing_row(name: str, unary, image, timings: dict) -> dict:
    row = {"name": name, "pixels": unary.shape[1] * unary.shape[2], "timings": timings}
    row["mini_ms"] = timings["mini"].median * 1e3
    row["mini_iqr"] = timings["mini"].iqr / timings["mini"].median
    row["mini_1_ms"] = timings["mini_1"].median * 1e3
    if "pdc" in timings:
        row["pdc_ms"] = timings["pdc"].median * 1e3
        row["pdc_iqr"] = timings["pdc"].iqr / timings["pdc"].median
        row["ratio"] = row["mini_ms"] / row["pdc_ms"]
        row["ratio_1"] = row["mini_1_ms"] / row["pdc_ms"]
        row["verdict"] = "PASS" if max(row["ratio"], row["ratio_1"]) <= TIME_TARGET else "MISS"
    if "build" in timings:
        row["build_ms"] = timings["build"].median * 1e3
        row["build_1_ms"] = timings["build_1"].median * 1e3
    if "mini_fb" in timings:
        row["fb_ms"] = timings["mini_fb"].median * 1e3
    return row


# --------------------------------------------------------------------------- memory

CHILD = r"""
import json, sys
spec = json.loads(sys.argv[1])
sys.path.insert(0, spec["root"])
import numpy as np
import numba
numba.set_num_threads(spec["threads"])
from minisegnet.crf import mean_field_backward, mean_field_forward
unary = np.load(spec["unary"])
image = np.load(spec["image"])
params = spec["params"]

def run(u, im):
    if spec["variant"] == "pydensecrf":
        import pydensecrf.densecrf as dcrf
        n, h, w = u.shape
        d = dcrf.DenseCRF2D(w, h, n)
        d.setUnaryEnergy(np.ascontiguousarray(u.reshape(n, -1)))
        d.addPairwiseGaussian(sxy=params["sxy_gaussian"], compat=params["compat_gaussian"])
        d.addPairwiseBilateral(sxy=params["sxy_bilateral"], srgb=params["srgb"], rgbim=im,
                               compat=params["compat_bilateral"])
        return np.asarray(d.inference(spec["n_iter"]))
    history = spec["variant"] != "forward"
    q, cache = mean_field_forward(u, im, n_iter=spec["n_iter"], method="lattice",
                                  save_history=history, **params)
    if spec["variant"] == "forward+backward":
        return q, mean_field_backward(q, cache)
    return q, cache

def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024

run(np.ascontiguousarray(unary[:, :16, :20]), np.ascontiguousarray(image[:16, :20]))  # warm up
import gc
gc.collect()
try:  # reset the peak-RSS mark to the current RSS (Linux >= 4.0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    reset = True
except OSError:
    reset = False
resident = status("VmRSS")
before = status("VmHWM")
result = run(unary, image)
after = status("VmHWM")
print(json.dumps({"resident": resident, "peak_before": before, "peak_after": after, "reset": reset}))
"""

MEMORY_VARIANTS = ["forward", "forward, history", "forward+backward", "pydensecrf"]


def peak_memory(unary, image, variant: str, workdir: str) -> float | None:
    """Peak extra bytes of one call, measured in a fresh process (Linux); None if unavailable."""
    if not os.path.exists("/proc/self/status") or (variant == "pydensecrf" and dcrf is None):
        return None
    paths = {"unary": os.path.join(workdir, "unary.npy"), "image": os.path.join(workdir, "image.npy")}
    np.save(paths["unary"], unary)
    np.save(paths["image"], image)
    spec = dict(paths, root=str(H.REPO_ROOT), threads=THREADS, n_iter=N_ITER, params=PARAMS,
                variant=variant)
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(spec)], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        print(f"memory child failed ({variant}): {done.stderr[-500:]}", file=sys.stderr)
        return None
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if not result["reset"] and result["peak_after"] <= result["peak_before"]:
        return None  # the peak mark could not be reset and the call did not raise it
    return float(result["peak_after"] - result["resident"])


def memory_row(name: str, unary, image, variants, workdir: str) -> dict:
    row = {"name": name, "lhw_mb": unary.nbytes / 1e6}
    for variant in variants:
        extra = peak_memory(unary, image, variant, workdir)
        key = variant.replace(", ", "_").replace("+", "_")
        if extra is not None:
            row[key + "_mb"] = extra / 1e6
            row[key + "_x"] = extra / unary.nbytes
    return row


# --------------------------------------------------------------------------- tables

MAIN_COLUMNS = [
    ("name", "case", ""),
    ("pixels", "pixels", "d"),
    ("mini_ms", f"mini ms ({THREADS} thr)", ".1f"),
    ("mini_iqr", "mini IQR", ".0%"),
    ("mini_1_ms", "mini ms (1 thr)", ".1f"),
    ("pdc_ms", "pydensecrf ms", ".1f"),
    ("pdc_iqr", "pdc IQR", ".0%"),
    ("ratio", f"mini/pdc ({THREADS} thr)", ".2f"),
    ("ratio_1", "mini/pdc (1 thr)", ".2f"),
    ("verdict", f"both <= {TIME_TARGET:.1f}x", ""),
    ("build_ms", f"build ms ({THREADS} thr)", ".1f"),
    ("build_1_ms", "build ms (1 thr)", ".1f"),
    ("fb_ms", "mini fwd+bwd ms", ".1f"),
    ("agreement", "MAP agree", ".5f"),
    ("max_dq", "max |dQ|", ".1e"),
    ("check", "check", ""),
]

GROWTH_COLUMNS = [
    ("name", "size", ""),
    ("pixels", "pixels", "d"),
    ("mini_ms", f"mini ms ({THREADS} thr)", ".1f"),
    ("mini_growth", "x prev", ".2f"),
    ("mini_1_ms", "mini ms (1 thr)", ".1f"),
    ("mini_1_growth", "x prev", ".2f"),
    ("pdc_ms", "pydensecrf ms", ".1f"),
    ("pdc_growth", "x prev", ".2f"),
    ("growth_verdict", f"mini <= {GROWTH_TARGET}x", ""),
    ("check", "check", ""),
]

MEMORY_COLUMNS = [
    ("name", "case", ""),
    ("lhw_mb", "(L,H,W) MB", ".1f"),
    ("forward_mb", "fwd MB", ".1f"),
    ("forward_x", "fwd x", ".1f"),
    ("forward_history_mb", "fwd+history MB", ".1f"),
    ("forward_history_x", "x", ".1f"),
    ("forward_backward_mb", "fwd+bwd MB", ".1f"),
    ("forward_backward_x", "x", ".1f"),
    ("pydensecrf_mb", "pydensecrf MB", ".1f"),
    ("pydensecrf_x", "x", ".1f"),
]


def add_growth(rows: list[dict]) -> None:
    for prev, row in zip(rows, rows[1:]):
        for key in ("mini", "mini_1", "pdc"):
            if f"{key}_ms" in row and f"{key}_ms" in prev:
                row[f"{key}_growth"] = row[f"{key}_ms"] / prev[f"{key}_ms"]
        row["growth_verdict"] = "PASS" if row["mini_growth"] <= GROWTH_TARGET else "MISS"


def main() -> int:
    gemm_gflops = H.gemm_rate(ARGS.threads)
    info = H.machine_info(ARGS.threads, gemm_gflops)
    info["numba_threads"] = THREADS
    info["pydensecrf"] = dcrf is not None
    mean_field_forward(*make_unary_and_image_small())  # start Numba's threads: the layer is known
    info["numba_threading_layer"] = numba.threading_layer()
    title = (f"dense CRF mean field, {N_ITER} iterations, {N_LABELS} labels, float32, lattice vs "
             f"pydensecrf, median of {ARGS.repeat}")
    H.print_header(title, info)
    print(f"  Numba threads: {THREADS} (and 1 in the '1 thr' columns), threading layer "
          f"{info['numba_threading_layer']}; pydensecrf: 1 thread (C++)")
    if dcrf is None:
        print("pydensecrf is not installed: minisegnet's times only, results not checked.")
    print()
    rng = np.random.default_rng(0)
    inputs = {}
    for name, size in MAIN_CASES + [("astronaut", s) for s in GROWTH_SIZES]:
        key = (name, size)
        if key not in inputs:
            image = load_image(name, size)
            inputs[key] = (make_unary(image, rng), image)

    main_rows, growth_rows, memory_rows = [], [], []
    for name, size in MAIN_CASES:
        unary, image = inputs[(name, size)]
        label = f"{name} {image.shape[0]}x{image.shape[1]}"
        row = timing_row(label, unary, image, time_case(unary, image, with_backward=True))
        row.update(check(unary, image))
        main_rows.append(row)
        print(f"  done: {label}", file=sys.stderr, flush=True)
    for size in GROWTH_SIZES:
        unary, image = inputs[("astronaut", size)]
        label = f"{image.shape[1]}x{image.shape[0]}"
        row = timing_row(label, unary, image, time_case(unary, image, with_backward=False))
        row.update(check(unary, image))
        growth_rows.append(row)
        print(f"  done: growth {label}", file=sys.stderr, flush=True)
    add_growth(growth_rows)
    with tempfile.TemporaryDirectory() as workdir:
        for name, size in MAIN_CASES:
            unary, image = inputs[(name, size)]
            memory_rows.append(memory_row(f"{name} {image.shape[0]}x{image.shape[1]}", unary,
                                          image, MEMORY_VARIANTS, workdir))
        for size in GROWTH_SIZES:
            unary, image = inputs[("astronaut", size)]
            memory_rows.append(memory_row(f"astronaut {image.shape[0]}x{image.shape[1]}", unary,
                                          image, ["forward", "pydensecrf"], workdir))
        print("  done: memory", file=sys.stderr, flush=True)

    print("Time of one call (build the lattices + 5 iterations):")
    H.print_table(main_rows, MAIN_COLUMNS)
    print("\nGrowth with the image size (astronaut, resized; 4x the pixels per step):")
    H.print_table(growth_rows, GROWTH_COLUMNS)
    print("\nPeak memory above the inputs, fresh process per case (x = multiples of one (L, H, W) "
          "float32 array):")
    H.print_table(memory_rows, MEMORY_COLUMNS)
    rows = main_rows + growth_rows
    for row in rows:
        if row.get("check") == "MISMATCH":
            print(f"MISMATCH {row['name']}: MAP agreement {row['agreement']:.4f} < {AGREEMENT_FLOOR}")
    if ARGS.json:
        H.write_json(ARGS.json, "bench_crf.py", info,
                     {"time": main_rows, "growth": growth_rows, "memory": memory_rows})
    return 1 if any(row.get("check") == "MISMATCH" for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
