"""The lessons' figures, drawn with minisegnet itself.

    python lessons/figures/make_figures.py                 # every figure into lessons/figures/
    python lessons/figures/make_figures.py --only 07-bins  # some of them
    python lessons/figures/make_figures.py --cheap --out /tmp/figs   # those that train nothing
    python lessons/figures/make_figures.py --list

Every figure is computed by the package (its functions, layers, models, metrics and CRF),
deterministically: fixed seeds, one BLAS and Numba thread, a fixed DPI, and PNG files without
a "Software" entry, so the same code gives the same pixels. Figures marked ``cheap`` take a
second or a few; ``tests/test_lesson_figures.py`` regenerates them and compares pixels with the
committed files (the seed-spread figures among them read the results of ``run_seeds.py`` from
``data/``). The others train small networks on ``context`` (64-pixel images, 120 iterations,
as in notebook 07; a few minutes on one idle core) or refine a full-size photograph.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import types
from contextlib import ExitStack
from functools import cache
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DPI = 100
FIGURES = {}            # name -> (function, cheap)


def _magnitude(error):
    """A title's size of an error; rounding noise reads the same whichever tier computed it."""
    return "below 1e-12" if error < 1e-12 else f"max {error:.1e}"


def figure(name, cheap=True):
    """Register ``fn`` (returning a matplotlib Figure) as ``lessons/figures/<name>.png``."""
    def register(fn):
        FIGURES[name] = (fn, cheap)
        return fn
    return register


def _figure(w, h):
    from matplotlib.figure import Figure

    return Figure(figsize=(w, h), layout="constrained")


def _cells(ax, a, title=None, fmt="{:g}", cmap="Blues", vmin=None, vmax=None, fontsize=9):
    """A small 2-D array as coloured cells with its numbers written in."""
    a = np.asarray(a, dtype=float)
    vmin = min(0.0, float(np.nanmin(a))) if vmin is None else vmin
    vmax = max(float(np.nanmax(a)), 1e-9) if vmax is None else vmax
    ax.imshow(a, cmap=cmap, vmin=vmin, vmax=vmax)
    for (i, j), v in np.ndenumerate(a):
        if np.isfinite(v):
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=fontsize,
                    color="white" if v > vmin + 0.7 * (vmax - vmin) else "black")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)


def _off(ax):
    ax.set_xticks([])
    ax.set_yticks([])


# ============================================================== unit 01: task and measures

T01 = np.array([[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 1, 1], [2, 2, 1, 1]])
P01 = np.array([[0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 1], [0, 2, 1, 0]])


@figure("01-confusion")
def fig_01_confusion():
    """The lesson's 4×4 example: target, prediction, the confusion matrix and the scores."""
    from minisegnet import metrics as M
    from minisegnet.data.palette import colorize

    palette = np.array([[190, 190, 190], [70, 130, 200], [220, 120, 40]], np.uint8)
    cm = M.confusion_matrix(P01, T01, 3)
    fig = _figure(10, 2.9)
    axes = fig.subplots(1, 4, width_ratios=[1, 1, 1, 1.25])
    for ax, labels, title in ((axes[0], T01, "target"), (axes[1], P01, "prediction")):
        ax.imshow(colorize(labels, palette), interpolation="nearest")
        for (i, j), v in np.ndenumerate(labels):
            ax.text(j, i, str(v), ha="center", va="center", fontsize=10)
        _off(ax)
        ax.set_title(title, fontsize=10)
    wrong = (P01 != T01).astype(float)
    axes[2].imshow(wrong, cmap="Reds", vmin=0, vmax=1.5)
    for (i, j), v in np.ndenumerate(P01):
        axes[2].text(j, i, f"{T01[i, j]}→{v}" if wrong[i, j] else "", ha="center", va="center",
                     fontsize=9)
    _off(axes[2])
    axes[2].set_title("3 wrong pixels of 16", fontsize=10)
    _cells(axes[3], cm, "confusion matrix n_ij", fmt="{:.0f}")
    axes[3].set_xticks(range(3), ["pred 0", "pred 1", "pred 2"], fontsize=8)
    axes[3].set_yticks(range(3), ["true 0", "true 1", "true 2"], fontsize=8)
    iou = M.iou(cm)
    axes[3].set_xlabel("IoU " + ", ".join(f"{v:.3f}" for v in iou) + f"; mIoU {M.mean_iou(cm):.3f}",
                       fontsize=8)
    return fig


@figure("01-lazy-predictor")
def fig_01_lazy():
    """The lazy predictor ("majority class everywhere"): its scores against the class share f,
    closed forms and the package's numbers on random label maps."""
    from minisegnet import metrics as M

    k = 5
    f = np.linspace(0.2, 0.95, 100)
    fig = _figure(6.2, 3.3)
    ax = fig.subplots()
    for curve, label, colour in ((f, "pixel accuracy = f", "C0"), (np.full_like(f, 1 / k),
                                 "mean accuracy = 1/K", "C2"), (f / k, "mIoU = f/K", "C3"),
                                 (f ** 2, "FWIoU = f²", "C1")):
        ax.plot(f, curve, color=colour, label=label)
    rng = np.random.default_rng(0)
    for share in (0.3, 0.5, 0.7, 0.9):
        target = np.where(rng.random((64, 64)) < share, 0, rng.integers(1, k, (64, 64)))
        cm = M.confusion_matrix(np.zeros_like(target), target, k)
        fs = M.pixel_accuracy(cm)
        ax.plot([fs] * 4, [M.pixel_accuracy(cm), M.mean_accuracy(cm), M.mean_iou(cm),
                           M.frequency_weighted_iou(cm)], "ko", ms=3.5)
    ax.plot([], [], "ko", ms=3.5, label="metrics.* on label maps")
    ax.set_xlabel("share f of the majority class")
    ax.set_ylabel("score of 'majority class everywhere'")
    ax.set_title(f"The lazy predictor, K = {k} classes", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_ylim(0, 1)
    return fig


@figure("01-street-confusions")
def fig_01_street():
    """A Cityscapes-like confusion matrix with the talk's typical test errors (bus/truck,
    road/sidewalk), and what each confusion costs in IoU (the exercise's numbers)."""
    from minisegnet import metrics as M

    names, cm = street_confusions()
    iou = M.iou(cm)
    fig = _figure(10, 3.8)
    ax_cm, ax_iou = fig.subplots(1, 2, width_ratios=[1.1, 1])
    M.plot_confusion_matrix(cm, names, ax=ax_cm)
    ax_cm.set_title("row-normalised confusion (made-up counts)", fontsize=10)
    ax_iou.barh(range(len(names)), iou, color="C0")
    ax_iou.set_yticks(range(len(names)), names)
    ax_iou.invert_yaxis()
    for c, v in enumerate(iou):
        ax_iou.text(v + 0.01, c, f"{v:.3f}", va="center", fontsize=8)
    ax_iou.set_xlim(0, 1.1)
    ax_iou.set_xlabel("IoU")
    ax_iou.set_title(f"per-class IoU (mIoU {M.mean_iou(cm):.3f}, pixel acc. "
                     f"{M.pixel_accuracy(cm):.3f})", fontsize=10)
    return fig


def street_confusions():
    """Counts (in thousands of pixels) of a made-up street-scene evaluation with the typical
    errors of the ladder-DenseNet talk's Cityscapes examples: sidewalk taken for road, truck
    for bus and bus for truck, rider for person. Rows target, columns prediction."""
    names = ["road", "sidewalk", "car", "truck", "bus", "person", "rider"]
    cm = np.array([
        [9500, 300, 20, 5, 5, 5, 0],
        [400, 1400, 10, 0, 0, 10, 0],
        [30, 10, 2200, 40, 20, 5, 0],
        [5, 0, 60, 180, 120, 0, 0],
        [5, 0, 20, 90, 260, 0, 0],
        [5, 15, 5, 0, 0, 500, 25],
        [0, 0, 5, 0, 0, 45, 60],
    ], dtype=np.int64)
    return names, cm


# ============================================================== unit 02: fully convolutional

def _gradient_support(layers, size=41, rng=None):
    """|d input| of one output pixel (the centre) through a stack of single-channel convs with
    positive random 3×3 weights: ``layers`` = [(stride, dilation), ...]."""
    from minisegnet import functional as F

    rng = np.random.default_rng(0) if rng is None else rng
    x = np.zeros((1, 1, size, size))
    caches, weights = [], []
    for stride, dilation in layers:
        w = rng.uniform(0.5, 1.0, (1, 1, 3, 3))
        x, cache = F.conv2d_forward(x, w, stride=stride, padding=dilation, dilation=dilation)
        caches.append(cache)
        weights.append(w)
    dy = np.zeros_like(x)
    dy[0, 0, x.shape[2] // 2, x.shape[3] // 2] = 1.0
    for cache in reversed(caches):
        dy = F.conv2d_backward(dy, cache)[0]
    return np.abs(dy[0, 0])


@figure("02-receptive-field")
def fig_02_receptive_field():
    """Gradient of one output pixel w.r.t. the input through L 3×3 convolutions: support 1+2L,
    mass concentrated in the middle."""
    from minisegnet import functional as F

    fig = _figure(10, 2.9)
    axes = fig.subplots(1, 4)
    for ax, depth in zip(axes, (1, 2, 4, 8)):
        g = _gradient_support([(1, 1)] * depth, size=25)
        r, _ = F.receptive_field([(3, 1, 1)] * depth)
        ax.imshow(g / g.max(), cmap="magma", vmin=0, vmax=1)
        half = r // 2
        ax.add_patch(_rect(12 - half - 0.5, 12 - half - 0.5, r, r))
        ax.set_title(f"L = {depth}: field {r}×{r}", fontsize=10)
        _off(ax)
    fig.suptitle("|∂ output pixel / ∂ input| through L stacked 3×3 convolutions "
                 "(the box: F.receptive_field)", fontsize=10)
    return fig


def _rect(x, y, w, h, colour="cyan"):
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), w, h, fill=False, edgecolor=colour, lw=1.2)


