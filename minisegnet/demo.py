"""The main jobs: ``minisegnet demo`` and ``minisegnet ablate``.

``run_demo`` trains MiniPSPNet from scratch on the built-in ``context`` data set, evaluates
it on the validation split (per-class IoU, mIoU, pixel accuracy, boundary-band metrics),
refines its output with the dense CRF, evaluates again, and writes a figure (image | ground
truth | prediction | refined), the training curves and the checkpoint.

``run_ablation`` reproduces the *shape* of PSPNet's Table 1 on ``context``: the FCN baseline
(the same dilated backbone without the pyramid pooling module) against PSP heads with one
bin or four, average or max pooling, with or without dimension reduction, and with or
without the auxiliary loss. Every row starts from the same seed, data and schedule, so
the rows differ only in the head.

Both are deterministic: the data come from ``(seed, split, index)``, the weights from
``nn.init.seed(seed)``, the batch order and augmentation from ``default_rng(seed)``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from contextlib import contextmanager

import numpy as np

__all__ = ["DEMO_SETTINGS", "QUICK_SETTINGS", "run_demo", "run_ablation", "ABLATION_ROWS",
           "DECODER_ROWS", "GpuUnavailableError"]

# 160-pixel images: the crowds of vehicles are large enough that a quarter of their pixels lie
# beyond the reach of the FCN baseline's receptive field (see data/synthetic.py).
DEMO_SETTINGS = dict(size=160, n_train=384, n_val=100, iterations=400, batch_size=8,
                     base_lr=0.01, val_every=100, n_figure=4)
QUICK_SETTINGS = dict(size=160, n_train=96, n_val=32, iterations=100, batch_size=8,
                      base_lr=0.01, val_every=0, n_figure=3)
ABLATION_SETTINGS = dict(size=160, n_train=384, n_val=100, iterations=400, batch_size=8,
                         base_lr=0.01)
ABLATION_QUICK = dict(size=160, n_train=96, n_val=40, iterations=120, batch_size=8,
                      base_lr=0.01)

# (label, MiniPSPNet options): the paper's Table 1 rows that differ in our implementation
# (with one bin, reducing C channels by len(bins) = 1 changes nothing, so B1 has no DR row).
# Dense-CRF parameters of the demo, chosen by `benchmarks/bench_demo.py --crf-grid` on 40
# held-out images of the *train* split (indices 10000+, never trained on; never the
# validation images the demo reports): the best boundary-band accuracy among the settings
# that do not lower mIoU, out of sxy_bilateral 8-80, srgb 5-40, compat_bilateral 5-20,
# sxy_gaussian 1 or 3. Close to pydensecrf's defaults (80, 13, 10): the synthetic images have
# clean colour edges, so a wide, colour-sharp appearance kernel pays.
DEMO_CRF_PARAMS = dict(n_iter=5, sxy_gaussian=1.0, compat_gaussian=3.0, sxy_bilateral=80.0,
                       srgb=10.0, compat_bilateral=10.0)

ABLATION_ROWS = [
    ("FCN baseline (no PPM)", dict(ppm=False)),
    ("B1-MAX", dict(bins=(1,), pooling="max")),
    ("B1-AVE", dict(bins=(1,), pooling="avg")),
    ("B1236-MAX", dict(bins=(1, 2, 3, 6), pooling="max", reduction=False)),
    ("B1236-AVE", dict(bins=(1, 2, 3, 6), pooling="avg", reduction=False)),
    ("B1236-MAX-DR", dict(bins=(1, 2, 3, 6), pooling="max", reduction=True)),
    ("B1236-AVE-DR", dict(bins=(1, 2, 3, 6), pooling="avg", reduction=True)),
    ("B1236-AVE-DR, no aux loss", dict(bins=(1, 2, 3, 6), pooling="avg", reduction=True,
                                       aux=False)),
]

# Lesson 08's comparison of decoders on the same budget: the FCN baseline (dilated backbone,
# stride 8, no decoder), U-Net (a full-width decoder, small receptive field), the ladder-style
# network (deep stride-32 encoder, lean decoder), the same encoder without the decoder (scores
# interpolated ×32: the ladder talk's ablation) and PSPNet (the baseline plus the pyramid).
DECODER_ROWS = [
    ("FCN baseline (no PPM)", dict(ppm=False)),
    ("U-Net", dict(model="unet")),
    ("Ladder (lean decoder)", dict(model="ladder")),
    ("Ladder encoder, ×32 interp.", dict(model="ladder", blend=False)),
    ("PSPNet (B1236-AVE-DR)", dict(bins=(1, 2, 3, 6), pooling="avg", reduction=True)),
]


class GpuUnavailableError(RuntimeError):
    """``device="gpu"`` asked for where CuPy or a CUDA GPU is missing."""


def _check_device(device):
    from .backend import gpu_available

    if device not in ("cpu", "gpu"):
        raise ValueError(f"device must be 'cpu' or 'gpu', got {device!r}")
    if device == "gpu" and not gpu_available():
        raise GpuUnavailableError(
            "--device gpu: no usable GPU (minisegnet.backend.gpu_available() is False: CuPy is "
            "not installed or sees no CUDA device). Install the extra with "
            "`pip install -e \".[gpu]\"` on a machine with an NVIDIA GPU, or use --device cpu.")


def auto_threads():
    """1 BLAS thread when the machine is busy (1-minute load average ≥ 0.5), else ``None``
    (the BLAS default: all cores). OpenBLAS's threads spin while they wait for each other;
    when another process holds a core they wait long, and a step can take 10× longer than
    on one thread. The thread count does not change the numbers (the GEMMs are split by
    rows and columns, not along the summed dimension)."""
    try:
        return 1 if os.getloadavg()[0] >= 0.5 else None
    except (AttributeError, OSError):   # no load average on this platform
        return None


@contextmanager
def numba_threads(n):
    """Run the block with ``n`` Numba threads (the max-pool and CRF kernels), restoring the
    previous count afterwards."""
    import numba

    old = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(old)


@contextmanager
def _blas_threads(threads):
    """Limit the BLAS thread pool (needs threadpoolctl; otherwise a no-op with a note) and
    Numba's to ``threads``; ``"auto"``: ``auto_threads()``. Yields a short description."""
    why = ""
    if threads == "auto":
        threads = auto_threads()
        if threads is None:
            yield "threads: default (machine idle)"
            return
        why = " (machine busy)"
    if not threads:
        yield "threads: default"
        return
    with numba_threads(threads):
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            yield (f"threads: Numba {threads}, BLAS default (limiting it needs threadpoolctl; "
                   "or set OPENBLAS_NUM_THREADS before starting)")
            return
        with threadpool_limits(limits=int(threads), user_api="blas"):
            yield f"threads: {threads}{why}"


