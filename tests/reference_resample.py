"""Naive, obviously-correct references for the resampling, pooling, normalisation and loss ops.

Everything here is written straight from the definitions with explicit Python loops over
output positions (float64, NumPy only, nothing imported from ``minisegnet``), so that the
tests never check the library against itself. The loops are meant for tiny shapes.

Conventions are PyTorch's: x ``(N, C, H, W)``; pooling indices index the flattened ``H*W``
plane of each ``(n, c)`` of the UNPADDED input; ``kernel_size``, ``stride``, ``padding``,
``size``, ``scale_factor`` and ``output_size`` are an int (or float for bilinear scales) or an
``(h, w)`` pair.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "pair",
    "pool_out_len",
    "max_pool2d_naive",
    "max_pool2d_backward_naive",
    "max_unpool2d_naive",
    "max_unpool2d_backward_naive",
    "unpool_nearest_naive",
    "unpool_nearest_backward_naive",
    "unpool_bed_of_nails_naive",
    "unpool_bed_of_nails_backward_naive",
    "bilinear_source",
    "bilinear_out_len",
    "bilinear_naive",
    "bilinear_backward_naive",
    "interpolation_matrix_naive",
    "adaptive_bin",
    "adaptive_avg_pool2d_naive",
    "adaptive_avg_pool2d_backward_naive",
    "adaptive_max_pool2d_naive",
    "relu_naive",
    "batch_norm2d_naive",
    "batch_norm2d_backward_naive",
    "softmax_cross_entropy_naive",
]


def pair(v):
    """``v`` as an ``(h, w)`` pair (ints stay ints, floats stay floats)."""
    if isinstance(v, (tuple, list)):
        assert len(v) == 2
        return v[0], v[1]
    return v, v


def _as64(a):
    return None if a is None else np.asarray(a, dtype=np.float64)


# ----------------------------------------------------------------------------- max pool
def pool_out_len(n, k, s, p):
    """Window positions along one axis, counted one by one: a window starting at ``t`` in
    the padded axis (length ``n + 2p``) covers ``t .. t+k-1`` and must fit inside."""
    count, t = 0, 0
    while t + k - 1 <= n + 2 * p - 1:
        count += 1
        t += s
    return count


def max_pool2d_naive(x, kernel_size, stride=None, padding=0):
    """Max over each window of the (-inf)-padded input; returns ``(y, indices)``.

    The window of output ``(i, j)`` covers padded rows ``i*sh .. i*sh+kH-1`` (unpadded row
    ``r = i*sh - ph + p``) and likewise for columns. Taps are visited in row-major order and
    only a STRICTLY larger value replaces the current best, so the first maximum wins.
    ``indices[n, c, i, j] = r * W + col`` in the unpadded input.
    """
    x = _as64(x)
    kH, kW = pair(kernel_size)
    sH, sW = pair(kernel_size if stride is None else stride)
    pH, pW = pair(padding)
    N, C, H, W = x.shape
    Ho, Wo = pool_out_len(H, kH, sH, pH), pool_out_len(W, kW, sW, pW)
    y = np.zeros((N, C, Ho, Wo))
    idx = np.zeros((N, C, Ho, Wo), dtype=np.int64)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    best, best_at = -math.inf, None
                    for p in range(kH):
                        for q in range(kW):
                            r, col = i * sH - pH + p, j * sW - pW + q
                            if 0 <= r < H and 0 <= col < W:  # padding is -inf: never taken
                                v = x[n, c, r, col]
                                if best_at is None or v > best:
                                    best, best_at = v, r * W + col
                    y[n, c, i, j] = best
                    idx[n, c, i, j] = best_at
    return y, idx


def max_pool2d_backward_naive(dy, indices, x_shape):
    """Each ``dy[n,c,i,j]`` is ADDED to the input position its window's max came from."""
    dy = _as64(dy)
    N, C, H, W = x_shape
    dx = np.zeros((N, C, H * W))
    for n in range(N):
        for c in range(C):
            for i in range(dy.shape[2]):
                for j in range(dy.shape[3]):
                    dx[n, c, indices[n, c, i, j]] += dy[n, c, i, j]
    return dx.reshape(N, C, H, W)


