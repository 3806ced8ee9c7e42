"""Probes of A3: how the tests call your functions.

Each probe takes the ``minisegnet.functional`` module under test as ``F`` plus plain
arrays and parameters, calls your functions (and, for the pyramid pooling module, the
metrics and the training run, the ``minisegnet.nn``, ``minisegnet.metrics`` and
``minisegnet.train`` modules next to it) and returns their results by name. The
autograder runs probes in a separate, sandboxed process and compares what comes back
(arrays only) with the expected values; ``pytest assignments/a3`` runs them in-process.
"""

import numpy as np


def adaptive_avg_pool2d(F, x, output_size, dy=None):
    """Adaptive average pooling, then (with ``dy``) its backward pass."""
    y, cache = F.adaptive_avg_pool2d_forward(x, output_size)
    out = {"y": y}
    if dy is not None:
        out["dx"] = F.adaptive_avg_pool2d_backward(dy, cache)
    return out


def adaptive_pool_matrix(F, size, bins):
    """The ``(bins, size)`` averaging matrix and the bin edges it is built from."""
    matrix = F.adaptive_pool_matrix(size, bins)
    return {"matrix": np.asarray(matrix, dtype=np.float64)}


def adaptive_max_pool2d(F, x, output_size, dy=None):
    """Adaptive max pooling: uses your ``_bin_edges``, so it checks the edges directly."""
    y, indices, cache = F.adaptive_max_pool2d_forward(x, output_size, return_indices=True)
    out = {"y": y, "indices": indices}
    if dy is not None:
        out["dx"] = F.adaptive_max_pool2d_backward(dy, cache)
    return out


def _fill_weights(module):
    """Deterministic weights, whatever order the levels drew their random numbers in."""
    for i, p in enumerate(module.parameters()):
        if p.data.ndim == 4:   # the 1x1 convolutions (BatchNorm keeps gamma 1, beta 0)
            p.data[...] = np.cos(0.7 * np.arange(p.data.size) + i).reshape(p.data.shape)


def pyramid_pooling(F, x, bins, dy=None, pooling="avg", reduction=True, align_corners=False,
                    training=True):
    """``nn.PyramidPooling`` forward, then (with ``dy``) backward: ``y``, ``dx``, and the
    gradients of the levels' 1x1 convolution weights (``dw_1``, ``dw_2``, ... in level order)."""
    from minisegnet import nn

    ppm = nn.PyramidPooling(int(x.shape[1]), bins=tuple(bins), pooling=pooling,
                            reduction=reduction, align_corners=align_corners, rng=0)
    ppm.to(dtype=x.dtype)
    _fill_weights(ppm)
    if not training:
        ppm.eval()
    y = ppm.forward(x)
    out = {"y": y, "out_channels": np.asarray(ppm.out_channels, dtype=np.int64)}
    if dy is not None:
        ppm.zero_grad()
        out["dx"] = ppm.backward(dy)
        weights = [p for p in ppm.parameters() if p.data.ndim == 4]
        for i, p in enumerate(weights, start=1):
            out[f"dw_{i}"] = p.grad
    return out


def confusion_matrix(F, pred, target, num_classes, ignore_index=255):
    """``metrics.confusion_matrix``."""
    from minisegnet import metrics

    return {"cm": metrics.confusion_matrix(pred, target, num_classes, ignore_index=ignore_index)}


def _with_nan_flags(values):
    """``name`` with NaN shown as -1, plus ``name_is_nan`` (bool): NaN is part of the answer."""
    out = {}
    for name, value in values.items():
        value = np.asarray(value)
        if value.dtype.kind == "f":
            nan = np.isnan(value)
            out[name] = np.where(nan, -1.0, value).astype(value.dtype)
            out[f"{name}_is_nan"] = nan
        else:
            out[name] = value
    return out


def scores(F, cm):
    """Every metric read off one confusion matrix (per-class arrays and scalars); NaN is
    reported as -1 with a ``*_is_nan`` flag next to it."""
    from minisegnet import metrics

    return _with_nan_flags({
        "iou": metrics.iou(cm),
        "class_accuracy": metrics.class_accuracy(cm),
        "mean_iou": np.asarray(metrics.mean_iou(cm), dtype=np.float64),
        "pixel_accuracy": np.asarray(metrics.pixel_accuracy(cm), dtype=np.float64),
        "mean_accuracy": np.asarray(metrics.mean_accuracy(cm), dtype=np.float64),
        "frequency_weighted_iou": np.asarray(metrics.frequency_weighted_iou(cm), dtype=np.float64),
    })


def segmentation_scores(F, pred, target, num_classes, ignore_index=255):
    """Confusion matrix of a prediction, then its scores."""
    out = confusion_matrix(F, pred, target, num_classes, ignore_index)
    out.update(scores(F, out["cm"]))
    return out


def context_set(F, n, split, size, seed=0):
    """``n`` images of the ``context`` data set and their labels. The training test asks the
    trusted side for its validation data with this probe (recorded at release for the public
    test, computed live by the reference for the hidden one); your code never sees the labels."""
    from minisegnet import data

    dataset = data.make_context(int(n), split, seed=int(seed), size=int(size))
    return {"images": dataset.images, "labels": dataset.labels.astype(np.uint8)}


def train_pspnet(F, images, size, n_train, iterations, widths, seed=0, data_seed=0):
    """Train a small MiniPSPNet on ``context`` from scratch (your layers, your pyramid pooling
    module); its predicted labels on ``images`` ``(N, H, W, 3)`` ``uint8``. The test scores
    them against labels it holds itself."""
    from contextlib import nullcontext

    from minisegnet import data, models, nn, train

    # One BLAS thread: these small products gain nothing from more, and on a busy machine
    # spinning BLAS threads make every step many times slower (threadpoolctl is optional).
    try:
        from threadpoolctl import threadpool_limits

        one_thread = threadpool_limits(limits=1, user_api="blas")
    except ImportError:
        one_thread = nullcontext()
    nn.init.seed(int(seed))
    train_set = data.make_context(int(n_train), "train", seed=int(data_seed), size=int(size))
    model = models.MiniPSPNet(len(train_set.class_names), widths=tuple(widths))
    with one_thread:
        train.train(model, train_set, None, iterations=int(iterations), batch_size=8,
                    base_lr=0.01, seed=int(seed), progress=False)
        model.eval()
        pred = [np.asarray(model.forward(data.normalize(images[i:i + 16]))).argmax(axis=1)
                for i in range(0, len(images), 16)]
    return {"pred": np.concatenate(pred).astype(np.uint8)}
