"""Figures shared by the demo and the notebooks.

Figures are built with ``matplotlib.figure.Figure`` directly, not ``pyplot``: no global
backend is switched and nothing opens a window, so the same functions write PNG files from
a terminal (Agg) and display inline in a notebook (return value of the last line).
matplotlib is imported only when a figure is drawn.

- ``segmentation_grid``: rows of samples, columns of image / label maps (e.g. image | ground
  truth | prediction | CRF-refined), with a class legend;
- ``training_curves``: loss per iteration and validation mIoU;
- ``save_figure``: write a figure to a file (folders created), returns the path.
"""

from __future__ import annotations

import os

import numpy as np

from .data.palette import colorize

__all__ = ["segmentation_grid", "training_curves", "save_figure"]


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


def training_curves(history, validation=None, smooth=0.95):
    """Loss per iteration (raw and exponentially smoothed) and validation mIoU.

    history: ``train(...)["history"]``; validation: ``train(...)["validation"]``.
    Returns the ``Figure``.
    """
    its = np.array([h["iteration"] for h in history])
    loss = np.array([h["loss"] for h in history])
    ema, acc = np.empty_like(loss), None
    for i, v in enumerate(loss):
        acc = v if acc is None else smooth * acc + (1 - smooth) * v
        ema[i] = acc
    fig = _figure((8, 3))
    ax_loss, ax_val = fig.subplots(1, 2)
    ax_loss.plot(its, loss, color="0.8", lw=0.8, label="loss")
    ax_loss.plot(its, ema, color="C0", lw=1.5, label="smoothed")
    ax_loss.set_xlabel("iteration")
    ax_loss.set_ylabel("training loss")
    ax_loss.legend(fontsize=8)
    if validation:
        v_its = [v["iteration"] for v in validation]
        ax_val.plot(v_its, [100 * v["mean_iou"] for v in validation], "o-", label="mIoU")
        ax_val.plot(v_its, [100 * v["pixel_accuracy"] for v in validation], "s--",
                    label="pixel accuracy")
        ax_val.legend(fontsize=8)
    ax_val.set_xlabel("iteration")
    ax_val.set_ylabel("validation (%)")
    return fig


def save_figure(fig, path, dpi=110):
    """Write ``fig`` to ``path`` (PNG by extension), creating folders; returns the path."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path