def _interior_share(dataset, things, radius):
    """Share of thing pixels farther than ``radius`` pixels from any non-thing pixel."""
    from scipy import ndimage

    inside = np.isin(dataset.labels, things)
    far = 0
    for mask in inside:
        far += int((ndimage.distance_transform_edt(mask) > radius).sum())
    return far / max(1, int(inside.sum()))


def _pct(v):
    return "   -" if v is None or not np.isfinite(v) else f"{100 * v:5.1f}"


def comparison_table(before, after, class_names, band_width, boundary_width):
    """Per-class IoU and the summary metrics of two evaluations side by side."""
    freq = before["class_frequency"]
    lines = [f"{'class':<16}{'pixels %':>9}{'IoU %':>9}{'+CRF':>8}",
             f"{'-' * 16}{'-' * 9}{'-' * 9}{'-' * 8}"]
    for c, name in enumerate(class_names):
        lines.append(f"{c} {name:<14}{_pct(freq[c]):>9}{_pct(before['iou'][c]):>9}"
                     f"{_pct(after['iou'][c]):>8}")
    lines.append(f"{'-' * 16}{'-' * 9}{'-' * 9}{'-' * 8}")
    rows = [("mean IoU", before["mean_iou"], after["mean_iou"]),
            ("pixel accuracy", before["pixel_accuracy"], after["pixel_accuracy"]),
            (f"band mIoU ({band_width} px)", before["band"]["mean_iou"], after["band"]["mean_iou"]),
            (f"band accuracy ({band_width} px)", before["band"]["pixel_accuracy"],
             after["band"]["pixel_accuracy"]),
            (f"boundary IoU ({boundary_width} px)", before["boundary_iou"]["mean"],
             after["boundary_iou"]["mean"])]
    for label, a, b in rows:
        lines.append(f"{label:<25}{_pct(a):>9}{_pct(b):>8}")
    return "\n".join(lines)


