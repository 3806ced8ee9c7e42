"""Figures shared by the demo and the notebooks.

Figures are built with ``matplotlib.figure.Figure`` directly, not ``pyplot``: no global
backend is switched and nothing opens a window, so the same functions write PNG files from
a terminal (Agg) and display inline in a notebook (return value of the last line).
matplotlib is imported only when a figure is drawn.

- ``segmentation_grid``: rows of samples, columns of image / label maps (e.g. image | ground
  truth | prediction | CRF-refined), with a class legend;
- ``training_curves``: loss per iteration (raw and a centred moving average, which does not
  lag behind the raw curve as an exponential average does) and validation mIoU;
- ``save_figure``: write a figure to a file (folders created), returns the path.
"""

from __future__ import annotations

import os

import numpy as np

from .data.palette import colorize

__all__ = ["segmentation_grid", "training_curves", "centred_moving_average", "save_figure"]


def _figure(figsize):
    from matplotlib.figure import Figure  # lazy: matplotlib is slow to import

    return Figure(figsize=figsize, layout="constrained")


def segmentation_grid(images, maps, palette, class_names=None, titles=None, row_labels=None,
                      ignore_index=255, cell=1.9):
    """A grid figure: one row per sample, column 0 the image, then one column per label map.

    images: ``(N, H, W, 3)`` ``uint8``; maps: ``{column title: (N, H, W) label maps}`` (in
    order); palette: ``(K, 3)`` ``uint8``; class_names: for the legend; titles: optional
    ``{column title: [N strings]}`` shown under each panel (e.g. per-image IoU);
    row_labels: ``N`` strings on the left. Returns the ``Figure``.
    """
    images = np.asarray(images)
    n = len(images)
    columns = ["image"] + list(maps)
    fig = _figure((cell * len(columns), cell * n + (0.5 if class_names else 0.1)))
    axes = fig.subplots(n, len(columns), squeeze=False)
    for i in range(n):
        for j, name in enumerate(columns):
            ax = axes[i, j]
            panel = images[i] if j == 0 else colorize(np.asarray(maps[name][i]), palette, ignore_index)
            ax.imshow(panel, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(name, fontsize=9)
            if titles and name in titles:
                ax.set_xlabel(titles[name][i], fontsize=7)
            if j == 0 and row_labels is not None:
                ax.set_ylabel(row_labels[i], fontsize=8)
    if class_names:
        from matplotlib.patches import Patch

        handles = [Patch(color=np.asarray(palette[c]) / 255.0, label=name)
                   for c, name in enumerate(class_names)]
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8,
                   frameon=False)
    return fig


def centred_moving_average(values, window):
    """``y_i`` = mean of ``values[i - h : i + h + 1]`` (``h = window // 2``), the window cut at
    both ends; 1-D array in, same length out.

    A centred window does not lag: on a falling loss an exponential moving average sits
    above the raw curve (it averages only the past), this one runs through its middle.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"centred_moving_average: values must be 1-D, got shape {values.shape}")
    if not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"centred_moving_average: window must be a positive int, got {window!r}")
    half = int(window) // 2
    sums = np.concatenate([[0.0], np.cumsum(values)])
    index = np.arange(len(values))
    lo, hi = np.maximum(index - half, 0), np.minimum(index + half + 1, len(values))
    return (sums[hi] - sums[lo]) / (hi - lo)


def training_curves(history, validation=None, window=None):
    """Loss per iteration (raw and smoothed by a centred moving average) and validation mIoU.

    history: ``train(...)["history"]``; validation: ``train(...)["validation"]``; window:
    iterations averaged (default: a twentieth of the run, odd, at least 5).
    Returns the ``Figure``.
    """
    its = np.array([h["iteration"] for h in history])
    loss = np.array([h["loss"] for h in history])
    if window is None:
        window = max(5, (len(loss) // 20) | 1)
    fig = _figure((8, 3))
    ax_loss, ax_val = fig.subplots(1, 2)
    ax_loss.plot(its, loss, color="0.8", lw=0.8, label="loss")
    ax_loss.plot(its, centred_moving_average(loss, window), color="C0", lw=1.5,
                 label=f"centred mean of {window}")
    ax_loss.set_xlabel("iteration")
    ax_loss.set_ylabel("training loss")
    ax_loss.legend(fontsize=8)
    if validation:
        v_its = [v["iteration"] for v in validation]
        miou = [100 * v["mean_iou"] for v in validation]
        acc = [100 * v["pixel_accuracy"] for v in validation]
        ax_val.plot(v_its, miou, "o-", label="mIoU")
        ax_val.plot(v_its, acc, "s--", label="pixel accuracy")
        if len(validation) == 1:   # one evaluation: say so, rather than draw a lone dot
            ax_val.annotate(f"mIoU {miou[0]:.1f}\n(evaluated once, at the end)", (v_its[0], miou[0]),
                            textcoords="offset points", xytext=(-10, -30), ha="right", fontsize=8)
            ax_val.set_xlim(0, max(its[-1], v_its[0]) * 1.05)
        ax_val.legend(fontsize=8)
    ax_val.set_xlabel("iteration")
    ax_val.set_ylabel("validation (%)")
    return fig


def save_figure(fig, path, dpi=110):
    """Write ``fig`` to ``path`` (PNG by extension), creating folders; returns the path.

    No "Software" entry in the PNG's metadata, so the same figure gives the same bytes with
    any matplotlib version that draws the same pixels."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    metadata = {"Software": None} if str(path).lower().endswith(".png") else None
    fig.savefig(path, dpi=dpi, metadata=metadata)
    return path
