"""Train the lessons' comparisons over several seeds and store the results as JSON.

The lessons report every training comparison as mean ± spread over seeds, never one run.
This script produces those numbers (it takes minutes to hours; the figures and tables read
its output, ``lessons/figures/data/<experiment>.json``)::

    python lessons/figures/run_seeds.py pspnet-small --seeds 0-9   # lesson 07 / notebook 07
    python lessons/figures/run_seeds.py decoders-small --seeds 0-9 # lesson 08
    python lessons/figures/run_seeds.py a3 --seeds 0-4             # A3's training probe
    python lessons/figures/run_seeds.py a3-check --seeds 0-2       # A3's test vs. mutants
    python lessons/figures/run_seeds.py ablate --from-dir DIR      # collect `minisegnet ablate`

Each seed is stored as soon as it finishes, so an interrupted run resumes where it stopped.
``seed`` fixes the data (for the ``context`` experiments), the initial weights and the batch
order, exactly as ``minisegnet ablate --seed`` does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"

# Notebook 07's small Table 1: 64-pixel images, 96 training and 48 validation images,
# 120 iterations of batch 8, data.DEMO_AUGMENT.
SMALL = dict(size=64, n_train=96, n_val=48, iterations=120, batch_size=8, base_lr=0.01)
SMALL_PSP_ROWS = ["FCN baseline (no PPM)", "B1-MAX", "B1-AVE", "B1236-MAX-DR", "B1236-AVE-DR"]

# A3's public training test: the probe's configuration (data seed 0, no augmentation).
A3 = dict(size=64, n_train=128, n_val=32, iterations=120, widths=(8, 16, 24, 32))


def _load(path):
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    return None


def _save(path, body):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _seeds(text):
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(t) for t in text.split(",")]


def _context_rows(experiment):
    from minisegnet.demo import ABLATION_ROWS, DECODER_ROWS

    if experiment == "pspnet-small":
        return [row for row in ABLATION_ROWS if row[0] in SMALL_PSP_ROWS]
    return DECODER_ROWS


def run_context(experiment, seeds, path):
    """One ``run_ablation`` call per seed, with the small settings; results per seed."""
    from minisegnet.data import CONTEXT_CLASSES
    from minisegnet.demo import run_ablation

    body = _load(path) or {"experiment": experiment, "settings": SMALL,
                           "class_names": list(CONTEXT_CLASSES), "seeds": {}}
    rows = _context_rows(experiment)
    for seed in seeds:
        if str(seed) in body["seeds"]:
            continue
        t0 = time.perf_counter()
        results = run_ablation(seed=seed, seeds=1, rows=rows, settings=SMALL, threads=1,
                               progress=False, stream=open(os.devnull, "w"))
        body["seeds"][str(seed)] = {r["label"]: r["runs"][0] for r in results}
        body.setdefault("configs", {r["label"]: r["config"] for r in results})
        _save(path, body)
        print(f"{experiment} seed {seed}: " + ", ".join(
            f"{r['label']} {100 * r['mean_iou']:.1f}" for r in results)
            + f" ({time.perf_counter() - t0:.0f} s)", flush=True)


def _a3_run(seed, ppm):
    """The probe of ``assignments/a3/tests/probes.py`` (train_pspnet), with or without the
    pyramid pooling module; per-class IoU on the validation images."""
    from minisegnet import data, metrics, models, nn, train

    nn.init.seed(seed)
    train_set = data.make_context(A3["n_train"], "train", seed=0, size=A3["size"])
    val_set = data.make_context(A3["n_val"], "val", seed=0, size=A3["size"])
    model = models.MiniPSPNet(len(train_set.class_names), widths=A3["widths"], ppm=ppm)
    t0 = time.perf_counter()
    train.train(model, train_set, None, iterations=A3["iterations"], batch_size=8,
                base_lr=0.01, seed=seed, progress=False)
    seconds = time.perf_counter() - t0
    pred = train.predict_probabilities(model, val_set, 50, "cpu").argmax(axis=1)
    cm = metrics.confusion_matrix(pred, val_set.labels, val_set.num_classes)
    return {"mean_iou": float(metrics.mean_iou(cm)), "iou": [float(v) for v in metrics.iou(cm)],
            "pixel_accuracy": float(metrics.pixel_accuracy(cm)), "seconds": seconds}


def run_a3(seeds, path):
    from minisegnet.data import CONTEXT_CLASSES

    body = _load(path) or {"experiment": "a3", "settings": {k: list(v) if isinstance(v, tuple)
                                                            else v for k, v in A3.items()},
                           "class_names": list(CONTEXT_CLASSES), "seeds": {}}
    for seed in seeds:
        if str(seed) in body["seeds"]:
            continue
        runs = {"PSPNet": _a3_run(seed, True), "FCN baseline (no PPM)": _a3_run(seed, False)}
        body["seeds"][str(seed)] = runs
        _save(path, body)
        print(f"a3 seed {seed}: " + ", ".join(f"{k} {100 * v['mean_iou']:.1f} "
                                              f"({v['seconds']:.0f} s)" for k, v in runs.items()),
              flush=True)


def _no_pooling_ppm():
    """A "PPM disabled" submission of ``nn/ppm.py``: the right shapes and channels, but every
    level is a 1x1 convolution of the full map, no pooling, so no context reaches the head."""
    from minisegnet import nn
    from minisegnet.nn.containers import Concat, Identity, Sequential
    from minisegnet.nn.layers import BatchNorm2d, Conv2d, ReLU

    class NoPoolingPPM(nn.PyramidPooling):
        def __init__(self, in_channels, bins=(1, 2, 3, 6), pooling="avg", reduction=True,
                     align_corners=False, *, rng=None):
            branch = in_channels // len(bins) if reduction else in_channels
            Concat.__init__(self, Identity(), *[Sequential(Conv2d(in_channels, branch, 1, bias=False),
                                                           BatchNorm2d(branch), ReLU()) for _ in bins])
            self.in_channels, self.bins, self.pooling = in_channels, tuple(bins), pooling
            self.reduction, self.align_corners = bool(reduction), bool(align_corners)
            self.branch_channels, self.out_channels = branch, in_channels + len(bins) * branch

        def forward(self, x):
            return Concat.forward(self, x)

    return NoPoolingPPM


def run_a3_check(seeds, path):
    """The training test itself (its probe and its scoring, on the reference tier as graded)
    for three submissions: the reference, the FCN baseline (no PPM) and a PPM without pooling;
    the public configuration (data seed 0) and the hidden one, for several initial seeds."""
    import importlib.util
    from unittest import mock

    from minisegnet import backend, functional, models, nn

    root = Path(__file__).resolve().parents[2] / "assignments" / "a3" / "tests"
    spec = importlib.util.spec_from_file_location("a3_probes", root / "probes.py")
    probes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probes)
    spec = importlib.util.spec_from_file_location("a3_public", root / "public" / "test_train_pspnet.py")
    public = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(public)
    body = _load(path) or {"experiment": "a3-check", "runs": {}}
    build = models.MiniPSPNet.__init__
    fcn = mock.patch.object(models.MiniPSPNet, "__init__",
                            lambda self, *a, **k: build(self, *a, **dict(k, ppm=False)))
    variants = {"reference": None, "FCN baseline (ppm=False)": fcn,
                "PPM without pooling": mock.patch.object(nn, "PyramidPooling", _no_pooling_ppm())}
    for data_seed in (0, 4):
        val = probes.context_set(functional, n=public.N_VAL, split="val", size=public.SIZE,
                                 seed=data_seed)
        for seed in seeds:
            for name, patch in variants.items():
                key = f"{name} | data {data_seed} | seed {seed}"
                if key in body["runs"]:
                    continue
                t0 = time.perf_counter()
                with backend.use_impl("reference"), (patch or _nothing()):
                    got = probes.train_pspnet(functional, val["images"], public.SIZE, public.N_TRAIN,
                                              public.ITERATIONS, public.WIDTHS, seed=seed,
                                              data_seed=data_seed)
                vehicles, miou, iou = public.score_predictions(got, val["labels"])
                passed = vehicles >= public.VEHICLE_IOU and miou >= public.MEAN_IOU
                body["runs"][key] = {"vehicle_iou": float(vehicles), "mean_iou": miou,
                                     "passed": bool(passed), "seconds": time.perf_counter() - t0}
                _save(path, body)
                print(f"{key}: boat/car {100 * vehicles:.1f}, mIoU {100 * miou:.1f}, "
                      f"{'PASS' if passed else 'fail'} ({time.perf_counter() - t0:.0f} s)", flush=True)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def collect_ablate(folder, path):
    """Merge ``<folder>/ablate_<seed>/ablation.json`` files of ``minisegnet ablate --seed S``."""
    body = {"experiment": "ablate", "seeds": {}}
    for sub in sorted(Path(folder).glob("ablate_*/ablation.json")):
        run = json.loads(sub.read_text(encoding="utf-8"))
        body["settings"] = run["settings"]
        for seed in run["seeds"]:
            body["seeds"][str(seed)] = {r["label"]: next(x for x in r["runs"] if x["seed"] == seed)
                                        for r in run["rows"]}
    from minisegnet.data import CONTEXT_CLASSES

    body["class_names"] = list(CONTEXT_CLASSES)
    _save(path, body)
    print(f"collected seeds {sorted(body['seeds'], key=int)} into {path}")


def row_order(labels):
    """The rows in the order of ``ABLATION_ROWS`` and ``DECODER_ROWS`` (JSON files store them
    sorted by name), the FCN baseline first; unknown labels last, by name."""
    from minisegnet.demo import ABLATION_ROWS, DECODER_ROWS

    known = [label for label, _ in ABLATION_ROWS + DECODER_ROWS]
    known = ["FCN baseline (no PPM)"] + [k for k in known if k != "FCN baseline (no PPM)"]
    return sorted(labels, key=lambda k: (known.index(k) if k in known else len(known), k))


def summary(path):
    """Mean ± standard deviation (over seeds) of mIoU and of boat/car IoU per row."""
    body = _load(path)
    names = body["class_names"]
    boat, car = names.index("boat"), names.index("car")
    seeds = sorted(body["seeds"], key=int)
    labels = row_order({label for s in seeds for label in body["seeds"][s]})
    lines = [f"{path.name}: seeds {', '.join(seeds)}"]
    base_label = labels[0]
    for label in labels:
        which = [s for s in seeds if label in body["seeds"][s] and base_label in body["seeds"][s]]
        m = np.array([100 * body["seeds"][s][label]["mean_iou"] for s in which])
        v = np.array([50 * (body["seeds"][s][label]["iou"][boat] + body["seeds"][s][label]["iou"][car])
                      for s in which])
        gain = m - np.array([100 * body["seeds"][s][base_label]["mean_iou"] for s in which])
        sd = m.std(ddof=1) if len(m) > 1 else 0.0
        lines.append(f"  {label:<28} ({len(which)} seeds) mIoU {m.mean():5.1f} ± {sd:4.1f} "
                     f"[{m.min():5.1f}, {m.max():5.1f}]  boat/car {v.mean():5.1f}  gain "
                     f"{gain.mean():+5.1f} [{gain.min():+5.1f}, {gain.max():+5.1f}]")
    return "\n".join(lines)


def markdown_table(path, paired=()):
    """The lessons' seed table: per row, mIoU mean ± standard deviation, the gain over the
    first row of the same seed (mean and range), boat/car IoU mean ± standard deviation, and
    the number of seeds (a row may have been run with fewer seeds than others); then, for each
    ``(a, b)`` in ``paired``, the per-seed difference a − b (mean, range, wins)."""
    body = _load(path)
    names = body["class_names"]
    boat, car = names.index("boat"), names.index("car")
    seeds = sorted(body["seeds"], key=int)
    labels = row_order({label for s in seeds for label in body["seeds"][s]})
    base_label = labels[0]

    def runs(label, also=None):
        return [s for s in seeds if label in body["seeds"][s] and (also is None or also in body["seeds"][s])]

    def miou(label, which):
        return np.array([100 * body["seeds"][s][label]["mean_iou"] for s in which])

    def vehicles(label, which):
        return np.array([50 * (body["seeds"][s][label]["iou"][boat] + body["seeds"][s][label]["iou"][car])
                         for s in which])

    def spread(a):
        return f"{a.mean():.1f} ± {a.std(ddof=1):.1f}" if len(a) > 1 else f"{a.mean():.1f}"

    lines = ["| row | seeds | mIoU (%) | gain over the baseline | boat/car IoU (%) |",
             "|---|---|---|---|---|"]
    for label in labels:
        which = runs(label)
        gain = ""
        if label != base_label:
            both = runs(label, base_label)
            g = miou(label, both) - miou(base_label, both)
            gain = f"{g.mean():+.1f} [{g.min():+.1f}, {g.max():+.1f}]"
        lines.append(f"| {label} | {len(which)} | {spread(miou(label, which))} | {gain} | "
                     f"{spread(vehicles(label, which))} |")
    for a, b in paired:
        both = runs(a, b)
        d = miou(a, both) - miou(b, both)
        lines.append(f"\n{a} − {b}: {d.mean():+.1f} [{d.min():+.1f}, {d.max():+.1f}], "
                     f"{int((d > 0).sum())} of {len(d)} seeds positive")
    return f"seeds {seeds[0]}-{seeds[-1]} ({len(seeds)})\n" + "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment", choices=["pspnet-small", "decoders-small", "a3", "a3-check",
                                               "ablate", "summary", "table"])
    parser.add_argument("--file", default=None, help="table: which JSON file of --data")
    parser.add_argument("--paired", nargs="*", default=[], metavar="A|B",
                        help="table: rows to compare seed by seed, as 'A|B'")
    parser.add_argument("--seeds", default="0-4", help="e.g. 0-9 or 0,3,4")
    parser.add_argument("--from-dir", default=None, help="ablate: folder of ablate_<seed>/")
    parser.add_argument("--data", default=str(DATA), help="where the JSON files go")
    args = parser.parse_args(argv)
    folder = Path(args.data)
    if args.experiment == "table":
        print(markdown_table(folder / args.file, [tuple(p.split("|")) for p in args.paired]))
        return 0
    if args.experiment == "summary":
        for path in sorted(folder.glob("*.json")):
            if "seeds" in (_load(path) or {}):
                print(summary(path))
        return 0
    path = folder / f"{args.experiment}.json"
    if args.experiment == "ablate":
        collect_ablate(args.from_dir, path)
    elif args.experiment == "a3":
        run_a3(_seeds(args.seeds), path)
    elif args.experiment == "a3-check":
        run_a3_check(_seeds(args.seeds), path)
        return 0
    else:
        run_context(args.experiment, _seeds(args.seeds), path)
    print(summary(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