def run_demo(quick=False, seed=0, out="minisegnet-out", device="cpu", iterations=None,
             threads="auto", progress=True, crf=True, stream=None):
    """Train, evaluate, refine and draw; returns a dict of the results (see module doc).

    Writes ``<out>/demo.png`` (image | ground truth | prediction | refined),
    ``<out>/training.png`` and ``<out>/minipspnet_context.npz``.
    """
    stream = stream or sys.stdout
    _check_device(device)
    with _blas_threads(threads if device == "cpu" else None) as threads_note:
        return _run_demo(quick, seed, out, device, iterations, progress, crf, stream,
                         threads_note)


def _run_demo(quick, seed, out, device, iterations, progress, crf, stream, threads_note):
    from . import data, metrics, models, nn, train
    from .crf import crf_refine
    from .functional import receptive_field
    from .viz import save_figure, segmentation_grid, training_curves

    def say(*args):
        print(*args, file=stream, flush=True)

    t_start = time.perf_counter()
    s = dict(QUICK_SETTINGS if quick else DEMO_SETTINGS)
    if iterations is not None:
        s["iterations"] = int(iterations)
    say(f"minisegnet demo{' --quick' if quick else ''}: MiniPSPNet on the built-in `context` "
        f"data set (seed {seed}, device {device}, {threads_note})")
    say("Every vehicle is drawn from the same shapes and colours; it is a boat on water and a "
        "car on road,\nso only the surroundings decide its class (PSPNet's mismatched "
        "relationship).")

    t0 = time.perf_counter()
    train_set = data.make_context(s["n_train"], "train", seed, s["size"])
    val_set = data.make_context(s["n_val"], "val", seed, s["size"])
    say(f"\ndata: {len(train_set)} train / {len(val_set)} val images of {s['size']}×{s['size']}, "
        f"classes {', '.join(train_set.class_names)} ({time.perf_counter() - t0:.1f} s)")

    nn.init.seed(seed)
    model = models.MiniPSPNet(train_set.num_classes)
    rf, _ = receptive_field(model.backbone_layers())
    n_params = sum(p.size for p in model.parameters())
    reach = rf // 2 + 8          # half the receptive field, plus the ×8 bilinear upsampling
    share = _interior_share(val_set, train_set.things, reach)
    say(f"model: MiniPSPNet({model.extra_repr()}), {n_params:,} parameters")
    say(f"receptive field without the PPM: {rf} px (+ the ×8 upsampling: a reach of {reach} px); "
        f"{100 * share:.0f}% of the\nvehicle pixels lie deeper than that inside their crowd: "
        f"from there only the pyramid pooling sees water or road.")

    os.makedirs(out, exist_ok=True)
    ckpt = os.path.join(out, "minipspnet_context.npz")
    config = train.TrainConfig(iterations=s["iterations"], batch_size=s["batch_size"],
                               base_lr=s["base_lr"], val_every=s["val_every"],
                               augment=data.DEMO_AUGMENT, seed=seed, device=device,
                               checkpoint=ckpt, progress=progress,
                               meta={"dataset": "context", "seed": seed,
                                     "class_names": list(train_set.class_names),
                                     "image_size": s["size"]})
    say(f"\ntraining: {config.iterations} iterations, batch {config.batch_size}, SGD lr "
        f"{config.base_lr} (poly {config.power}), momentum {config.momentum}, weight decay "
        f"{config.weight_decay}, aux loss weight {config.aux_weight}, augmentation "
        f"(mirror, scale 0.75–1.25, rotation ±10°, blur)")
    result = train.train(model, train_set, val_set, config)
    for v in result["validation"]:
        say(f"  iteration {v['iteration']:4d}: val mIoU {100 * v['mean_iou']:.1f}, pixel accuracy "
            f"{100 * v['pixel_accuracy']:.1f}")
    hist = result["history"]
    first = float(np.mean([h["loss"] for h in hist[:20]]))
    last = float(np.mean([h["loss"] for h in hist[-20:]]))
    say(f"trained in {result['seconds']:.1f} s ({1000 * result['seconds'] / len(hist):.0f} ms per "
        f"iteration); loss {first:.3f} → {last:.3f} (mean of the first and last 20)")

    band_width, boundary_width = 3, 2
    t0 = time.perf_counter()
    probs = train.predict_probabilities(model, val_set, 50, device)
    pred = probs.argmax(axis=1).astype(np.uint8)
    before = train.evaluate_predictions(pred, val_set, band_width, boundary_width)
    after, refined_pred, crf_seconds = before, pred, 0.0
    if crf:
        t1 = time.perf_counter()
        with numba_threads(1):   # one thread: the same numbers on every run (and no waiting)
            q = crf_refine(probs, val_set.images, progress=progress, **DEMO_CRF_PARAMS)
        crf_seconds = time.perf_counter() - t1
        refined_pred = q.argmax(axis=1).astype(np.uint8)
        after = train.evaluate_predictions(refined_pred, val_set, band_width, boundary_width)
    params = ", ".join(f"{k}={v}" for k, v in DEMO_CRF_PARAMS.items())
    say(f"\nvalidation ({len(val_set)} images): network output and after dense-CRF refinement"
        + (f"\n(mean field, {params}; {crf_seconds:.1f} s)" if crf else " (CRF skipped)"))
    say(comparison_table(before, after, val_set.class_names, band_width, boundary_width))
    say(f"band = pixels within {band_width} px of a ground-truth label edge; boundary IoU: Cheng "
        f"et al. 2021, width {boundary_width} px")

    # figure: the validation images with the largest CRF gain in boundary-band accuracy first
    n_fig = s["n_figure"]
    band = metrics.boundary_band(val_set.labels, band_width)
    gain = ((refined_pred == val_set.labels) & band).sum(axis=(1, 2)) \
        - ((pred == val_set.labels) & band).sum(axis=(1, 2))
    picks = np.sort(np.argsort(-gain, kind="stable")[:n_fig])

    def image_miou(p, i):
        from .metrics import confusion_matrix, mean_iou

        return mean_iou(confusion_matrix(p[i], val_set.labels[i], val_set.num_classes))

    maps = {"ground truth": val_set.labels[picks], "prediction": pred[picks]}
    titles = {"prediction": [f"mIoU {100 * image_miou(pred, i):.1f}" for i in picks]}
    if crf:
        maps["refined (dense CRF)"] = refined_pred[picks]
        titles["refined (dense CRF)"] = [f"mIoU {100 * image_miou(refined_pred, i):.1f}"
                                         for i in picks]
    fig = segmentation_grid(val_set.images[picks], maps, val_set.palette, val_set.class_names,
                            titles=titles, row_labels=[f"val #{i}" for i in picks])
    fig_path = save_figure(fig, os.path.join(out, "demo.png"))
    curves_path = save_figure(training_curves(hist, result["validation"]),
                              os.path.join(out, "training.png"))
    final_meta = dict(config.meta, iteration=config.iterations,
                      val_mean_iou=float(before["mean_iou"]),
                      val_mean_iou_crf=float(after["mean_iou"]))
    train.save_checkpoint(ckpt, model, result["optimizer"], **final_meta)
    eval_seconds = time.perf_counter() - t0
    total = time.perf_counter() - t_start
    say(f"\nwrote:\n  figure      {fig_path}\n  curves      {curves_path}\n  checkpoint  {ckpt}"
        f"\n(reload with minisegnet.train.load_checkpoint({ckpt!r}))")
    say("The same network without the pyramid, the FCN baseline, swaps boats and cars inside "
        "crowds:\n`minisegnet ablate --out DIR` trains both on one budget and draws the images "
        "where it does (DIR/ablation.png).")
    say(f"total time {total:.1f} s (training {result['seconds']:.1f} s, evaluation + CRF + "
        f"figures {eval_seconds:.1f} s)")
    return {"before": before, "after": after, "train": result, "seconds": total,
            "figure": fig_path, "checkpoint": ckpt, "settings": s}


