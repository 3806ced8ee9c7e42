"""A short tour of the convolution family, run by ``minisegnet tour``.

Every number printed is computed, none typed in.
"""

from __future__ import annotations

import time

import numpy as np

from . import functional as F
from .gradcheck import numerical_gradient_array, rel_error


def _print_matrix(title, matrix):
    print(title)
    for row in np.asarray(matrix):
        print("   " + " ".join(f"{v:4g}" for v in row))


def _lecture_1d():
    """The lecture's 1-D kernel [x, y, z] = [1, 2, 3] on 4 inputs, padding 1."""
    kernel = np.array([1.0, 2.0, 3.0]).reshape(1, 1, 1, 3)
    for stride in (1, 2):
        matrix = F.conv2d_matrix(kernel, (1, 4), stride=stride, padding=(0, 1)).toarray()
        _print_matrix(f"1-D conv as a matrix, kernel [1 2 3], padding 1, stride {stride} "
                      f"({matrix.shape[0]}×{matrix.shape[1]}; its transpose is the transposed conv):",
                      matrix)


def _lecture_2d(rng):
    """4×4 input, 3×3 kernel: a 4×16 sparse matrix C; C x is the conv, Cᵀ y the transposed conv."""
    w = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    matrix = F.conv2d_matrix(w, (4, 4))
    _print_matrix("2-D conv of a 4×4 input with a 3×3 kernel [1..9] as a 4×16 matrix C:",
                  matrix.toarray())
    x = rng.standard_normal((1, 1, 4, 4))
    y, _ = F.conv2d_forward(x, w)
    back, _ = F.conv_transpose2d_forward(y, w)
    print(f"   |C x - conv(x)|     = {np.abs(matrix @ x.ravel() - y.ravel()).max():.1e}")
    print(f"   |Cᵀ y - conv_T(y)|  = {np.abs(matrix.T @ y.ravel() - back.ravel()).max():.1e}")


def _receptive_fields(depth):
    print("Receptive field of L stacked 3×3 convs (stride 1): plain vs dilations 1, 2, 4, …")
    for layers in range(1, depth + 1):
        plain, _ = F.receptive_field([(3, 1, 1)] * layers)
        dilated, _ = F.receptive_field([(3, 1, 2**i) for i in range(layers)])
        print(f"   L={layers}: {plain:4d} vs {dilated:4d}")


def _gradient_check(rng):
    x = rng.standard_normal((2, 3, 7, 6))
    w = rng.standard_normal((4, 3, 3, 3))
    params = dict(stride=2, padding=1, dilation=2)
    y, cache = F.conv2d_forward(x, w, **params)
    dy = rng.standard_normal(y.shape)
    dx, dw, _ = F.conv2d_backward(dy, cache)
    dx_num = numerical_gradient_array(lambda a: F.conv2d_forward(a, w, **params)[0], x, dy)
    dw_num = numerical_gradient_array(lambda a: F.conv2d_forward(x, a, **params)[0], w, dy)
    print("Gradient check (float64 central differences, stride 2, padding 1, dilation 2):")
    print(f"   rel_error(dx) = {rel_error(dx, dx_num):.1e}, rel_error(dw) = "
          f"{rel_error(dw, dw_num):.1e}  (expect < 1e-7)")


def _timing(rng, quick):
    shape = (2, 32, 32, 32) if quick else (8, 64, 64, 64)
    x = rng.standard_normal(shape, dtype=np.float32)
    w = rng.standard_normal((shape[1], shape[1], 3, 3), dtype=np.float32)
    start = time.perf_counter()
    y, cache = F.conv2d_forward(x, w, padding=1)
    F.conv2d_backward(np.ones_like(y), cache)
    elapsed = time.perf_counter() - start
    flops = 3 * 2 * y.size * w[0].size
    print(f"conv2d forward+backward on {shape}, 3×3, float32: {elapsed * 1e3:.1f} ms "
          f"({flops / elapsed / 1e9:.1f} GFLOP/s)")


def run_showcase(seed: int = 0, quick: bool = False) -> int:
    """Print the tour; returns the process exit code."""
    rng = np.random.default_rng(seed)
    print("minisegnet: convolution as matrix multiplication (lessons 03, 04, 06)\n")
    _lecture_1d()
    _lecture_2d(rng)
    _receptive_fields(4 if quick else 6)
    _gradient_check(rng)
    _timing(rng, quick)
    return 0