def max_unpool2d_naive(x, indices, out_hw):
    """Zeros of size ``out_hw`` with ``x[n,c,i,j]`` written at flat position ``indices[n,c,i,j]``."""
    x = _as64(x)
    N, C, H, W = x.shape
    Ho, Wo = out_hw
    y = np.zeros((N, C, Ho * Wo))
    for n in range(N):
        for c in range(C):
            for i in range(H):
                for j in range(W):
                    y[n, c, indices[n, c, i, j]] = x[n, c, i, j]
    return y.reshape(N, C, Ho, Wo)


def max_unpool2d_backward_naive(dy, indices):
    """The gather ``dx[n,c,i,j] = dy[n, c].flat[indices[n,c,i,j]]``."""
    dy = _as64(dy)
    N, C, H, W = indices.shape
    dx = np.zeros((N, C, H, W))
    for n in range(N):
        for c in range(C):
            plane = dy[n, c].reshape(-1)
            for i in range(H):
                for j in range(W):
                    dx[n, c, i, j] = plane[indices[n, c, i, j]]
    return dx


# ----------------------------------------------------------------------- fixed unpooling
def unpool_nearest_naive(x, scale_factor):
    """``y[n, c, i, j] = x[n, c, i // sh, j // sw]`` on an ``(H*sh, W*sw)`` grid."""
    x = _as64(x)
    sh, sw = pair(scale_factor)
    N, C, H, W = x.shape
    y = np.zeros((N, C, H * sh, W * sw))
    for i in range(H * sh):
        for j in range(W * sw):
            y[:, :, i, j] = x[:, :, i // sh, j // sw]
    return y


def unpool_nearest_backward_naive(dy, scale_factor):
    """``dx[n, c, a, b] = sum of dy over the block rows a*sh.., columns b*sw..``."""
    dy = _as64(dy)
    sh, sw = pair(scale_factor)
    N, C, Ho, Wo = dy.shape
    dx = np.zeros((N, C, Ho // sh, Wo // sw))
    for i in range(Ho):
        for j in range(Wo):
            dx[:, :, i // sh, j // sw] += dy[:, :, i, j]
    return dx


def unpool_bed_of_nails_naive(x, scale_factor):
    """``y[n, c, a*sh, b*sw] = x[n, c, a, b]``, zeros elsewhere."""
    x = _as64(x)
    sh, sw = pair(scale_factor)
    N, C, H, W = x.shape
    y = np.zeros((N, C, H * sh, W * sw))
    for a in range(H):
        for b in range(W):
            y[:, :, a * sh, b * sw] = x[:, :, a, b]
    return y


def unpool_bed_of_nails_backward_naive(dy, scale_factor):
    """``dx[n, c, a, b] = dy[n, c, a*sh, b*sw]``."""
    dy = _as64(dy)
    sh, sw = pair(scale_factor)
    N, C, Ho, Wo = dy.shape
    dx = np.zeros((N, C, Ho // sh, Wo // sw))
    for a in range(Ho // sh):
        for b in range(Wo // sw):
            dx[:, :, a, b] = dy[:, :, a * sh, b * sw]
    return dx


# ----------------------------------------------------------------------------- bilinear
def bilinear_out_len(n, size=None, scale=None):
    """``size`` if given, else ``floor(n * scale)`` (PyTorch, recompute_scale_factor=False)."""
    if size is not None:
        return int(size)
    return int(math.floor(n * scale))


def bilinear_source(dst, in_len, out_len, align_corners, scale=None):
    """The two source taps and their weights for output position ``dst`` along one axis.

    align_corners=True : ``src = dst * (in-1)/(out-1)`` (0 when out == 1); a given scale is
    ignored. align_corners=False: ``src = (dst + 0.5) * r - 0.5`` clamped at 0, with
    ``r = 1/scale`` when a scale factor was given, else ``in/out``. Then ``i0 = floor(src)``,
    ``i1 = i0 + 1`` clamped to the last pixel, ``lam = src - i0``, weights ``(1-lam, lam)``.
    Returns ``(i0, i1, w0, w1)``.
    """
    if align_corners:
        ratio = (in_len - 1) / (out_len - 1) if out_len > 1 else 0.0
        src = dst * ratio
    else:
        ratio = 1.0 / scale if scale is not None else in_len / out_len
        src = max((dst + 0.5) * ratio - 0.5, 0.0)
    i0 = int(math.floor(src))
    assert 0 <= i0 <= in_len - 1, (dst, src, in_len)
    i1 = min(i0 + 1, in_len - 1)
    lam = src - i0
    return i0, i1, 1.0 - lam, lam


def _bilinear_geometry(H, W, size, scale_factor, align_corners):
    if size is not None:
        oh, ow = pair(size)
        s_h = s_w = None
    else:
        s_h, s_w = pair(scale_factor)
        oh, ow = None, None
    Ho, Wo = bilinear_out_len(H, oh, s_h), bilinear_out_len(W, ow, s_w)
    rows = [bilinear_source(i, H, Ho, align_corners, s_h) for i in range(Ho)]
    cols = [bilinear_source(j, W, Wo, align_corners, s_w) for j in range(Wo)]
    return Ho, Wo, rows, cols


def bilinear_naive(x, size=None, scale_factor=None, align_corners=False):
    """Per output pixel: the weighted sum of its four neighbours
    ``wr0*wc0*x[r0,c0] + wr0*wc1*x[r0,c1] + wr1*wc0*x[r1,c0] + wr1*wc1*x[r1,c1]``."""
    x = _as64(x)
    N, C, H, W = x.shape
    Ho, Wo, rows, cols = _bilinear_geometry(H, W, size, scale_factor, align_corners)
    y = np.zeros((N, C, Ho, Wo))
    for i, (r0, r1, wr0, wr1) in enumerate(rows):
        for j, (c0, c1, wc0, wc1) in enumerate(cols):
            y[:, :, i, j] = (
                wr0 * wc0 * x[:, :, r0, c0]
                + wr0 * wc1 * x[:, :, r0, c1]
                + wr1 * wc0 * x[:, :, r1, c0]
                + wr1 * wc1 * x[:, :, r1, c1]
            )
    return y


def bilinear_backward_naive(dy, in_hw, size=None, scale_factor=None, align_corners=False):
    """Scatter each ``dy[.., i, j]`` back to the four neighbours with the same weights."""
    dy = _as64(dy)
    N, C = dy.shape[:2]
    H, W = in_hw
    Ho, Wo, rows, cols = _bilinear_geometry(H, W, size, scale_factor, align_corners)
    assert dy.shape[2:] == (Ho, Wo)
    dx = np.zeros((N, C, H, W))
    for i, (r0, r1, wr0, wr1) in enumerate(rows):
        for j, (c0, c1, wc0, wc1) in enumerate(cols):
            g = dy[:, :, i, j]
            dx[:, :, r0, c0] += wr0 * wc0 * g
            dx[:, :, r0, c1] += wr0 * wc1 * g
            dx[:, :, r1, c0] += wr1 * wc0 * g
            dx[:, :, r1, c1] += wr1 * wc1 * g
    return dx


def interpolation_matrix_naive(in_len, out_len, align_corners=False, scale=None):
    """The ``(out, in)`` matrix whose row ``i`` holds ``w0`` at ``i0`` and ``w1`` at ``i1``."""
    A = np.zeros((out_len, in_len))
    for i in range(out_len):
        i0, i1, w0, w1 = bilinear_source(i, in_len, out_len, align_corners, scale)
        A[i, i0] += w0
        A[i, i1] += w1
    return A


# ----------------------------------------------------------------------- adaptive pools
def adaptive_bin(i, in_len, out_len):
    """Bin ``i`` covers ``[floor(i*in/out), ceil((i+1)*in/out))`` (exact integer arithmetic)."""
    start = (i * in_len) // out_len
    end = -((-(i + 1) * in_len) // out_len)
    return start, end


def adaptive_avg_pool2d_naive(x, output_size):
    x = _as64(x)
    N, C, H, W = x.shape
    Ho, Wo = pair(output_size)
    y = np.zeros((N, C, Ho, Wo))
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                r0, r1 = adaptive_bin(i, H, Ho)
                for j in range(Wo):
                    c0, c1 = adaptive_bin(j, W, Wo)
                    acc = 0.0
                    for r in range(r0, r1):
                        for col in range(c0, c1):
                            acc += x[n, c, r, col]
                    y[n, c, i, j] = acc / ((r1 - r0) * (c1 - c0))
    return y


def adaptive_avg_pool2d_backward_naive(dy, x_shape):
    """Each ``dy[.., i, j]`` spread evenly over its bin (overlapping bins accumulate)."""
    dy = _as64(dy)
    N, C, H, W = x_shape
    Ho, Wo = dy.shape[2:]
    dx = np.zeros((N, C, H, W))
    for i in range(Ho):
        r0, r1 = adaptive_bin(i, H, Ho)
        for j in range(Wo):
            c0, c1 = adaptive_bin(j, W, Wo)
            area = (r1 - r0) * (c1 - c0)
            for r in range(r0, r1):
                for col in range(c0, c1):
                    dx[:, :, r, col] += dy[:, :, i, j] / area
    return dx


def adaptive_max_pool2d_naive(x, output_size):
    """Max over each adaptive bin, first maximum (row-major) wins; returns ``(y, indices)``."""
    x = _as64(x)
    N, C, H, W = x.shape
    Ho, Wo = pair(output_size)
    y = np.zeros((N, C, Ho, Wo))
    idx = np.zeros((N, C, Ho, Wo), dtype=np.int64)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                r0, r1 = adaptive_bin(i, H, Ho)
                for j in range(Wo):
                    c0, c1 = adaptive_bin(j, W, Wo)
                    best, best_at = None, None
                    for r in range(r0, r1):
                        for col in range(c0, c1):
                            v = x[n, c, r, col]
                            if best is None or v > best:
                                best, best_at = v, r * W + col
                    y[n, c, i, j] = best
                    idx[n, c, i, j] = best_at
    return y, idx


# --------------------------------------------------------------------------- activation
def relu_naive(x):
    x = _as64(x)
    y = np.zeros_like(x)
    flat_x, flat_y = x.reshape(-1), y.reshape(-1)
    for k in range(flat_x.size):
        flat_y[k] = flat_x[k] if flat_x[k] > 0 else 0.0
    return y


# -------------------------------------------------------------------------- batch norm
def _channel_stats(x):
    """Per channel, by loops: (mean, biased variance, count) over (N, H, W)."""
    N, C, H, W = x.shape
    m = N * H * W
    means, variances = np.zeros(C), np.zeros(C)
    for c in range(C):
        s = 0.0
        for n in range(N):
            for h in range(H):
                for w in range(W):
                    s += x[n, c, h, w]
        mean = s / m
        ss = 0.0
        for n in range(N):
            for h in range(H):
                for w in range(W):
                    ss += (x[n, c, h, w] - mean) ** 2
        means[c], variances[c] = mean, ss / m
    return means, variances, m


def batch_norm2d_naive(
    x, gamma, beta, running_mean, running_var, training=True, momentum=0.1, eps=1e-5
):
    """Returns ``(y, new_running_mean, new_running_var)`` (the inputs are not modified).

    training: ``y = gamma * (x - mean_B) / sqrt(var_B + eps) + beta`` with the biased batch
    variance; running stats become ``(1-momentum)*old + momentum*batch`` with the UNBIASED
    batch variance ``var_B * m / (m - 1)``. eval: the running stats normalise; no update.
    """
    x, gamma, beta = _as64(x), _as64(gamma), _as64(beta)
    rm, rv = _as64(running_mean).copy(), _as64(running_var).copy()
    N, C, H, W = x.shape
    if training:
        mean, var, m = _channel_stats(x)
        rm = (1 - momentum) * rm + momentum * mean
        rv = (1 - momentum) * rv + momentum * var * m / (m - 1)
    else:
        mean, var = rm, rv
    y = np.zeros_like(x)
    for c in range(C):
        inv = 1.0 / math.sqrt(var[c] + eps)
        for n in range(N):
            for h in range(H):
                for w in range(W):
                    y[n, c, h, w] = gamma[c] * (x[n, c, h, w] - mean[c]) * inv + beta[c]
    return y, rm, rv


def batch_norm2d_backward_naive(dy, x, gamma, running_mean, running_var, training=True, eps=1e-5):
    """``(dx, dgamma, dbeta)`` from the textbook derivation, per channel with loops.

    With ``xhat = (x - mean)/std``: ``dbeta = sum dy``, ``dgamma = sum dy*xhat``;
    training: ``dx = gamma/std * (dy - dbeta/m - xhat * dgamma/m)`` (mean and variance depend
    on x); eval: ``dx = gamma/std * dy`` (the running stats are constants).
    """
    dy, x, gamma = _as64(dy), _as64(x), _as64(gamma)
    N, C, H, W = x.shape
    if training:
        mean, var, m = _channel_stats(x)
    else:
        mean, var, m = _as64(running_mean), _as64(running_var), N * H * W
    dx, dgamma, dbeta = np.zeros_like(x), np.zeros(C), np.zeros(C)
    for c in range(C):
        std = math.sqrt(var[c] + eps)
        for n in range(N):
            for h in range(H):
                for w in range(W):
                    xhat = (x[n, c, h, w] - mean[c]) / std
                    dbeta[c] += dy[n, c, h, w]
                    dgamma[c] += dy[n, c, h, w] * xhat
        for n in range(N):
            for h in range(H):
                for w in range(W):
                    if training:
                        xhat = (x[n, c, h, w] - mean[c]) / std
                        dx[n, c, h, w] = (
                            gamma[c] / std * (dy[n, c, h, w] - dbeta[c] / m - xhat * dgamma[c] / m)
                        )
                    else:
                        dx[n, c, h, w] = gamma[c] / std * dy[n, c, h, w]
    return dx, dgamma, dbeta


# ------------------------------------------------------------------------------- loss
def softmax_cross_entropy_naive(logits, target, ignore_index=255, weight=None):
    """Returns ``(loss, dlogits)`` for dloss = 1, pixel by pixel.

    For a non-ignored pixel with label t: ``lse = m + log(sum_k exp(z_k - m))`` with
    ``m = max_k z_k``, ``l = lse - z_t``, weighted by ``w_t``; the loss is
    ``sum w_t l / sum w_t`` (0 when every pixel is ignored). Its gradient on that pixel's
    logits is ``w_t (softmax(z) - onehot(t)) / sum w_t``.
    """
    z = _as64(logits)
    N, K, H, W = z.shape
    wts = np.ones(K) if weight is None else _as64(weight)
    total, wsum = 0.0, 0.0
    grad = np.zeros_like(z)
    pixels = []
    for n in range(N):
        for h in range(H):
            for w in range(W):
                t = int(target[n, h, w])
                if t == ignore_index:
                    continue
                assert 0 <= t < K
                v = z[n, :, h, w]
                m = max(v)
                s = sum(math.exp(vk - m) for vk in v)
                lse = m + math.log(s)
                total += wts[t] * (lse - v[t])
                wsum += wts[t]
                p = np.array([math.exp(vk - m) / s for vk in v])
                p[t] -= 1.0
                pixels.append((n, h, w, wts[t] * p))
    if wsum == 0.0:
        return 0.0, grad
    for n, h, w, g in pixels:
        grad[n, :, h, w] = g / wsum
    return total / wsum, grad
