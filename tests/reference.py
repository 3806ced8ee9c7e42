"""Naive, obviously-correct references for the convolution family (float64, NumPy only).

Everything here is written straight from the definitions with explicit Python loops over
output positions and kernel taps -- no im2col, no matrix tricks, nothing imported from
``minisegnet`` -- so that the tests never check the library against itself. The loops are
only meant for tiny shapes (N <= 2, C <= 3, H, W <= 9).

Conventions are PyTorch's: x ``(N, C_in, H, W)``; conv weights ``(C_out, C_in, kH, kW)``;
transposed-conv weights ``(C_in, C_out, kH, kW)``; ``stride``, ``padding``, ``dilation``,
``output_padding`` and ``kernel_size`` are an int or an ``(h, w)`` pair.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "pair",
    "conv_out_len",
    "conv_transpose_out_len",
    "conv2d_naive",
    "conv2d_backward_naive",
    "conv_transpose2d_naive",
    "conv_transpose2d_backward_naive",
    "unfold_naive",
    "fold_naive",
    "rel_error",
    "assert_close",
    "num_grad_array",
]


# ----------------------------------------------------------------------------- helpers
def pair(v):
    """``v`` as an ``(h, w)`` pair of Python ints."""
    if isinstance(v, (tuple, list)):
        assert len(v) == 2
        return int(v[0]), int(v[1])
    return int(v), int(v)


def conv_out_len(n, k, s=1, p=0, d=1):
    """Number of window positions along one axis, counted one by one (brute force).

    A window starting at ``t`` in the padded input (length ``n + 2p``) covers the taps
    ``t, t + d, ..., t + d*(k-1)``; it is valid when its last tap is inside; ``t`` steps by
    ``s`` from 0.
    """
    count, t = 0, 0
    while t + d * (k - 1) <= n + 2 * p - 1:
        count += 1
        t += s
    return count


def conv_transpose_out_len(n, k, s=1, p=0, op=0, d=1):
    """Output length of a transposed conv along one axis, by brute force.

    Input position ``i`` scatters to ``i*s + t*d`` (t < k) in an uncropped output; the
    result crops ``p`` from each side and adds ``op`` positions at the end.
    """
    last = max(i * s + t * d for i in range(n) for t in range(k))
    return (last + 1) - 2 * p + op


def _as64(a):
    return None if a is None else np.asarray(a, dtype=np.float64)


# ----------------------------------------------------------------------------- conv2d
def conv2d_naive(x, w, b=None, stride=1, padding=0, dilation=1):
    """y[n,co,i,j] = b[co] + sum_{ci,p,q} w[co,ci,p,q] * xpad[n,ci,i*sh + p*dh, j*sw + q*dw]."""
    x, w, b = _as64(x), _as64(w), _as64(b)
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
    N, Ci, H, W = x.shape
    Co, Ci2, kH, kW = w.shape
    assert Ci == Ci2
    xpad = np.zeros((N, Ci, H + 2 * ph, W + 2 * pw))
    xpad[:, :, ph : ph + H, pw : pw + W] = x
    Ho, Wo = conv_out_len(H, kH, sh, ph, dh), conv_out_len(W, kW, sw, pw, dw)
    y = np.zeros((N, Co, Ho, Wo))
    for n in range(N):
        for co in range(Co):
            for i in range(Ho):
                for j in range(Wo):
                    acc = 0.0 if b is None else b[co]
                    for ci in range(Ci):
                        for p in range(kH):
                            for q in range(kW):
                                acc += (
                                    w[co, ci, p, q] * xpad[n, ci, i * sh + p * dh, j * sw + q * dw]
                                )
                    y[n, co, i, j] = acc
    return y


def conv2d_backward_naive(dy, x, w, stride=1, padding=0, dilation=1):
    """Gradients of ``sum(conv2d(x, w, b) * dy)`` from the same index relation, by loops.

    Every product ``w[co,ci,p,q] * xpad[n,ci,r,c]`` that feeds ``y[n,co,i,j]`` sends
    ``dy[n,co,i,j] * xpad`` to ``dw`` and ``dy[n,co,i,j] * w`` to ``dxpad``; ``db`` sums ``dy``.
    Returns ``(dx, dw, db)``.
    """
    dy, x, w = _as64(dy), _as64(x), _as64(w)
    (sh, sw), (ph, pw), (dh, dw_) = pair(stride), pair(padding), pair(dilation)
    N, Ci, H, W = x.shape
    Co, _, kH, kW = w.shape
    _, _, Ho, Wo = dy.shape
    xpad = np.zeros((N, Ci, H + 2 * ph, W + 2 * pw))
    xpad[:, :, ph : ph + H, pw : pw + W] = x
    dxpad = np.zeros_like(xpad)
    dw = np.zeros_like(w)
    for n in range(N):
        for co in range(Co):
            for i in range(Ho):
                for j in range(Wo):
                    g = dy[n, co, i, j]
                    for ci in range(Ci):
                        for p in range(kH):
                            for q in range(kW):
                                r, c = i * sh + p * dh, j * sw + q * dw_
                                dw[co, ci, p, q] += g * xpad[n, ci, r, c]
                                dxpad[n, ci, r, c] += g * w[co, ci, p, q]
    dx = dxpad[:, :, ph : ph + H, pw : pw + W].copy()
    db = dy.sum(axis=(0, 2, 3))
    return dx, dw, db


# ------------------------------------------------------------------- conv_transpose2d
def conv_transpose2d_naive(x, w, b=None, stride=1, padding=0, output_padding=0, dilation=1):
    """Scatter: x[n,ci,i,j] * w[ci,co,p,q] lands on (i*sh - ph + p*dh, j*sw - pw + q*dw).

    Positions outside the output are skipped; the output size is
    ``(H-1)*s - 2*p + d*(k-1) + output_padding + 1`` per axis; ``b[co]`` is added everywhere.
    """
    x, w, b = _as64(x), _as64(w), _as64(b)
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
    oph, opw = pair(output_padding)
    N, Ci, H, W = x.shape
    Ci2, Co, kH, kW = w.shape
    assert Ci == Ci2
    Ho = (H - 1) * sh - 2 * ph + dh * (kH - 1) + oph + 1
    Wo = (W - 1) * sw - 2 * pw + dw * (kW - 1) + opw + 1
    y = np.zeros((N, Co, Ho, Wo))
    for n in range(N):
        for ci in range(Ci):
            for i in range(H):
                for j in range(W):
                    for p in range(kH):
                        for q in range(kW):
                            r, c = i * sh - ph + p * dh, j * sw - pw + q * dw
                            if 0 <= r < Ho and 0 <= c < Wo:
                                for co in range(Co):
                                    y[n, co, r, c] += x[n, ci, i, j] * w[ci, co, p, q]
    if b is not None:
        y += b[None, :, None, None]
    return y


def conv_transpose2d_backward_naive(dy, x, w, stride=1, padding=0, dilation=1):
    """Gradients of ``sum(conv_transpose2d(x, w, b) * dy)`` from the scatter relation.

    ``output_padding`` only changes the output size, which ``dy``'s shape already carries.
    Returns ``(dx, dw, db)``.
    """
    dy, x, w = _as64(dy), _as64(x), _as64(w)
    (sh, sw), (ph, pw), (dh, dw_) = pair(stride), pair(padding), pair(dilation)
    N, Ci, H, W = x.shape
    _, Co, kH, kW = w.shape
    _, _, Ho, Wo = dy.shape
    dx = np.zeros_like(x)
    dw = np.zeros_like(w)
    for n in range(N):
        for ci in range(Ci):
            for i in range(H):
                for j in range(W):
                    for p in range(kH):
                        for q in range(kW):
                            r, c = i * sh - ph + p * dh, j * sw - pw + q * dw_
                            if 0 <= r < Ho and 0 <= c < Wo:
                                for co in range(Co):
                                    dx[n, ci, i, j] += w[ci, co, p, q] * dy[n, co, r, c]
                                    dw[ci, co, p, q] += x[n, ci, i, j] * dy[n, co, r, c]
    db = dy.sum(axis=(0, 2, 3))
    return dx, dw, db


# ------------------------------------------------------------------------ unfold / fold
def unfold_naive(x, kernel_size, stride=1, padding=0, dilation=1):
    """cols[n, (c*kH + p)*kW + q, i*Wo + j] = xpad[n, c, i*sh + p*dh, j*sw + q*dw].

    The layout of ``torch.nn.functional.unfold``: rows run over (channel, kernel row,
    kernel column), columns over output positions in row-major order.
    """
    x = _as64(x)
    (kH, kW), (sh, sw) = pair(kernel_size), pair(stride)
    (ph, pw), (dh, dw) = pair(padding), pair(dilation)
    N, C, H, W = x.shape
    xpad = np.zeros((N, C, H + 2 * ph, W + 2 * pw))
    xpad[:, :, ph : ph + H, pw : pw + W] = x
    Ho, Wo = conv_out_len(H, kH, sh, ph, dh), conv_out_len(W, kW, sw, pw, dw)
    cols = np.zeros((N, C * kH * kW, Ho * Wo))
    for n in range(N):
        for c in range(C):
            for p in range(kH):
                for q in range(kW):
                    for i in range(Ho):
                        for j in range(Wo):
                            cols[n, (c * kH + p) * kW + q, i * Wo + j] = xpad[
                                n, c, i * sh + p * dh, j * sw + q * dw
                            ]
    return cols


def fold_naive(cols, output_size, kernel_size, stride=1, padding=0, dilation=1):
    """The sum-scatter inverse of :func:`unfold_naive` (``torch.nn.functional.fold``).

    Each entry of ``cols`` is added to the padded-image position it was read from; the
    padding is then cropped away.
    """
    cols = _as64(cols)
    (H, W), (kH, kW), (sh, sw) = pair(output_size), pair(kernel_size), pair(stride)
    (ph, pw), (dh, dw) = pair(padding), pair(dilation)
    N, CK, L = cols.shape
    C = CK // (kH * kW)
    assert C * kH * kW == CK
    Ho, Wo = conv_out_len(H, kH, sh, ph, dh), conv_out_len(W, kW, sw, pw, dw)
    assert Ho * Wo == L
    xpad = np.zeros((N, C, H + 2 * ph, W + 2 * pw))
    for n in range(N):
        for c in range(C):
            for p in range(kH):
                for q in range(kW):
                    for i in range(Ho):
                        for j in range(Wo):
                            xpad[n, c, i * sh + p * dh, j * sw + q * dw] += cols[
                                n, (c * kH + p) * kW + q, i * Wo + j
                            ]
    return xpad[:, :, ph : ph + H, pw : pw + W].copy()


# ---------------------------------------------------------------------- comparisons
def rel_error(x, y):
    """CS231n's relative error: max over elements of |x - y| / max(1e-8, |x| + |y|)."""
    x, y = _as64(x), _as64(y)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def assert_close(actual, expected, rtol=1e-9):
    """Scale-aware closeness: |actual - expected| <= rtol * max|expected| element-wise.

    Normalising by the largest magnitude (instead of element by element) keeps an entry that
    is a near-cancelling sum (true value ~1e-17) from failing on rounding alone, while any
    real indexing error (of the order of the data) is still caught.
    """
    actual = np.asarray(actual)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"shape {actual.shape} != expected {expected.shape}"
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1e-30)
    err = float(np.max(np.abs(actual.astype(np.float64) - expected), initial=0.0)) / scale
    assert err <= rtol, f"max error / scale = {err:.3e} > {rtol:.1e}"


def num_grad_array(f, x, dout, h=1e-5):
    """Central-difference gradient of ``sum(f(x) * dout)`` w.r.t. the float64 array ``x``.

    Written here (not taken from ``minisegnet.gradcheck``) so that the conv tests do not
    depend on the library's own checker. ``x`` is perturbed in place and restored.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    flat_x = x.reshape(-1)
    flat_g = grad.reshape(-1)
    for k in range(flat_x.size):
        old = flat_x[k]
        flat_x[k] = old + h
        fp = float(np.sum(np.asarray(f(x), dtype=np.float64) * dout))
        flat_x[k] = old - h
        fm = float(np.sum(np.asarray(f(x), dtype=np.float64) * dout))
        flat_x[k] = old
        flat_g[k] = (fp - fm) / (2 * h)
    return grad