@figure("02-output-stride")
def fig_02_output_stride():
    """What an ideal classifier at output stride s can draw: block class shares, bilinear
    upsampling, arg-max (FCN-32s/16s/8s in the best case)."""
    from minisegnet import functional as F
    from minisegnet.data.palette import colorize

    labels = _stride_scene(128)
    palette = np.array([[225, 225, 225], [200, 60, 60], [60, 110, 200], [40, 150, 70]], np.uint8)
    onehot = np.eye(4)[labels].transpose(2, 0, 1)[None]
    fig = _figure(10, 2.7)
    axes = fig.subplots(1, 5)
    axes[0].imshow(colorize(labels, palette), interpolation="nearest")
    axes[0].set_title("labels (128×128)", fontsize=10)
    for ax, stride in zip(axes[1:], (32, 16, 8, 4)):
        shares, _ = F.adaptive_avg_pool2d_forward(onehot, 128 // stride)
        up, _ = F.bilinear_upsample_forward(shares, size=(128, 128))
        pred = up[0].argmax(axis=0)
        ax.imshow(colorize(pred, palette), interpolation="nearest")
        ax.set_title(f"stride {stride}: {100 * (pred == labels).mean():.1f}% right", fontsize=10)
    for ax in axes:
        _off(ax)
    return fig


def _stride_scene(n):
    yy, xx = np.mgrid[:n, :n]
    labels = np.zeros((n, n), np.int64)
    labels[(yy - 40) ** 2 + (xx - 44) ** 2 < 26 ** 2] = 1                 # a disk
    labels[(yy > 70) & (yy < 112) & (xx > 62) & (xx < 118)] = 2           # a box
    labels[np.abs(yy - (n - 1 - xx)) <= 2] = 3                            # a thin pole
    return labels


# ============================================================== unit 03: conv as a matrix

@figure("03-conv-matrix")
def fig_03_conv_matrix():
    """The lecture's 2-D case: a 3×3 kernel on a 4×4 input (no padding) as a 4×16 matrix C,
    and the stride-2, padding-1 case; from F.conv2d_matrix."""
    from minisegnet import functional as F

    w = np.arange(1, 10, dtype=np.float64).reshape(1, 1, 3, 3)          # w00 … w22 as 1 … 9
    c_valid = F.conv2d_matrix(w, (4, 4)).toarray()
    c_s2 = F.conv2d_matrix(w, (4, 4), stride=2, padding=1).toarray()
    fig = _figure(10, 3.4)
    axes = fig.subplots(2, 1, height_ratios=[4, 4])
    for ax, c, title in ((axes[0], c_valid, "stride 1, no padding: C is 4×16 (output 2×2)"),
                         (axes[1], c_s2, "stride 2, padding 1: C is 4×16 (output 2×2)")):
        _cells(ax, np.where(c == 0, np.nan, c), None, fmt="{:.0f}", cmap="Blues", vmin=0,
               vmax=12, fontsize=8)
        ax.imshow(c == 0, cmap="Greys", alpha=0.08)
        ax.set_title(title + ";  k = 1…9 stands for w00…w22", fontsize=10)
        ax.set_yticks(range(4), [f"y{i}" for i in range(4)], fontsize=8)
        ax.set_xticks(range(16), [f"x{i}" for i in range(16)], fontsize=7)
    return fig


@figure("03-im2col")
def fig_03_im2col():
    """im2col of a 4×4 image with a 3×3 kernel (9×4 columns) and col2im(im2col(ones)): how many
    patches cover each pixel."""
    from minisegnet import functional as F

    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    cols = F.im2col(x, 3)[0]
    cover = F.col2im(F.im2col(np.ones((1, 1, 6, 6)), 3, padding=1), (6, 6), 3, padding=1)[0, 0]
    fig = _figure(9, 3.4)
    axes = fig.subplots(1, 3, width_ratios=[1, 1.1, 1.2])
    _cells(axes[0], x[0, 0], "image x (4×4)", fmt="{:.0f}", cmap="Greens")
    _cells(axes[1], cols, "im2col: one column per\noutput pixel (9×4)", fmt="{:.0f}",
           cmap="Greens")
    _cells(axes[2], cover, "col2im(im2col(ones)):\npatches per pixel (6×6, pad 1)", fmt="{:.0f}",
           cmap="Oranges", vmin=0, vmax=9)
    return fig


# ============================================================== unit 04: transposed convolution

@figure("04-transposed-stamps")
def fig_04_stamps():
    """A 3×3 transposed convolution, stride 2, padding 1, output padding 1: every input pixel
    stamps the kernel into the output (2×2 → 4×4); overlaps add."""
    from minisegnet import functional as F

    x = np.array([[1.0, 2.0], [3.0, 4.0]])[None, None]
    w = np.ones((1, 1, 3, 3))
    y, _ = F.conv_transpose2d_forward(x, w, stride=2, padding=1, output_padding=1)
    fig = _figure(10, 2.8)
    axes = fig.subplots(1, 5)
    _cells(axes[0], x[0, 0], "input 2×2", fmt="{:.0f}", cmap="Greens")
    for k, ax in enumerate(axes[1:4]):
        if k < 3:
            one = np.zeros_like(x)
            one.flat[k] = x.flat[k]
            part, _ = F.conv_transpose2d_forward(one, w, stride=2, padding=1, output_padding=1)
            _cells(ax, part[0, 0], f"stamp of input #{k}", fmt="{:.0f}", vmin=0, vmax=10)
    _cells(axes[4], y[0, 0], "sum: output 4×4", fmt="{:.0f}", vmin=0, vmax=10)
    return fig


@figure("04-checkerboard")
def fig_04_checkerboard():
    """Uneven overlap: a transposed convolution of a constant input with a constant kernel.
    Kernel 3 at stride 2 covers pixels once or twice (a checkerboard); kernel 4 evenly."""
    from minisegnet import functional as F

    x = np.ones((1, 1, 8, 8))
    fig = _figure(10, 3.2)
    axes = fig.subplots(1, 3)
    for ax, (k, p, op) in zip(axes, ((3, 1, 1), (4, 1, 0), (5, 2, 1))):
        y, _ = F.conv_transpose2d_forward(x, np.ones((1, 1, k, k)), stride=2, padding=p,
                                          output_padding=op)
        inner = y[0, 0, 2:-2, 2:-2]
        ax.imshow(inner, cmap="viridis", vmin=0, vmax=9)
        ax.set_title(f"kernel {k}, stride 2: values {inner.min():.0f}…{inner.max():.0f}",
                     fontsize=10)
        _off(ax)
    fig.suptitle("transposed conv of ones with a kernel of ones (inner part): "
                 "k not divisible by s gives a checkerboard", fontsize=10)
    return fig


@figure("04-bilinear-deconv")
def fig_04_bilinear():
    """FCN's bilinear transposed convolution (k = 2s, p = s/2) against bilinear interpolation
    on the camera photo: equal inside, darker along the border."""
    from minisegnet import functional as F
    from minisegnet import nn

    photo = _photo_gray(64)
    x = photo[None, None]
    layer = nn.ConvTranspose2d(1, 1, 8, stride=4, padding=2, bias=False, init="bilinear")
    layer.to(dtype=np.float64)
    deconv = layer(x)[0, 0]
    interp = F.bilinear_upsample_forward(x, scale_factor=4)[0][0, 0]
    fig = _figure(10, 3.1)
    axes = fig.subplots(1, 3)
    axes[0].imshow(deconv, cmap="gray", vmin=0, vmax=1)
    axes[0].set_title("ConvTranspose2d(8, stride 4, pad 2),\nbilinear init", fontsize=10)
    axes[1].imshow(interp, cmap="gray", vmin=0, vmax=1)
    axes[1].set_title("bilinear interpolation ×4", fontsize=10)
    diff = np.abs(deconv - interp)
    image = axes[2].imshow(diff, cmap="magma", vmin=0, vmax=0.5)
    axes[2].set_title(f"|difference|: {_magnitude(diff[4:-4, 4:-4].max())} inside,\n"
                      f"{diff.max():.2f} on the border", fontsize=10)
    fig.colorbar(image, ax=axes[2], fraction=0.046)
    for ax in axes:
        _off(ax)
    return fig


@cache
def _photo_gray(size):
    from skimage import data

    from minisegnet import functional as F

    photo = data.camera().astype(np.float64) / 255.0
    return F.bilinear_upsample_forward(photo[None, None], size=(size, size))[0][0, 0]


# ============================================================== unit 05: unpooling, interpolation

@figure("05-unpooling")
def fig_05_unpooling():
    """The lecture's 4×4 examples: nearest and bed-of-nails unpooling, max pooling with indices
    and max unpooling."""
    from minisegnet import functional as F

    x = np.array([[1.0, 2.0], [3.0, 4.0]])[None, None]
    near, _ = F.unpool_nearest_forward(x, 2)
    nails, _ = F.unpool_bed_of_nails_forward(x, 2)
    a = np.array([[1, 2, 6, 3], [3, 5, 2, 1], [1, 2, 2, 1], [7, 3, 4, 8]], float)[None, None]
    pooled, idx, _ = F.max_pool2d_forward(a, 2, return_indices=True)
    back, _ = F.max_unpool2d_forward(x, idx, 2)
    fig = _figure(11, 2.6)
    axes = fig.subplots(1, 5)
    _cells(axes[0], near[0, 0], "nearest neighbour", fmt="{:.0f}")
    _cells(axes[1], nails[0, 0], "bed of nails", fmt="{:.0f}")
    _cells(axes[2], a[0, 0], "max pool 2×2 of this ...", fmt="{:.0f}", cmap="Greens")
    _cells(axes[3], pooled[0, 0], "... gives these, and\nremembers where", fmt="{:.0f}",
           cmap="Greens")
    _cells(axes[4], back[0, 0], "max unpooling of [[1,2],[3,4]]\nat those positions", fmt="{:.0f}")
    return fig


@figure("05-bilinear-canvas")
def fig_05_bilinear():
    """The lecture's 2×2 → 4×4 bilinear example, with align_corners False (the lecture's table)
    and True, from F.bilinear_upsample_forward."""
    from minisegnet import functional as F

    x = np.array([[1.0, 2.0], [3.0, 4.0]])[None, None]
    a, _ = F.bilinear_upsample_forward(x, size=(4, 4), align_corners=False)
    b, _ = F.bilinear_upsample_forward(x, size=(4, 4), align_corners=True)
    fig = _figure(9, 2.8)
    axes = fig.subplots(1, 3, width_ratios=[0.6, 1, 1])
    _cells(axes[0], x[0, 0], "input 2×2", fmt="{:g}", vmin=1, vmax=4)
    _cells(axes[1], a[0, 0], "align_corners=False\n(the lecture's table)", fmt="{:.2f}", vmin=1,
           vmax=4)
    _cells(axes[2], b[0, 0], "align_corners=True\n(corners pinned)", fmt="{:.2f}", vmin=1, vmax=4)
    return fig


@figure("05-roi-align")
def fig_05_roi_align():
    """RoIAlign's sample points (2×2 bins, 2×2 samples each) against RoIPool's rounded bins, on
    a 12×16 feature map of the camera photo."""
    feature = _photo_gray(64)[::4, ::4][:12, :16]
    x1, y1, x2, y2 = 4.3, 2.6, 12.8, 9.4
    out, ratio = 2, 2
    fig = _figure(6.5, 4.2)
    ax = fig.subplots()
    ax.imshow(feature, cmap="gray", extent=(0, 16, 12, 0))
    ax.add_patch(_rect(x1, y1, x2 - x1, y2 - y1, "gold"))
    bin_w, bin_h = (x2 - x1) / out, (y2 - y1) / out
    for i in range(out):
        for j in range(out):
            for a in range(ratio):
                for b in range(ratio):
                    ax.plot(x1 + (j + (b + 0.5) / ratio) * bin_w, y1 + (i + (a + 0.5) / ratio) * bin_h,
                            "o", color="red", ms=4)
    rx1, ry1, rx2, ry2 = round(x1), round(y1), round(x2), round(y2)
    ax.add_patch(_rect(rx1, ry1, rx2 - rx1, ry2 - ry1, "cyan"))
    ax.plot([], [], "s", mfc="none", mec="gold", label="the box")
    ax.plot([], [], "o", color="red", ms=4, label="RoIAlign samples (bilinear)")
    ax.plot([], [], "s", mfc="none", mec="cyan", label="RoIPool: box rounded to pixels")
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title("RoIAlign samples the box where it is; RoIPool moves it", fontsize=10)
    return fig


# ============================================================== unit 06: dilated convolution

@figure("06-dilated-field")
def fig_06_dilated():
    """Stacked 3×3 convolutions with dilations 1, 2, 4, 8 (Yu & Koltun): gradient support of
    one output pixel grows as 2^(L+1) − 1, against 1 + 2L without dilation."""
    from minisegnet import functional as F

    fig = _figure(10, 3)
    axes = fig.subplots(1, 4)
    for ax, depth in zip(axes, (1, 2, 3, 4)):
        g = _gradient_support([(1, 2 ** i) for i in range(depth)], size=41)
        r, _ = F.receptive_field([(3, 1, 2 ** i) for i in range(depth)])
        ax.imshow(np.log10(g / g.max() + 1e-4), cmap="magma", vmin=-4, vmax=0)
        ax.add_patch(_rect(20 - r // 2 - 0.5, 20 - r // 2 - 0.5, r, r))
        ax.set_title(f"dilations 1…{2 ** (depth - 1)}: field {r}", fontsize=10)
        _off(ax)
    fig.suptitle("log |gradient| of one output pixel; the box is F.receptive_field", fontsize=10)
    return fig


@figure("06-gridding")
def fig_06_gridding():
    """Gridding: three 3×3 layers with the same rate 2 reach only every other pixel of their
    13×13 field; rates 1, 2, 3 fill it; rates 1, 2, 4 reach 15×15 without holes."""
    fig = _figure(8, 3.2)
    axes = fig.subplots(1, 3)
    for ax, dilations in zip(axes, ((2, 2, 2), (1, 2, 3), (1, 2, 4))):
        g = _gradient_support([(1, d) for d in dilations], size=31)
        ax.imshow(g > 0, cmap="Blues", vmin=0, vmax=1.3)
        ax.set_title(f"dilations {dilations}: {int((g > 0).sum())} pixels reached", fontsize=10)
        _off(ax)
    fig.suptitle("input pixels that reach one output pixel (non-zero gradient)", fontsize=10)
    return fig


# ============================================================== unit 07: PSPNet

@figure("07-bins")
def fig_07_bins():
    """PyTorch's adaptive bins on a 13×13 map (a 100-pixel image at stride 8): bins 1, 2, 3, 6,
    from the rows of F.adaptive_pool_matrix; shared rows shaded."""
    from minisegnet import functional as F

    fig = _figure(10, 2.9)
    axes = fig.subplots(1, 4)
    for ax, bins in zip(axes, (1, 2, 3, 6)):
        p = np.asarray(F.adaptive_pool_matrix(13, bins))
        count = (p > 0).sum(axis=0)                           # bins that use each row
        ax.imshow(np.add.outer(count, count) - 1, cmap="Blues", vmin=0, vmax=4,
                  extent=(0, 13, 13, 0))
        for row in p:
            lo, hi = np.flatnonzero(row)[[0, -1]]
            for other in p:
                clo, chi = np.flatnonzero(other)[[0, -1]]
                ax.add_patch(_rect(clo, lo, chi - clo + 1, hi - lo + 1, "C3"))
        ax.set_title(f"{bins}×{bins} bins", fontsize=10)
        ax.set_xticks(range(0, 14, 13))
        ax.set_yticks([])
    fig.suptitle("adaptive pooling of a 13×13 map: bin i covers [⌊i·13/b⌋, ⌈(i+1)·13/b⌉); "
                 "darker: rows and columns shared by two bins", fontsize=10)
    return fig


@figure("07-boat-car", cheap=False)
def fig_07_boat_car():
    """The FCN baseline's boat/car confusion inside crowds, next to PSPNet's answer (64-pixel
    context images, 120 iterations, seed 0; the validation images where the baseline confuses
    the most vehicle pixels)."""
    return _error_grid(["fcn", "pspnet"], n=3)


def _error_grid(names, n=3):
    from minisegnet.viz import segmentation_grid

    val = _small_data()[1]
    boat, car = val.class_names.index("boat"), val.class_names.index("car")
    preds = {name: _predictions(name) for name in names}
    base = preds[names[0]]
    swapped = (((val.labels == boat) & (base == car)) | ((val.labels == car) & (base == boat)))
    picks = np.sort(np.argsort(-swapped.sum(axis=(1, 2)), kind="stable")[:n])
    maps = {"ground truth": val.labels[picks]}
    titles = {}
    for name in names:
        p = preds[name][picks]
        maps[LABELS[name]] = p
        titles[LABELS[name]] = [_vehicle_caption(p[i], val.labels[picks][i], boat, car)
                                for i in range(n)]
    maps["baseline's boat↔car swaps"] = np.where(swapped[picks], base[picks], 255)
    return segmentation_grid(val.images[picks], maps, val.palette, val.class_names, titles=titles,
                             row_labels=[f"val #{i}" for i in picks], cell=1.8)


def _vehicle_caption(pred, labels, boat, car):
    vehicles = np.isin(labels, (boat, car))
    return f"vehicle pixels right {100 * (pred[vehicles] == labels[vehicles]).mean():.0f}%"


@figure("07-seed-spread")
def fig_07_seeds():
    """mIoU and boat/car IoU of the five heads of notebook 07 over ten seeds (data/pspnet-small.json)
    and of the eight rows of `minisegnet ablate` (data/ablate.json: five seeds for five rows,
    seed 0 for the other three)."""
    panels = [("pspnet-small", "notebook 07: 64 px, 120 iterations"),
              ("ablate", "minisegnet ablate: 160 px, 400 iterations")]
    panels = [(name, title) for name, title in panels if (HERE / "data" / f"{name}.json").is_file()]
    fig = _figure(11, 0.8 + 0.45 * 9)
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    for ax, (name, title) in zip(axes, panels):
        _seed_dots(ax, name, title)
    return fig


def _seed_dots(ax, name, title):
    body = json.loads((HERE / "data" / f"{name}.json").read_text(encoding="utf-8"))
    names = body["class_names"]
    boat, car = names.index("boat"), names.index("car")
    seeds = sorted(body["seeds"], key=int)
    labels = _run_seeds().row_order({label for s in seeds for label in body["seeds"][s]})
    for row, label in enumerate(labels):
        runs = [body["seeds"][s][label] for s in seeds if label in body["seeds"][s]]
        m = np.array([100 * run["mean_iou"] for run in runs])
        v = np.array([50 * (run["iou"][boat] + run["iou"][car]) for run in runs])
        ax.plot(m, np.full(len(m), row - 0.12), "o", color="C0", ms=4, alpha=0.7)
        ax.plot(v, np.full(len(v), row + 0.12), "s", color="C3", ms=4, alpha=0.7)
        ax.plot([m.mean()] * 2, [row - 0.3, row + 0.06], color="C0", lw=2)
        ax.plot([v.mean()] * 2, [row - 0.06, row + 0.3], color="C3", lw=2)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("validation score (%)")
    ax.plot([], [], "o", color="C0", label="mIoU (dots: seeds, bar: mean)")
    ax.plot([], [], "s", color="C3", label="mean of boat and car IoU")
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title(f"{title}, seeds {seeds[0]}–{seeds[-1]}", fontsize=10)
    ax.grid(axis="x", alpha=0.3)


# ============================================================== trained models (07, 08, 09)

SMALL = dict(size=64, n_train=96, n_val=48, iterations=120, batch_size=8, base_lr=0.01)
LABELS = {"fcn": "FCN baseline", "pspnet": "PSPNet", "unet": "U-Net", "ladder": "Ladder"}
BUILD = {"fcn": ("pspnet", dict(ppm=False)), "pspnet": ("pspnet", {}), "unet": ("unet", {}),
         "ladder": ("ladder", {})}


@cache
def _small_data(seed=0):
    from minisegnet import data

    return (data.make_context(SMALL["n_train"], "train", seed, SMALL["size"]),
            data.make_context(SMALL["n_val"], "val", seed, SMALL["size"]))


@cache
def _trained(name, seed=0):
    """A model of ``BUILD[name]`` trained with notebook 07's small setting (deterministic)."""
    from minisegnet import data, models, nn, train

    train_set, val_set = _small_data(seed)
    model_name, options = BUILD[name]
    nn.init.seed(seed)
    model = models.build_model(model_name, num_classes=train_set.num_classes, **options)
    train.train(model, train_set, val_set, iterations=SMALL["iterations"],
                batch_size=SMALL["batch_size"], base_lr=SMALL["base_lr"],
                augment=data.DEMO_AUGMENT, seed=seed, progress=False)
    return model


@cache
def _probabilities(name):
    from minisegnet import train

    return train.predict_probabilities(_trained(name), _small_data()[1], 48)


def _predictions(name):
    return _probabilities(name).argmax(axis=1).astype(np.uint8)


# ============================================================== unit 08: encoder-decoder

@figure("08-receptive-fields")
def fig_08_receptive_fields():
    """Which input pixels reach the centre logit of the FCN baseline, U-Net and the ladder
    network (untrained, float64; non-zero gradient of one output pixel)."""
    from minisegnet import models, nn

    size = 160
    fig = _figure(10, 3.4)
    axes = fig.subplots(1, 3)
    for ax, name in zip(axes, ("fcn", "unet", "ladder")):
        model_name, options = BUILD[name]
        nn.init.seed(0)
        model = models.build_model(model_name, num_classes=5, **options).to(dtype=np.float64)
        model.eval()
        x = np.random.default_rng(0).standard_normal((1, 3, size, size))
        y = model(x)
        dy = np.zeros_like(y)
        dy[0, 0, size // 2, size // 2] = 1.0
        g = np.abs(model.backward(dy)[0]).sum(axis=0)
        reached = g > 1e-12 * g.max()
        rows, cols = np.flatnonzero(reached.any(1)), np.flatnonzero(reached.any(0))
        ax.imshow(np.log10(g / g.max() + 1e-6), cmap="magma", vmin=-6, vmax=0)
        ax.set_title(f"{LABELS[name]}: {rows[-1] - rows[0] + 1}×{cols[-1] - cols[0] + 1} px",
                     fontsize=10)
        _off(ax)
    fig.suptitle(f"log |∂ centre logit / ∂ input| on a {size}×{size} image (untrained weights): "
                 "the window each network can see", fontsize=10)
    return fig


@figure("08-decoders", cheap=False)
def fig_08_decoders():
    """FCN baseline, U-Net and the ladder network trained on the same budget: predictions on the
    validation images where the baseline confuses the most vehicle pixels."""
    return _error_grid(["fcn", "unet", "ladder"], n=3)


@figure("08-seed-spread")
def fig_08_seeds():
    """mIoU and boat/car IoU of the decoders over seeds (data/decoders-small.json), with the
    parameters and the activations each keeps for its backward pass (8 images of 64×64)."""
    from minisegnet import backend, models, nn

    body = json.loads((HERE / "data" / "decoders-small.json").read_text(encoding="utf-8"))
    fig = _figure(11, 3.3)
    ax_dots, ax_cost = fig.subplots(1, 2, width_ratios=[1.4, 1])
    _seed_dots(ax_dots, "decoders-small", "64 px, 120 iterations")
    labels = _run_seeds().row_order(body["seeds"][sorted(body["seeds"], key=int)[0]])
    params, memory = [], []
    x = np.random.default_rng(0).standard_normal((8, 3, 64, 64)).astype(np.float32)
    for label in labels:
        config = dict(body["configs"][label])
        name = "pspnet" if "bins" in config else ("ladder" if "decoder_width" in config else "unet")
        nn.init.seed(0)
        model = models.build_model(name, **config)
        with backend.use_impl("reference"):   # the caches the lesson's formulas describe
            model.forward(x)
        params.append(sum(p.size for p in model.parameters()) / 1000)
        memory.append(_cached_bytes(model) / 2 ** 20)
    y = np.arange(len(labels))
    ax_cost.barh(y - 0.2, params, height=0.4, color="0.5", label="parameters (thousands)")
    ax_cost.barh(y + 0.2, memory, height=0.4, color="C2", label="kept for backward (MiB)")
    for i in range(len(labels)):
        ax_cost.text(params[i] + 1, y[i] - 0.2, f"{params[i]:.0f}k", va="center", fontsize=7)
        ax_cost.text(memory[i] + 1, y[i] + 0.2, f"{memory[i]:.0f} MiB", va="center", fontsize=7)
    ax_cost.set_yticks(y, labels, fontsize=8)
    ax_cost.invert_yaxis()
    ax_cost.legend(fontsize=7, loc="lower right")
    ax_cost.set_title("what each costs (a training batch of 8)", fontsize=10)
    return fig


def _cached_bytes(model):
    """Bytes of the arrays every module keeps for its backward pass (lesson 08, section 3)."""
    params = {id(p.data) for p in model.parameters()}
    visited, total = set(), 0

    def walk(value):
        nonlocal total
        if id(value) in visited or isinstance(value, types.ModuleType):
            return   # a cache may name its fast tier's module, or hold a cycle
        visited.add(id(value))
        if isinstance(value, np.ndarray):
            if id(value) not in params:
                total += value.nbytes
        elif isinstance(value, (tuple, list)):
            for v in value:
                walk(v)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif hasattr(value, "__dict__") and not callable(value):
            for v in vars(value).values():
                walk(v)

    for _, module in model.named_modules():
        walk(module.__dict__.get("_cache"))
    return total


def _run_seeds():
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_seeds", HERE / "run_seeds.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _parameters(config):
    from minisegnet import models

    config = dict(config)
    name = "pspnet" if "bins" in config else ("ladder" if "decoder_width" in config else "unet")
    model = models.build_model(name, **config)
    return sum(p.size for p in model.parameters())


# ============================================================== unit 09: dense CRF

@figure("09-network-refined", cheap=False)
def fig_09_network():
    """The dense CRF on the trained PSPNet's output on context, scored against the true labels:
    image | truth | network | refined (the demo's CRF parameters)."""
    from minisegnet import metrics
    from minisegnet.crf import crf_refine
    from minisegnet.demo import DEMO_CRF_PARAMS
    from minisegnet.viz import segmentation_grid

    val = _small_data()[1]
    probs = _probabilities("pspnet")
    pred = probs.argmax(axis=1).astype(np.uint8)
    refined = crf_refine(probs, val.images, **DEMO_CRF_PARAMS).argmax(axis=1).astype(np.uint8)
    band = metrics.boundary_band(val.labels, 3)
    gain = ((refined == val.labels) & band).sum(axis=(1, 2)) - ((pred == val.labels) & band).sum(axis=(1, 2))
    picks = np.sort(np.argsort(-gain, kind="stable")[:3])

    def caption(p, i):
        cm = metrics.confusion_matrix(p[i], val.labels[i], val.num_classes)
        ok = (p[i] == val.labels[i])[band[i]].mean()
        return f"mIoU {100 * metrics.mean_iou(cm):.1f}, band acc. {100 * ok:.1f}"

    maps = {"ground truth": val.labels[picks], "PSPNet": pred[picks], "+ dense CRF": refined[picks]}
    titles = {"PSPNet": [caption(pred, i) for i in picks],
              "+ dense CRF": [caption(refined, i) for i in picks]}
    return segmentation_grid(val.images[picks], maps, val.palette, val.class_names, titles=titles,
                             row_labels=[f"val #{i}" for i in picks], cell=1.9)


@figure("09-photo", cheap=False)
def fig_09_photo():
    """The qualitative part: blocky labels on a photograph, snapped to its edges by the dense
    CRF (crf.demo_refinement and crf.refinement_figure)."""
    from minisegnet import crf

    image, coarse, refined = crf.demo_refinement("chelsea", method="lattice")
    return crf.refinement_figure(image, coarse, refined)


@figure("09-work")
def fig_09_work():
    """Work per message: the exact method evaluates N² kernel entries, the lattice splats and
    slices N(d+1) values and blurs 2(d+1) neighbours per occupied vertex (counted on crops of
    the chelsea photo with pydensecrf's bilateral bandwidths)."""
    from minisegnet import crf
    from minisegnet.crf.lattice import build_lattice
    from minisegnet.crf.viz import load_photo

    photo = load_photo("chelsea")
    sides = [16, 32, 64, 128, 256]
    n, exact, lattice = [], [], []
    for side in sides:
        crop = np.ascontiguousarray(photo[:side, :side])
        feats = crf.pairwise_features(crop, 80.0, 13.0)
        offsets, _, neighbours = build_lattice(feats)
        d1 = offsets.shape[1]
        vertices = neighbours.shape[1] - 1
        n.append(side * side)
        exact.append(float(side * side) ** 2)
        lattice.append(2 * d1 * side * side + 2 * d1 * vertices)
    n, exact, lattice = map(np.array, (n, exact, lattice))
    fig = _figure(6.5, 3.8)
    ax = fig.subplots()
    ax.loglog(n, exact, "o-", label="exact: N² kernel entries")
    ax.loglog(n, lattice, "s-", label="lattice: splat + blur + slice")
    slope_e = np.polyfit(np.log(n), np.log(exact), 1)[0]
    slope_l = np.polyfit(np.log(n), np.log(lattice), 1)[0]
    ax.set_xticks(n, [f"{s}²" for s in sides])
    ax.minorticks_off()
    ax.set_xlabel("pixels N (square crops of the photo)")
    ax.set_ylabel("operations per label and message")
    ax.set_title(f"fitted slopes: exact {slope_e:.2f}, lattice {slope_l:.2f}", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="major")
    return fig


# ============================================================== unit 10: panoptic

@figure("10-pq-matching")
def fig_10_pq():
    """A small panoptic scene: target and prediction segments, the matches at IoU > 0.5 with
    their IoUs, the false positives and negatives, and PQ = SQ × RQ per category."""
    from minisegnet import metrics as M

    target, pred, void = _panoptic_scene()
    things, stuffs = {3, 4}, {0, 1, 2}
    stats = M.panoptic_segment_stats(pred, target, things, stuffs, void_label=255)
    scores = M.panoptic_quality(pred, target, things, stuffs, void_label=255)
    fig = _figure(11, 2.9)
    ax_t, ax_p, ax_m, ax_s = fig.subplots(1, 4, width_ratios=[1, 1, 1, 0.95])
    ax_t.imshow(_panoptic_colours(target), interpolation="nearest")
    ax_t.set_title("target (white: void)", fontsize=10)
    ax_p.imshow(_panoptic_colours(pred), interpolation="nearest")
    ax_p.set_title("prediction", fontsize=10)
    _match_panel(ax_m, pred, target, void)
    cats = list(stats["categories"])
    names = {0: "sky", 1: "grass", 2: "road", 3: "car", 4: "person"}
    rows = [[names[c], int(stats["tp"][i]), int(stats["fp"][i]), int(stats["fn"][i]),
             scores["per_class"][c]["pq"]] for i, c in enumerate(cats)]
    ax_s.axis("off")
    table = ax_s.table(cellText=[[r[0], r[1], r[2], r[3], f"{r[4]:.3f}"] for r in rows],
                       colLabels=["category", "TP", "FP", "FN", "PQ"], loc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    ax_s.set_title(f"PQ {scores['pq']:.3f} = mean over categories\n(SQ {scores['sq']:.3f}, "
                   f"RQ {scores['rq']:.3f}, SQ·RQ {scores['sq'] * scores['rq']:.3f})", fontsize=10)
    for ax in (ax_t, ax_p, ax_m):
        _off(ax)
    return fig


def _panoptic_scene():
    """(H, W, 2) target and prediction: sky/grass/road, three cars, people, a void strip."""
    h, w = 40, 64
    target = np.zeros((h, w, 2), np.int64)
    target[..., 0] = 2
    target[:10, :, 0], target[10:14, :, 0] = 0, 1
    void = np.zeros((h, w), bool)
    void[:, 56:] = True
    cars = [(18, 26, 4, 16), (28, 36, 20, 36), (17, 25, 48, 60)]
    for k, (r0, r1, c0, c1) in enumerate(cars, start=1):
        target[r0:r1, c0:c1] = (3, k)
    target[20:34, 40:44] = (4, 4)                      # a person
    target[28:38, 8:11] = (4, 5)                       # a second person, missed
    target[void] = (255, 0)
    pred = target.copy()
    pred[void] = target[void]
    pred[..., 0] = np.where(void, 2, pred[..., 0])     # the prediction labels the void strip road
    pred[28:38, 8:11] = (2, 0)                         # the second person missed
    pred[18:26, 13:16] = (3, 9)                        # the first car split: a small piece
    pred[20:34, 41:45] = (4, 4)                        # the person, one column to the right
    pred[20:34, 40] = (2, 0)
    pred[12:22, 57:61] = (4, 7)                        # a "person" inside the void strip
    pred[30:36, 48:52] = (4, 8)                        # a hallucinated person
    return target, pred, void


def _panoptic_colours(pan):
    palette = {0: (135, 190, 235), 1: (95, 170, 75), 2: (125, 125, 130), 3: (215, 45, 45),
               4: (245, 195, 40)}
    out = np.full(pan.shape[:2] + (3,), 255, np.uint8)
    for c, colour in palette.items():
        out[pan[..., 0] == c] = colour
    shade = (pan[..., 1] % 3) * 35
    thing = np.isin(pan[..., 0], (3, 4))
    out[thing] = np.clip(out[thing].astype(int) - shade[thing, None], 0, 255).astype(np.uint8)
    return out


def _segments(pan):
    keys = pan[..., 0] * 1000 + pan[..., 1]
    return {int(k): keys == k for k in np.unique(keys)}


def _match_panel(ax, pred, target, void):
    """Matched target segments green (with IoU), unmatched red (FN), unmatched predictions
    orange (FP) or grey (ignored: mostly void)."""
    shown = np.full(pred.shape[:2] + (3,), 235, np.uint8)
    shown[void] = 255
    t_segs = {k: m for k, m in _segments(target).items() if k // 1000 != 255}
    p_segs = _segments(pred)
    matched_p = set()
    for tk, tm in t_segs.items():
        best = None
        for pk, pm in p_segs.items():
            if pk // 1000 != tk // 1000:
                continue
            inter = (tm & pm).sum()
            union = (tm | pm).sum() - (pm & void).sum()
            if union and inter / union > 0.5:
                best = (pk, inter / union)
        if best is None:
            shown[tm] = (215, 60, 60)
        else:
            matched_p.add(best[0])
            shown[tm] = (90, 175, 90) if tk // 1000 in (3, 4) else (200, 230, 200)
            if tk // 1000 in (3, 4):
                rows, cols = np.nonzero(tm)
                ax.text(cols.mean(), rows.mean(), f"{best[1]:.2f}", ha="center", va="center",
                        fontsize=7)
    for pk, pm in p_segs.items():
        if pk not in matched_p and pk // 1000 in (3, 4):
            shown[pm & ~void] = (240, 160, 40) if (pm & void).sum() <= 0.5 * pm.sum() else (160, 160, 160)
            shown[pm & void] = (160, 160, 160) if (pm & void).sum() > 0.5 * pm.sum() else shown[pm & void]
    ax.imshow(shown, interpolation="nearest")
    ax.set_title("green: matched (IoU), red: FN,\norange: FP, grey: ignored (on void)", fontsize=9)


@figure("10-pq-threshold")
def fig_10_threshold():
    """A found segment earns its IoU, a missed or hallucinated one costs half a segment: PQ of
    one category with a single target segment, against the IoU of the best prediction."""
    iou = np.linspace(0.0, 1.0, 201)
    pq = np.where(iou > 0.5, iou, 0.0)
    fig = _figure(6.2, 3.2)
    ax = fig.subplots()
    ax.plot(iou, pq, color="C0", label="PQ = IoU if matched (> 0.5), else 0 (TP 0, FP 1, FN 1)")
    ax.plot(iou, np.where(iou > 0.5, iou / 1.5, 0.0), color="C3",
            label="with one more hallucinated segment (FP + 1)")
    ax.axvline(0.5, color="0.6", ls=":")
    ax.set_xlabel("IoU of the prediction with the target segment")
    ax.set_ylabel("PQ of the category")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("matching is all or nothing at IoU 0.5", fontsize=10)
    return fig


# ============================================================== unit 11: generalising

MSEG = {  # Lambert et al., CVPR 2020: zero-shot mIoU (%), rows trained on, as in lesson 11
    "COCO": [73.4, 43.3, 58.7, 38.2, 47.6, 33.4],
    "ADE20K": [35.4, 23.9, 52.6, 38.6, 41.6, 42.9],
    "Mapillary": [22.5, 13.6, 82.1, 55.4, 67.7, 2.1],
    "Cityscapes": [13.3, 6.8, 76.1, 30.1, 57.6, 1.7],
    "SUN RGB-D": [10.0, 4.3, 0.1, 1.9, 1.1, 42.6],
    "MSeg-1m": [70.7, 42.7, 83.3, 62.0, 67.0, 48.2],
}
MSEG_TESTS = ["VOC", "Context", "CamVid", "WildDash", "KITTI", "ScanNet"]


@figure("11-mseg-means")
def fig_11_mseg():
    """MSeg's zero-shot table as a heat map, with the arithmetic and the harmonic mean of each
    row (metrics.harmonic_mean)."""
    from minisegnet import metrics as M

    rows = list(MSEG)
    table = np.array([MSEG[r] for r in rows])
    fig = _figure(11, 3.4)
    ax_t, ax_m = fig.subplots(1, 2, width_ratios=[1.5, 1])
    _cells(ax_t, table, None, fmt="{:.1f}", cmap="YlGn", vmin=0, vmax=90, fontsize=8)
    ax_t.set_xticks(range(6), MSEG_TESTS, fontsize=8, rotation=30)
    ax_t.set_yticks(range(len(rows)), rows, fontsize=8)
    ax_t.set_title("zero-shot mIoU (%), trained on (rows) → tested on (columns)", fontsize=10)
    arith = table.mean(axis=1)
    harm = np.array([100 * M.harmonic_mean(list(table[i] / 100)) for i in range(len(rows))])
    y = np.arange(len(rows))
    ax_m.barh(y - 0.2, arith, height=0.4, color="0.6", label="arithmetic mean")
    ax_m.barh(y + 0.2, harm, height=0.4, color="C2", label="harmonic mean")
    for i in range(len(rows)):
        ax_m.text(harm[i] + 1, y[i] + 0.2, f"{harm[i]:.1f}", va="center", fontsize=7)
    ax_m.set_yticks(y, rows, fontsize=8)
    ax_m.invert_yaxis()
    ax_m.set_xlim(0, 75)
    ax_m.legend(fontsize=7, loc="center right")
    ax_m.set_title("one failed domain sinks the harmonic mean", fontsize=10)
    return fig


@figure("11-remap")
def fig_11_remap():
    """Moving a street label map into a universal taxonomy with metrics.remap_labels:
    renaming, merging (road + sidewalk → ground, car + truck → vehicle), no counterpart → void."""
    from minisegnet import metrics as M
    from minisegnet.data.palette import colorize

    streets = ["sky", "vegetation", "road", "sidewalk", "person", "car", "truck", "traffic sign"]
    universal = ["sky", "vegetation", "ground", "water", "person", "vehicle"]
    mapping = M.mapping_from_names(streets, universal, aliases={
        "road": "ground", "sidewalk": "ground", "car": "vehicle", "truck": "vehicle"})
    labels = np.zeros((40, 64), np.int64)
    labels[12:18] = 1
    labels[18:] = 2
    labels[18:24, :] = 3
    labels[26:34, 6:22] = 5
    labels[22:34, 30:52] = 6
    labels[14:34, 56:58] = 7
    labels[20:36, 24:27] = 4
    remapped = M.remap_labels(labels, mapping)
    src_palette = np.array([[135, 190, 235], [60, 140, 60], [128, 64, 128], [230, 150, 200],
                            [220, 20, 60], [0, 0, 142], [0, 60, 100], [220, 220, 0]], np.uint8)
    dst_palette = np.array([[135, 190, 235], [60, 140, 60], [150, 110, 90], [40, 90, 200],
                            [220, 20, 60], [60, 60, 160]], np.uint8)
    fig = _figure(10, 2.9)
    axes = fig.subplots(1, 2)
    axes[0].imshow(colorize(labels, src_palette), interpolation="nearest")
    axes[0].set_title("'Streets' taxonomy (8 classes)", fontsize=10)
    axes[1].imshow(colorize(remapped, dst_palette), interpolation="nearest")
    axes[1].set_title("universal taxonomy: road+sidewalk → ground, car+truck → vehicle,\n"
                      "traffic sign → void (white)", fontsize=9)
    for ax in axes:
        _off(ax)
    return fig


# ============================================================== unit 12: deformable convolution

@figure("12-sampling-grids")
def fig_12_grids():
    """Where a 3×3 deformable convolution reads: regular taps, offsets (d−1)(p_k − p_c) (a
    dilated conv), a rotation and scaling, and free-form offsets."""
    photo = _photo_gray(48)
    taps = np.array([(i - 1, j - 1) for i in range(3) for j in range(3)], float)   # p_k - p_c
    angle = np.deg2rad(30)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    grids = {"regular 3×3 (zero offsets)": np.zeros_like(taps),
             "offsets 2(p_k − p_c): dilation 3": 2 * taps,
             "rotated 30°, scaled ×3": 3 * taps @ rotation.T - taps,
             "free-form offsets": np.random.default_rng(0).normal(0, 1.6, taps.shape)}
    p0 = np.array([19.0, 22.0])
    fig = _figure(11, 3.1)
    axes = fig.subplots(1, 4)
    for ax, (name, delta) in zip(axes, grids.items()):
        ax.imshow(photo, cmap="gray")
        start, end = p0 + taps, p0 + taps + delta
        for (y0, x0), (y1, x1) in zip(start, end):
            if np.hypot(y1 - y0, x1 - x0) > 1e-9:
                ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                            arrowprops=dict(arrowstyle="->", color="gold", lw=1.0))
        ax.plot(start[:, 1], start[:, 0], "s", mfc="none", mec="deepskyblue", ms=5)
        ax.plot(end[:, 1], end[:, 0], "o", color="red", ms=4)
        ax.set_xlim(p0[1] - 9, p0[1] + 9)
        ax.set_ylim(p0[0] + 9, p0[0] - 9)
        ax.set_title(name, fontsize=9)
        _off(ax)
    return fig


@figure("12-dilation-check")
def fig_12_dilation():
    """The special case of the lesson, checked: centred offsets reproduce the dilated
    convolution; corner-based offsets (d−1)·p_k read the same pattern d−1 pixels away."""
    from minisegnet import functional as F

    d = 3
    x = _photo_gray(48)[None, None]
    corner = np.array([(i, j) for i in range(3) for j in range(3)], float)
    w = np.random.default_rng(0).standard_normal((1, 1, 3, 3))
    dilated, _ = F.conv2d_forward(x, w, padding=d, dilation=d)
    results = {}
    for name, delta in (("centred", (d - 1) * (corner - 1)), ("corner", (d - 1) * corner)):
        offset = np.zeros((1, 18, 48, 48))
        offset[0, 0::2] = delta[:, 0, None, None]
        offset[0, 1::2] = delta[:, 1, None, None]
        results[name] = F.deform_conv2d_forward(x, offset, w, padding=1)[0]
    fig = _figure(10, 3.1)
    axes = fig.subplots(1, 3)
    axes[0].imshow(dilated[0, 0], cmap="RdBu")
    axes[0].set_title("conv2d, dilation 3, padding 3", fontsize=10)
    for ax, name in zip(axes[1:], ("centred", "corner")):
        err = np.abs(results[name] - dilated)[0, 0]
        ax.imshow(err, cmap="magma", vmin=0, vmax=max(1e-12, float(np.abs(dilated).max())))
        formula = "2(p_k − p_c)" if name == "centred" else "2·p_k"
        ax.set_title(f"|deform (offsets {formula}) − dilated|\n{_magnitude(err.max())}",
                     fontsize=10)
    for ax in axes:
        _off(ax)
    return fig


@figure("12-learned-offset")
def fig_12_learned():
    """Gradient descent on one shared offset recovers a shift of (0.6, −1.3) pixels: the offset
    gradient of F.deform_conv2d_backward is a local image gradient."""
    from minisegnet import functional as F

    size = 24
    yy, xx = np.mgrid[:size, :size].astype(float)
    image = np.sin(yy / 3.0) + np.cos(xx / 4.0) + 0.3 * np.sin((yy + xx) / 5.0)
    x = image[None, None]
    w = np.zeros((1, 1, 3, 3))
    w[0, 0, 1, 1] = 1.0                                         # the centre tap: a pure read
    true = np.array([0.6, -1.3])
    target_offset = np.zeros((1, 18, size, size))
    target_offset[0, 0::2], target_offset[0, 1::2] = true[0], true[1]
    target, _ = F.deform_conv2d_forward(x, target_offset, w, padding=1)
    shift = np.zeros(2)
    path, losses = [shift.copy()], []
    for _ in range(150):
        offset = np.zeros((1, 18, size, size))
        offset[0, 0::2], offset[0, 1::2] = shift[0], shift[1]
        y, cache = F.deform_conv2d_forward(x, offset, w, padding=1)
        inner = np.s_[..., 3:-3, 3:-3]
        diff = np.zeros_like(y)
        diff[inner] = (y - target)[inner]
        losses.append(0.5 * float((diff ** 2).sum()))
        doffset = F.deform_conv2d_backward(diff, cache)[1]
        grad = np.array([doffset[0, 0::2].sum(), doffset[0, 1::2].sum()])
        shift -= 0.01 * grad
        path.append(shift.copy())
    path = np.array(path)
    fig = _figure(10, 3.2)
    ax_l, ax_p = fig.subplots(1, 2)
    ax_l.semilogy(losses)
    ax_l.set_xlabel("step")
    ax_l.set_ylabel("½‖y − target‖²")
    ax_l.set_title("loss", fontsize=10)
    ax_p.plot(path[:, 1], path[:, 0], ".-", ms=3)
    ax_p.plot([true[1]], [true[0]], "r*", ms=12, label=f"true shift ({true[0]:g}, {true[1]:g})")
    ax_p.plot([0], [0], "ko", label="start")
    for v in (0.0, -1.0):
        ax_p.axvline(v, color="0.8", lw=0.8)
    ax_p.set_xlabel("Δx (columns)")
    ax_p.set_ylabel("Δy (rows)")
    ax_p.legend(fontsize=8)
    ax_p.set_title(f"the offset's path: ends at ({path[-1, 0]:.3f}, {path[-1, 1]:.3f});\n"
                   "grey lines: pixel boundaries it crosses", fontsize=10)
    return fig


# ============================================================== driver

def _single_thread():
    """One BLAS and one Numba thread: the same numbers on every run."""
    stack = ExitStack()
    try:
        from threadpoolctl import threadpool_limits

        stack.enter_context(threadpool_limits(limits=1, user_api="blas"))
    except ImportError:
        pass
    from minisegnet.demo import numba_threads

    stack.enter_context(numba_threads(1))
    return stack


def render(name, out):
    """Draw figure ``name`` into ``out/<name>.png``; returns the path."""
    from minisegnet.viz import save_figure

    fn, _ = FIGURES[name]
    with _single_thread():
        fig = fn()
    path = Path(out) / f"{name}.png"
    save_figure(fig, str(path), dpi=DPI)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description="Draw the lessons' figures.")
    parser.add_argument("--out", default=str(HERE), help="folder (default: lessons/figures)")
    parser.add_argument("--only", nargs="*", default=None, metavar="NAME")
    parser.add_argument("--cheap", action="store_true",
                        help="only the quick figures (no training, no full-size CRF photograph)")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args(argv)
    names = [n for n, (_, cheap) in FIGURES.items() if cheap or not args.cheap]
    if args.only:
        unknown = sorted(set(args.only) - set(FIGURES))
        if unknown:
            parser.error(f"unknown figure {unknown[0]!r}; --list shows them")
        names = [n for n in names if n in args.only]
    if args.list:
        for n, (fn, cheap) in FIGURES.items():
            print(f"{n:<28} {'cheap' if cheap else 'trains'}  {fn.__doc__.splitlines()[0]}")
        return 0
    for name in names:
        t0 = time.perf_counter()
        path = render(name, args.out)
        print(f"{path}  ({time.perf_counter() - t0:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