# ---------------------------------------------------------------- ablation


def run_ablation(quick=False, seed=0, seeds=1, device="cpu", iterations=None, out=None,
                 threads="auto", progress=True, rows=None, stream=None, settings=None):
    """Train every row of ``ABLATION_ROWS`` (``seeds`` times from ``seed`` on) on ``context``
    and print the Table-1-style summary; returns ``[{label, config, mean_iou, ...}, ...]``.
    With ``out``, also writes ``<out>/ablation.json``.

    ``rows``: ``[(label, options), ...]`` instead of ``ABLATION_ROWS``; ``options`` configure
    ``MiniPSPNet``, or name another model with ``"model"`` (a ``models.MODELS`` key, e.g.
    ``DECODER_ROWS``). ``settings``: overrides of the data and schedule (``size``, ``n_train``,
    ``n_val``, ``iterations``, ``batch_size``, ``base_lr``), e.g. notebook 07's
    ``dict(size=64, n_train=96, n_val=48, iterations=120)``."""
    stream = stream or sys.stdout
    _check_device(device)
    unknown = sorted(set(settings or {}) - set(ABLATION_SETTINGS))
    if unknown:
        raise ValueError(f"run_ablation: settings may change {sorted(ABLATION_SETTINGS)}, got "
                         f"{unknown[0]!r}")
    with _blas_threads(threads if device == "cpu" else None) as threads_note:
        return _run_ablation(quick, seed, seeds, device, iterations, out, progress, rows, stream,
                             threads_note, settings or {})


