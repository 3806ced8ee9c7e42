"""Training and evaluation: ``from minisegnet import train``.

- ``SGD`` (momentum, weight decay) and ``poly_lr`` (optim.py);
- ``TrainConfig``, ``train``, ``train_step`` (loop.py): the loop with a tqdm progress bar,
  auxiliary loss, periodic validation and checkpoints;
- ``save_checkpoint`` / ``load_checkpoint`` (checkpoint.py): atomic ``.npz`` files, checked
  names and shapes;
- ``evaluate``, ``evaluate_predictions``, ``predict_probabilities`` (evaluate.py); the
  metrics themselves are ``minisegnet.metrics``'.
"""

from .checkpoint import CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from .evaluate import evaluate, evaluate_predictions, predict_probabilities
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
]
