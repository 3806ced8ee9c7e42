"""A2 public tests: max unpooling, forward and backward."""

import numpy as np
import pytest


def _indices_2x2(data, seed, n, c, h, w, height, width):
    """Valid argmax indices of a 2x2, stride-2 pooling of a height x width plane."""
    di = data.integers((n, c, h, w), seed, 0, 2)
    dj = data.integers((n, c, h, w), seed + 1, 0, 2)
    rows = 2 * np.arange(h).reshape(-1, 1) + di
    cols = 2 * np.arange(w) + dj
    return (rows * width + cols).astype(np.int64)


@pytest.mark.points(2)
def test_max_unpool2d_puts_values_at_their_argmax(check, data):
    """max_unpool2d: each value goes back to its index, zeros elsewhere"""
    x = data.uniform((1, 2, 2, 3), seed=221)
    indices = _indices_2x2(data, 222, 1, 2, 2, 3, 4, 6)
    check("max_unpool2d", x=x, indices=indices, kernel_size=2,
          hint="y starts as zeros of size (H-1)*s - 2p + k; then y[n, c].flat[indices[n, c]] = x[n, c]")


@pytest.mark.points(2)
def test_max_unpool2d_output_size(check, data):
    """max_unpool2d: output_size restores an odd input size"""
    x = data.uniform((2, 1, 2, 2), seed=223)
    indices = _indices_2x2(data, 224, 2, 1, 2, 2, 5, 5)
    check("max_unpool2d", x=x, indices=indices, kernel_size=2, output_size=(5, 5),
          hint="output_size overrides the default size; indices are positions in the "
               "output_size plane (row * W_out + col)")


@pytest.mark.points(2)
def test_max_unpool2d_backward_is_a_gather(check, data):
    """max_unpool2d backward: dx reads dy at the indices"""
    x = data.uniform((2, 2, 3, 2), seed=225)
    indices = _indices_2x2(data, 226, 2, 2, 3, 2, 6, 4)
    dy = data.uniform((2, 2, 6, 4), seed=227)
    check("max_unpool2d", x=x, indices=indices, kernel_size=2, dy=dy,
          hint="dx[n, c] = dy[n, c].flat[indices[n, c]]: the positions forward wrote to")