def _build_row_model(models, num_classes, options):
    """The model of one ablation row: ``MiniPSPNet(**options)``, or ``options["model"]``."""
    options = dict(options)
    name = options.pop("model", "pspnet")
    return models.build_model(name, num_classes=num_classes, **options)


def _run_ablation(quick, seed, seeds, device, iterations, out, progress, rows, stream,
                  threads_note, settings):
    from . import data, models, nn, train

    def say(*args):
        print(*args, file=stream, flush=True)

    s = dict(ABLATION_QUICK if quick else ABLATION_SETTINGS)
    s.update(settings)
    if iterations is not None:
        s["iterations"] = int(iterations)
    rows = ABLATION_ROWS if rows is None else rows
    seed_list = [seed + k for k in range(int(seeds))]
    say(f"minisegnet ablate: PSPNet's Table 1 on `context` ({s['n_train']} train / {s['n_val']} "
        f"val images of {s['size']}×{s['size']}, {s['iterations']} iterations, batch "
        f"{s['batch_size']}, seeds {seed_list}, device {device}, {threads_note})")
    results = []
    t_start = time.perf_counter()
    datasets = {}
    fig_preds = {}                       # label → predictions on the validation set (first seed)
    for label, options in rows:
        runs = []
        for sd in seed_list:
            if sd not in datasets:
                datasets[sd] = (data.make_context(s["n_train"], "train", sd, s["size"]),
                                data.make_context(s["n_val"], "val", sd, s["size"]))
            train_set, val_set = datasets[sd]
            nn.init.seed(sd)
            model = _build_row_model(models, train_set.num_classes, options)
            r = train.train(model, train_set, val_set, iterations=s["iterations"],
                            batch_size=s["batch_size"], base_lr=s["base_lr"],
                            augment=data.DEMO_AUGMENT, seed=sd, device=device,
                            progress=progress)
            f = r["final"]
            if sd == seed_list[0]:
                probs = train.predict_probabilities(model, val_set, 50, device)
                fig_preds[label] = probs.argmax(axis=1).astype(np.uint8)
            runs.append({"seed": sd, "mean_iou": float(f["mean_iou"]),
                         "pixel_accuracy": float(f["pixel_accuracy"]),
                         "iou": [float(v) for v in f["iou"]], "seconds": r["seconds"]})
        row = {"label": label, "options": {k: list(v) if isinstance(v, tuple) else v
                                           for k, v in options.items()},
               "config": model.config, "runs": runs,
               "mean_iou": float(np.mean([x["mean_iou"] for x in runs])),
               "mean_iou_std": float(np.std([x["mean_iou"] for x in runs])),
               "pixel_accuracy": float(np.mean([x["pixel_accuracy"] for x in runs])),
               "pixel_accuracy_std": float(np.std([x["pixel_accuracy"] for x in runs])),
               "seconds": float(np.sum([x["seconds"] for x in runs]))}
        results.append(row)
        say(f"  {label:<27} mIoU {100 * row['mean_iou']:5.1f}  pixel acc "
            f"{100 * row['pixel_accuracy']:5.1f}  ({row['seconds']:.0f} s)")
    say("\n" + ablation_table(results, data.CONTEXT_CLASSES))
    say("(Every `context` image has one kind of ground, so the global 1×1 bin already carries "
        "what decides\nthe class; finer bins pay off where parts of a scene need different "
        "context, as in the paper's ADE20K.)")
    say(f"total time {time.perf_counter() - t_start:.0f} s")
    if out:
        os.makedirs(out, exist_ok=True)
        path = os.path.join(out, "ablation.json")
        with open(path, "w") as f:
            json.dump({"settings": s, "seeds": seed_list, "rows": results}, f, indent=1)
        say(f"wrote {path}")
        _, val_set = datasets[seed_list[0]]
        figure = _ablation_figure(val_set, fig_preds)
        if figure is not None:
            from .viz import save_figure

            say(f"wrote {save_figure(figure, os.path.join(out, 'ablation.png'))}")
    return results


