"""Training and evaluation: ``from minisegnet import train``.

- ``SGD`` (momentum, weight decay) and ``poly_lr`` (optim.py);
- ``TrainConfig``, ``train``, ``train_step`` (loop.py): the loop with a tqdm progress bar,
  auxiliary loss, periodic validation and checkpoints;
- ``save_checkpoint`` / ``load_checkpoint`` (checkpoint.py): atomic ``.npz`` files, checked
  names and shapes;
- ``evaluate``, ``predict_probabilities``, ``band_metrics``, ``boundary_iou``,
  ``crf_refine`` (evaluate.py).
"""

from .checkpoint import CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from .evaluate import (
    DEMO_CRF_PARAMS,
    band_metrics,
    boundary_band,
    boundary_iou,
    crf_refine,
    evaluate,
    evaluate_predictions,
    label_edges,
    predict_probabilities,
    softmax,
)
from .loop import TrainConfig, train, train_step
from .optim import SGD, poly_lr

__all__ = [
    "SGD",
    "poly_lr",
    "TrainConfig",
    "train",
    "train_step",
    "save_checkpoint",
    "load_checkpoint",
    "read_checkpoint",
    "CheckpointError",
    "evaluate",
    "evaluate_predictions",
    "predict_probabilities",
    "softmax",
    "label_edges",
    "boundary_band",
    "band_metrics",
    "boundary_iou",
    "crf_refine",
    "DEMO_CRF_PARAMS",
]
