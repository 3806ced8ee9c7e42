"""Where the time of ``minisegnet demo`` goes, and how its dense-CRF parameters were chosen.

Not a test and not a comparison with a peer: a record of the sizes the demo was designed
from (see ``minisegnet/demo.py``).

    python benchmarks/bench_demo.py                      # stage timings (data, step, CRF)
    python benchmarks/bench_demo.py --threads 1          # ... with one BLAS thread
    python benchmarks/bench_demo.py --crf-grid CKPT      # CRF parameter grid (see below)

``--crf-grid CKPT`` loads a demo checkpoint (``minisegnet-out/minipspnet_context.npz``),
predicts on **held-out samples of the train split** (indices 10000 and up: never trained on,
and not the validation images the demo reports), runs the dense CRF with every setting of a
small grid and prints mIoU, boundary-band accuracy and boundary IoU for each. The demo's
``DEMO_CRF_PARAMS`` is the setting with the best band accuracy among those that do not lower
mIoU.
"""

from __future__ import annotations

import itertools
import os
import sys
import time

import _harness as H

_parser = H.make_parser(__doc__)
_parser.add_argument("--crf-grid", metavar="CKPT", default=None,
                     help="run the CRF parameter grid with this demo checkpoint")
_parser.add_argument("--images", type=int, default=40, help="held-out images for the grid")
ARGS = _parser.parse_args()
if ARGS.threads < 1:
    raise SystemExit("--threads must be at least 1")
H.set_thread_env(ARGS.threads)     # before NumPy's import, as _harness.parse_args does
H.use_repo_checkout()

import numpy as np  # noqa: E402

H.set_threads(ARGS.threads)

from minisegnet import data, models, nn, train  # noqa: E402
from minisegnet.crf import crf_refine  # noqa: E402
from minisegnet.demo import DEMO_CRF_PARAMS, DEMO_SETTINGS, numba_threads  # noqa: E402


def _time(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def stage_timings():
    repeat = 2 if ARGS.quick else 5
    print(f"threads: {ARGS.threads}; load average {os.getloadavg()[0]:.2f} (other processes "
          "share these cores: timings move with it)")
    print(f"{'stage':<46}{'median':>12}")
    for size in (64, 128, 160, 192):
        t = _time(lambda size=size: data.make_context(8, "train", 0, size), repeat) / 8
        print(f"{f'context sample, {size}×{size}':<46}{1000 * t:>9.1f} ms")
    for size in (128, 160, 192):
        ds = data.make_context(8, "train", 0, size)
        rng = np.random.default_rng(0)
        t = _time(lambda ds=ds, rng=rng: ds.batch(range(8), data.DEMO_AUGMENT, rng), repeat)
        print(f"{f'augmented batch of 8, {size}×{size}':<46}{1000 * t:>9.1f} ms")
        nn.init.seed(0)
        model = models.MiniPSPNet(5)
        opt = train.SGD(model.parameters())
        x, y = ds.batch(range(8))
        train.train_step(model, opt, x, y)
        t = _time(lambda m=model, o=opt, x=x, y=y: train.train_step(m, o, x, y), repeat)
        print(f"{f'MiniPSPNet training step, batch 8, {size}×{size}':<46}{1000 * t:>9.1f} ms")
    size = DEMO_SETTINGS["size"]
    ds = data.make_context(4, "val", 0, size)
    probs = np.full((4, 5, size, size), 0.2, np.float32)
    with numba_threads(1):
        crf_refine(probs[:1], ds.images[:1], **DEMO_CRF_PARAMS)          # compile
        t = _time(lambda: crf_refine(probs, ds.images, **DEMO_CRF_PARAMS), repeat) / 4
    print(f"{f'dense CRF (5 iterations), {size}×{size}, 1 thread':<46}{1000 * t:>9.1f} ms")


def crf_grid(path):
    model, meta = train.load_checkpoint(path)
    size = meta.get("image_size", DEMO_SETTINGS["size"])
    held_out = data.make_context(ARGS.images, "train", meta.get("seed", 0), size, start=10000)
    probs = train.predict_probabilities(model, held_out)
    net = train.evaluate_predictions(probs.argmax(1), held_out)
    print(f"{ARGS.images} held-out train images ({size}×{size}); network: mIoU "
          f"{100 * net['mean_iou']:.2f}, band acc {100 * net['band']['pixel_accuracy']:.2f}, "
          f"boundary IoU {100 * net['boundary_iou']['mean']:.2f}")
    grid = {"sxy_bilateral": (8.0, 16.0, 32.0, 64.0, 80.0), "srgb": (5.0, 10.0, 20.0, 40.0),
            "compat_bilateral": (5.0, 10.0, 20.0), "sxy_gaussian": (1.0, 3.0)}
    rows = []
    print(f"{'sxy_b':>6}{'srgb':>6}{'w_b':>5}{'sxy_g':>6}{'mIoU':>8}{'band acc':>10}{'bIoU':>8}")
    with numba_threads(1):
        for values in itertools.product(*grid.values()):
            params = dict(zip(grid, values), compat_gaussian=3.0, n_iter=5)
            q = crf_refine(probs, held_out.images, **params)
            r = train.evaluate_predictions(q.argmax(1), held_out)
            rows.append((params, r["mean_iou"], r["band"]["pixel_accuracy"], r["boundary_iou"]["mean"]))
            print(f"{values[0]:>6g}{values[1]:>6g}{values[2]:>5g}{values[3]:>6g}"
                  f"{100 * rows[-1][1]:>8.2f}{100 * rows[-1][2]:>10.2f}{100 * rows[-1][3]:>8.2f}",
                  flush=True)
    ok = [r for r in rows if r[1] >= net["mean_iou"]]
    best = max(ok or rows, key=lambda r: r[2])
    print(f"\nbest band accuracy without lowering mIoU: {best[0]} (mIoU {100 * best[1]:.2f}, band "
          f"acc {100 * best[2]:.2f}, boundary IoU {100 * best[3]:.2f})")
    print(f"the demo uses: {DEMO_CRF_PARAMS}")


if __name__ == "__main__":
    if ARGS.crf_grid:
        crf_grid(ARGS.crf_grid)
    else:
        stage_timings()
    sys.exit(0)