def boat_car_swaps(pred, labels, class_names):
    """Pixels whose true class is boat and predicted car, or the other way round: the
    "mismatched relationship" error of PSPNet's paper. ``(N, H, W)`` bool."""
    boat, car = class_names.index("boat"), class_names.index("car")
    return ((labels == boat) & (pred == car)) | ((labels == car) & (pred == boat))


def _ablation_figure(val_set, preds, n=4):
    """The headline failure: the validation images on which the FCN baseline swaps boat and
    car most, with its prediction, its swapped pixels and up to two PSP heads."""
    from .metrics import confusion_matrix, mean_iou
    from .viz import segmentation_grid

    wanted = [label for label in ("FCN baseline (no PPM)", "B1-AVE", "B1236-AVE-DR") if label in preds]
    if not wanted:
        wanted = list(preds)[:3]
    if not wanted:
        return None
    names = list(val_set.class_names)
    base = preds[wanted[0]]
    swaps = boat_car_swaps(base, val_set.labels, names) if {"boat", "car"} <= set(names) else None
    score = swaps.sum(axis=(1, 2)) if swaps is not None else np.zeros(len(val_set))
    picks = np.sort(np.argsort(-score, kind="stable")[:n])
    labels = val_set.labels[picks]
    maps = {"ground truth": labels}
    titles = {}
    for label in wanted:
        maps[label] = preds[label][picks]
        titles[label] = [f"mIoU {100 * mean_iou(confusion_matrix(p, t, val_set.num_classes)):.1f}"
                         for p, t in zip(preds[label][picks], labels)]
    if swaps is not None:
        column = "FCN: boat↔car swaps"
        maps[column] = np.where(swaps[picks], base[picks], val_set.ignore_index)
        titles[column] = [f"{int(k)} pixels" for k in score[picks]]
    return segmentation_grid(val_set.images[picks], maps, val_set.palette, names, titles=titles,
                             row_labels=[f"val #{i}" for i in picks])


def ablation_table(results, class_names=None):
    """The ablation as a text table in the layout of PSPNet's Table 1 (plus per-class IoU of
    the two context-decided classes when ``class_names`` holds ``boat`` and ``car``)."""
    multi = any(len(r["runs"]) > 1 for r in results)
    extra = []
    if class_names and "boat" in class_names and "car" in class_names:
        extra = [class_names.index("boat"), class_names.index("car")]
    head = f"{'Method':<27}{'Mean IoU (%)':>15}{'Pixel Acc. (%)':>17}"
    head += "".join(f"{class_names[c] + ' IoU':>10}" for c in extra)
    lines = [head, "-" * len(head)]
    base = results[0]["mean_iou"] if results else None
    for r in results:
        if multi:
            miou = f"{100 * r['mean_iou']:.1f} ± {100 * r['mean_iou_std']:.1f}"
            acc = f"{100 * r['pixel_accuracy']:.1f} ± {100 * r['pixel_accuracy_std']:.1f}"
        else:
            miou, acc = f"{100 * r['mean_iou']:.2f}", f"{100 * r['pixel_accuracy']:.2f}"
        line = f"{r['label']:<27}{miou:>15}{acc:>17}"
        for c in extra:
            line += f"{100 * np.mean([x['iou'][c] for x in r['runs']]):>10.1f}"
        lines.append(line)
    if base is not None and len(results) > 1:
        best = max(results[1:], key=lambda r: r["mean_iou"])
        lines.append(f"\nbest PSP head: {best['label']}, {100 * (best['mean_iou'] - base):+.1f} mIoU "
                     f"points over the FCN baseline")
    return "\n".join(lines)
