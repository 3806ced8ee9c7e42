"""SGD with momentum and weight decay, and the "poly" learning-rate schedule.

PSPNet (Sec. 4.1, after DeepLab): base learning rate 0.01, ``lr = base·(1 - iter/max_iter)^0.9``,
momentum 0.9, weight decay 1e-4. The update is PyTorch's ``torch.optim.SGD``::

    g ← grad + weight_decay · w            (L2 regularisation as a gradient term)
    v ← g                  (first step)    v ← momentum · v + g   (later steps)
    w ← w - lr · v

applied **in place** to ``Parameter.data``, so layers holding the parameter see the new value.
"""

from __future__ import annotations

import numpy as np

from ..backend import device_of, get_array_module, to_device

__all__ = ["SGD", "poly_lr"]


def poly_lr(base_lr, iteration, max_iter, power=0.9):
    """``base_lr · (1 - iteration / max_iter) ** power``: starts at ``base_lr`` and falls to 0
    at ``max_iter``, slowly at first and quickly at the end."""
    if max_iter <= 0 or not 0 <= iteration <= max_iter:
        raise ValueError(f"poly_lr: need 0 <= iteration <= max_iter and max_iter > 0, got "
                         f"iteration={iteration!r}, max_iter={max_iter!r}")
    return base_lr * (1.0 - iteration / max_iter) ** power


class SGD:
    """Stochastic gradient descent with momentum and weight decay (see the module docstring).

    ``params``: a list of ``Parameter`` (``model.parameters()``). ``lr`` may be changed
    between steps (``opt.lr = poly_lr(...)``). ``step()`` skips parameters whose ``grad`` is
    ``None`` (not reached by the last backward).
    """

    def __init__(self, params, lr=0.01, momentum=0.9, weight_decay=1e-4):
        self.params = list(params)
        if not self.params:
            raise ValueError("SGD: params is empty")
        if lr < 0 or not 0 <= momentum < 1 or weight_decay < 0:
            raise ValueError(f"SGD: need lr >= 0, 0 <= momentum < 1, weight_decay >= 0; got "
                             f"lr={lr!r}, momentum={momentum!r}, weight_decay={weight_decay!r}")
        self.lr, self.momentum, self.weight_decay = float(lr), float(momentum), float(weight_decay)
        self.velocity = [None] * len(self.params)

    def zero_grad(self):
        for p in self.params:
            p.zero_grad()

    def step(self):
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad + self.weight_decay * p.data if self.weight_decay else p.grad.copy()
            v = self.velocity[i]
            if v is None or self.momentum == 0:
                v = self.velocity[i] = g
            else:
                v *= self.momentum
                v += g
            p.data -= self.lr * v

    def state_dict(self):
        """``{"velocity.<i>": array}`` for the parameters that have a velocity (on the CPU)."""
        return {f"velocity.{i}": np.asarray(to_device(v, "cpu")).copy()
                for i, v in enumerate(self.velocity) if v is not None}

    def load_state_dict(self, state):
        for key, value in state.items():
            i = int(key.split(".")[1])
            p = self.params[i]
            if tuple(value.shape) != tuple(p.data.shape):
                raise ValueError(f"SGD.load_state_dict: {key} has shape {tuple(value.shape)}, "
                                 f"parameter {i} has {tuple(p.data.shape)}")
            xp = get_array_module(p.data)
            self.velocity[i] = xp.asarray(to_device(value, device_of(p.data)), dtype=p.data.dtype)
