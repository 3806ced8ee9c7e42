"""Batch normalisation over ``(N, H, W)`` per channel, as ``torch.nn.functional.batch_norm``.

Lesson: ``lessons/07-pspnet.md`` (PSPNet puts BN after every convolution).
"""

from __future__ import annotations

from typing import NamedTuple

from .._checks import check_array, check_cache, check_same_kind, check_shape

__all__ = ["batch_norm2d_forward", "batch_norm2d_backward"]


class _BatchNormCache(NamedTuple):
    kind: str
    x_hat: object       # (N, C, H, W) normalised input
    inv_std: object     # (C,)
    gamma: object
    training: bool


def _check(fn, x, gamma, beta, running_mean, running_var):
    check_array(fn, "x", x, 4, "(N, C, H, W)")
    channels = x.shape[1]
    for name, a in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean),
                    ("running_var", running_var)):
        check_array(fn, name, a, 1, "(C,)")
        check_shape(fn, name, a, (channels,))
    check_same_kind(fn, x=x, gamma=gamma, beta=beta, running_mean=running_mean,
                    running_var=running_var)


def batch_norm2d_forward(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1,
                         eps=1e-5):
    """``y = γ · (x - μ) / √(σ² + ε) + β`` per channel.

    Training: ``μ, σ²`` are the batch mean and biased variance over ``(N, H, W)``, and the
    running statistics are updated **in place**: ``r ← (1 - momentum)·r + momentum·batch``,
    the running variance from the *unbiased* batch variance (PyTorch's rule).
    Evaluation: ``μ, σ²`` are the running statistics, which stay unchanged.

    x: (N, C, H, W); gamma, beta, running_mean, running_var: (C,).
    Returns ``(y, cache)``, y: (N, C, H, W).
    """
    fn = "batch_norm2d_forward"
    _check(fn, x, gamma, beta, running_mean, running_var)
    count = x.shape[0] * x.shape[2] * x.shape[3]
    if training and count < 2:
        raise ValueError(f"{fn}: training needs more than 1 value per channel to estimate a "
                         f"variance, got x of shape {tuple(x.shape)} (a 1×1 map needs a batch "
                         f"of at least 2, or eval mode)")
    if training:
        mean = x.mean(axis=(0, 2, 3))
        var = x.var(axis=(0, 2, 3))
        running_mean *= 1 - momentum
        running_mean += momentum * mean
        running_var *= 1 - momentum
        running_var += momentum * var * (count / (count - 1))
    else:
        mean, var = running_mean, running_var
    inv_std = 1 / (var + eps) ** 0.5
    x_hat = (x - mean.reshape(1, -1, 1, 1)) * inv_std.reshape(1, -1, 1, 1)
    y = x_hat * gamma.reshape(1, -1, 1, 1) + beta.reshape(1, -1, 1, 1)
    return y, _BatchNormCache("batch_norm2d", x_hat, inv_std, gamma, training)


def batch_norm2d_backward(dy, cache):
    """Gradients of ``batch_norm2d_forward``.

    Training (the batch statistics depend on x), with ``g = γ·dy`` and ``M = N·H·W``:
    ``dx = (inv_std / M) · (M·g - Σg - x̂·Σ(g·x̂))``; evaluation: ``dx = γ·inv_std·dy``.
    ``dγ = Σ dy·x̂``, ``dβ = Σ dy`` (sums over ``N, H, W``).

    dy: (N, C, H, W). Returns ``(dx, dgamma, dbeta)``: (N, C, H, W), (C,), (C,).
    """
    fn = "batch_norm2d_backward"
    check_cache(fn, cache, "batch_norm2d")
    check_array(fn, "dy", dy, 4, "(N, C, H, W)")
    check_shape(fn, "dy", dy, cache.x_hat.shape)
    axes = (0, 2, 3)
    dgamma = (dy * cache.x_hat).sum(axis=axes)
    dbeta = dy.sum(axis=axes)
    scale = (cache.gamma * cache.inv_std).reshape(1, -1, 1, 1)
    if not cache.training:
        return dy * scale, dgamma, dbeta
    count = dy.shape[0] * dy.shape[2] * dy.shape[3]
    mean_dy = (dbeta / count).reshape(1, -1, 1, 1)
    mean_dy_xhat = (dgamma / count).reshape(1, -1, 1, 1)
    dx = scale * (dy - mean_dy - cache.x_hat * mean_dy_xhat)
    return dx, dgamma, dbeta
