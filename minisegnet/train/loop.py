"""The training loop: SGD + poly schedule + (auxiliary) cross-entropy, with a progress bar,
periodic validation and checkpoints.

One iteration::

    x, y   = next batch (shuffled, augmented)                 (B, 3, H, W), (B, H, W)
    logits = model.forward(x)                                 (B, K, H, W)
    loss   = CE(logits, y) [+ aux_weight · CE(model.aux_logits, y)]
    model.zero_grad(); model.backward(dCE, [aux_weight · dCE_aux])
    lr     = poly_lr(base_lr, it, iterations, power); optimizer.step()

Every ``val_every`` iterations (and at the end) the model is evaluated on the validation set
(mIoU, pixel accuracy) and, if ``checkpoint`` is set, saved there (atomically).
Deterministic: the batch order and augmentation come from ``default_rng(seed)``; the
weights from ``nn.init.seed`` before the model is built (the caller's job).
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from .. import functional as F
from .checkpoint import save_checkpoint
from .evaluate import evaluate_predictions, predict_probabilities
from .optim import SGD, poly_lr

__all__ = ["TrainConfig", "train", "train_step"]


@dataclass
class TrainConfig:
    """Training settings; the defaults are PSPNet's (lr 0.01, poly 0.9, momentum 0.9,
    weight decay 1e-4, auxiliary weight 0.4)."""

    iterations: int = 1000
    batch_size: int = 8
    base_lr: float = 0.01
    power: float = 0.9
    momentum: float = 0.9
    weight_decay: float = 1e-4
    aux_weight: float = 0.4
    val_every: int = 0              # 0: validate only at the end
    val_batch_size: int = 50
    augment: object = None          # e.g. data.DEMO_AUGMENT; None: no augmentation
    seed: int = 0
    device: str = "cpu"
    checkpoint: str | None = None   # path of the .npz written at each validation
    progress: bool = True           # tqdm progress bar (on stderr)
    meta: dict = field(default_factory=dict)   # extra checkpoint metadata

    def __post_init__(self):
        if self.iterations < 1 or self.batch_size < 1:
            raise ValueError(f"TrainConfig: iterations and batch_size must be >= 1, got "
                             f"{self.iterations}, {self.batch_size}")
        if self.device not in ("cpu", "gpu"):
            raise ValueError(f"TrainConfig: device must be 'cpu' or 'gpu', got {self.device!r}")


def _endless_batches(dataset, config, rng):
    """Shuffled epochs, one after the other, without end (last short batch dropped)."""
    if len(dataset) < config.batch_size:
        raise ValueError(f"train: the training set has {len(dataset)} samples, fewer than "
                         f"batch_size={config.batch_size}")
    while True:
        yield from dataset.batches(config.batch_size, rng, shuffle=True, augment=config.augment,
                                   drop_last=True, device=config.device)


def train_step(model, optimizer, x, y, aux_weight=0.4, ignore_index=255):
    """One SGD step on the batch ``(x, y)``; returns ``(loss, main_loss)`` as floats.

    ``loss`` includes ``aux_weight ·`` the auxiliary loss when the model produced
    ``aux_logits`` (MiniPSPNet in training mode with ``aux=True``) and ``aux_weight > 0``.
    """
    logits = model.forward(x)
    main, cache = F.softmax_cross_entropy_forward(logits, y, ignore_index=ignore_index)
    d_logits = F.softmax_cross_entropy_backward(1.0, cache)
    model.zero_grad()
    aux = getattr(model, "aux_logits", None)
    if aux is not None and aux_weight > 0:
        aux_loss, aux_cache = F.softmax_cross_entropy_forward(aux, y, ignore_index=ignore_index)
        model.backward(d_logits, F.softmax_cross_entropy_backward(float(aux_weight), aux_cache))
        total = float(main) + aux_weight * float(aux_loss)
    else:
        model.backward(d_logits)
        total = float(main)
    optimizer.step()
    return total, float(main)


def _validate(model, val_set, config):
    probs = predict_probabilities(model, val_set, config.val_batch_size, config.device)
    return evaluate_predictions(probs.argmax(axis=1).astype(np.uint8), val_set)


def train(model, train_set, val_set=None, config=None, **overrides):
    """Train ``model`` on ``train_set``; returns a dict:

    ``history`` (a list of ``{"iteration", "loss", "main_loss", "lr"}`` per iteration),
    ``validation`` (a list of ``{"iteration", "mean_iou", "pixel_accuracy"}``), ``final``
    (the last validation's full metrics dict, or ``None`` without ``val_set``), ``seconds``
    (wall time of the loop) and ``optimizer`` (the ``SGD``, for checkpoints).

    ``config``: a ``TrainConfig``; ``overrides``: fields to change in it, e.g.
    ``train(model, data, iterations=200, base_lr=0.02)``.
    """
    config = replace(config or TrainConfig(), **overrides)
    model.to(device=config.device)
    model.train()
    optimizer = SGD(model.parameters(), config.base_lr, config.momentum, config.weight_decay)
    rng = np.random.default_rng(config.seed)
    batches = _endless_batches(train_set, config, rng)
    history, validation, final = [], [], None

    bar = None
    if config.progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.iterations, desc="train", unit="it", dynamic_ncols=True,
                   leave=False)
    start = time.perf_counter()
    smooth = None
    try:
        for it in range(config.iterations):
            optimizer.lr = poly_lr(config.base_lr, it, config.iterations, config.power)
            x, y = next(batches)
            loss, main = train_step(model, optimizer, x, y, config.aux_weight,
                                    train_set.ignore_index)
            if not np.isfinite(loss):
                raise FloatingPointError(f"train: the loss became {loss} at iteration {it + 1}; "
                                         f"lower base_lr (now {config.base_lr})")
            history.append({"iteration": it + 1, "loss": loss, "main_loss": main,
                            "lr": optimizer.lr})
            smooth = loss if smooth is None else 0.95 * smooth + 0.05 * loss
            last = it + 1 == config.iterations
            if val_set is not None and (last or (config.val_every and (it + 1) % config.val_every == 0)):
                final = _validate(model, val_set, config)
                validation.append({"iteration": it + 1, "mean_iou": final["mean_iou"],
                                   "pixel_accuracy": final["pixel_accuracy"]})
                message = (f"iteration {it + 1}/{config.iterations}: loss {smooth:.3f}, "
                           f"val mIoU {100 * final['mean_iou']:.1f}, "
                           f"pixel acc {100 * final['pixel_accuracy']:.1f}")
                if bar is not None:   # on the bar's stream (stderr), above the bar
                    bar.write(message, file=sys.stderr)
                if config.checkpoint:
                    save_checkpoint(config.checkpoint, model, optimizer, iteration=it + 1,
                                    val_mean_iou=float(final["mean_iou"]),
                                    train_config=_jsonable(config), **config.meta)
            if bar is not None:
                postfix = {"loss": f"{smooth:.3f}", "lr": f"{optimizer.lr:.4f}"}
                if validation:
                    postfix["val mIoU"] = f"{100 * validation[-1]['mean_iou']:.1f}"
                bar.set_postfix(postfix, refresh=False)
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return {"history": history, "validation": validation, "final": final,
            "seconds": time.perf_counter() - start, "optimizer": optimizer}


def _jsonable(config):
    d = asdict(config)
    d["augment"] = repr(config.augment) if config.augment is not None else None
    d.pop("meta", None)
    return d
