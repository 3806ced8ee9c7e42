"""A naive dense-CRF mean field written straight from the definitions, with Python loops.

Nothing here comes from ``minisegnet``: features, kernels, normalisation and the update are
spelled out pixel by pixel with ``math.exp`` so that the tests never check the library
against itself. O(n_iter · N² · L) Python operations: tiny images only (N ≲ 50 pixels).

The model (pydensecrf's default, see API.md)::

    f_i = (x_i/sxy, y_i/sxy [, r_i/srgb, g_i/srgb, b_i/srgb])   x = column, y = row
    K_ij = exp(-1/2 |f_i - f_j|^2)                              (0 for j = i if exclude_self)
    Kn_ij = K_ij / sqrt(n_i n_j),  n_i = sum_j K_ij              ("symmetric"; "none": K)
    Q_i   = softmax(-U_i)
    Q_i  <- softmax(-U_i + sum_m w_m sum_j Kn_ij Q_j)            n_iter times
"""

from __future__ import annotations

import math

import numpy as np


def features_loop(image, sxy, srgb=None):
    """Per-pixel feature tuples, pixels in row-major order."""
    h, w = image.shape[:2]
    feats = []
    for y in range(h):
        for x in range(w):
            f = [x / sxy, y / sxy]
            if srgb is not None:
                f += [float(image[y, x, c]) / srgb for c in range(3)]
            feats.append(f)
    return feats


def kernel_loop(feats, normalization="symmetric", exclude_self=False):
    """The (normalised) kernel as a list of lists."""
    n = len(feats)
    k = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(n):
            if exclude_self and i == j:
                continue
            d2 = sum((a - b) ** 2 for a, b in zip(feats[i], feats[j]))
            k[i][j] = math.exp(-0.5 * d2)
    if normalization == "symmetric":
        norm = [sum(row) for row in k]
        k = [[k[i][j] / math.sqrt(norm[i] * norm[j]) for j in range(n)] for i in range(n)]
    return k


def _softmax(values):
    top = max(values)
    e = [math.exp(v - top) for v in values]
    s = sum(e)
    return [v / s for v in e]


def mean_field_loop(unary, image, n_iter=5, sxy_gaussian=3.0, compat_gaussian=3.0,
                    sxy_bilateral=80.0, srgb=13.0, compat_bilateral=10.0,
                    normalization="symmetric", exclude_self=False):
    """Q (L, H, W) float64 from unary (L, H, W) and image (H, W, 3), by loops."""
    n_labels, h, w = unary.shape
    n = h * w
    u = [[float(unary[lab, i // w, i % w]) for lab in range(n_labels)] for i in range(n)]
    kernels = [
        (compat_gaussian, kernel_loop(features_loop(image, sxy_gaussian), normalization, exclude_self)),
        (compat_bilateral, kernel_loop(features_loop(image, sxy_bilateral, srgb), normalization,
                                       exclude_self)),
    ]
    q = [_softmax([-v for v in u[i]]) for i in range(n)]
    for _ in range(n_iter):
        new_q = []
        for i in range(n):
            logits = []
            for lab in range(n_labels):
                message = 0.0
                for weight, k in kernels:
                    message += weight * sum(k[i][j] * q[j][lab] for j in range(n))
                logits.append(-u[i][lab] + message)
            new_q.append(_softmax(logits))
        q = new_q
    out = np.zeros((n_labels, h, w))
    for i in range(n):
        for lab in range(n_labels):
            out[lab, i // w, i % w] = q[i][lab]
    return out
