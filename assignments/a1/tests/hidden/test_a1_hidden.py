"""A1 hidden tests: the same functions on other, random shapes and parameters."""

import numpy as np
import pytest

SEEDS = [1101, 1102, 1103]


def _geometry(data, seed):
    """Random kernel, stride, padding, dilation (pairs) and an input size that fits them."""
    r = [int(v) for v in data.integers((12,), seed, 0, 1 << 20)]
    kernel = (1 + r[0] % 4, 1 + r[1] % 4)
    stride = (1 + r[2] % 3, 1 + r[3] % 3)
    dilation = (1 + r[4] % 3, 1 + r[5] % 2)
    padding = (r[6] % 3, r[7] % 2)
    size = tuple(dilation[a] * (kernel[a] - 1) + 1 + r[8 + a] % 6 for a in (0, 1))
    channels = (1 + r[10] % 3, 1 + r[11] % 4)
    return dict(kernel=kernel, stride=stride, padding=padding, dilation=dilation, size=size,
                channels=channels, batch=1 + r[0] % 2)


def _out(size, kernel, stride, padding, dilation):
    return tuple((size[a] + 2 * padding[a] - dilation[a] * (kernel[a] - 1) - 1) // stride[a] + 1
                 for a in (0, 1))


@pytest.mark.points(2)
@pytest.mark.parametrize("seed", SEEDS)
def test_im2col_random(check, data, seed):
    """im2col on random shapes"""
    g = _geometry(data, seed)
    x = data.uniform((g["batch"], g["channels"][0]) + g["size"], seed + 1)
    check("im2col", x=x, kernel_size=g["kernel"], stride=g["stride"], padding=g["padding"],
          dilation=g["dilation"])


@pytest.mark.points(2)
@pytest.mark.parametrize("seed", SEEDS)
def test_col2im_random(check, data, seed):
    """col2im on random shapes"""
    g = _geometry(data, seed)
    out = _out(g["size"], g["kernel"], g["stride"], g["padding"], g["dilation"])
    c = g["channels"][0]
    cols = data.uniform((g["batch"], c * g["kernel"][0] * g["kernel"][1], out[0] * out[1]),
                        seed + 2)
    check("col2im", cols=cols, output_size=g["size"], kernel_size=g["kernel"],
          stride=g["stride"], padding=g["padding"], dilation=g["dilation"])


@pytest.mark.points(4)
@pytest.mark.parametrize("seed", SEEDS)
def test_conv2d_forward_random(check, data, seed):
    """conv2d forward on random shapes, with bias"""
    g = _geometry(data, seed)
    c_in, c_out = g["channels"]
    x = data.uniform((g["batch"], c_in) + g["size"], seed + 3)
    w = data.uniform((c_out, c_in) + g["kernel"], seed + 4)
    b = data.uniform((c_out,), seed + 5)
    check("conv2d", x=x, w=w, b=b, stride=g["stride"], padding=g["padding"],
          dilation=g["dilation"])


@pytest.mark.points(5)
@pytest.mark.parametrize("seed", SEEDS)
def test_conv2d_backward_random(check, data, seed):
    """conv2d forward and backward on random shapes"""
    g = _geometry(data, seed)
    c_in, c_out = g["channels"]
    x = data.uniform((g["batch"], c_in) + g["size"], seed + 6)
    w = data.uniform((c_out, c_in) + g["kernel"], seed + 7)
    b = data.uniform((c_out,), seed + 8) if seed % 2 else None
    out = _out(g["size"], g["kernel"], g["stride"], g["padding"], g["dilation"])
    dy = data.uniform((g["batch"], c_out) + out, seed + 9)
    check("conv2d", x=x, w=w, b=b, dy=dy, stride=g["stride"], padding=g["padding"],
          dilation=g["dilation"])


@pytest.mark.points(4)
@pytest.mark.parametrize("seed", SEEDS)
def test_conv2d_matrix_random(check, data, seed):
    """conv2d_matrix on random shapes"""
    g = _geometry(data, seed)
    c_in, c_out = g["channels"]
    w = data.uniform((c_out, c_in) + g["kernel"], seed + 10)
    check("conv2d_matrix", w=w, input_size=g["size"], stride=g["stride"], padding=g["padding"],
          dilation=g["dilation"])


@pytest.mark.points(3)
@pytest.mark.parametrize("seed", SEEDS)
def test_conv2d_float32_random(check, data, seed):
    """conv2d forward and backward in float32 on random shapes"""
    g = _geometry(data, seed)
    c_in, c_out = g["channels"]
    f32 = np.float32
    x = data.uniform((g["batch"], c_in) + g["size"], seed + 11, dtype=f32)
    w = data.uniform((c_out, c_in) + g["kernel"], seed + 12, dtype=f32)
    b = data.uniform((c_out,), seed + 13, dtype=f32)
    out = _out(g["size"], g["kernel"], g["stride"], g["padding"], g["dilation"])
    dy = data.uniform((g["batch"], c_out) + out, seed + 14, dtype=f32)
    check("conv2d", x=x, w=w, b=b, dy=dy, stride=g["stride"], padding=g["padding"],
          dilation=g["dilation"])
