"""A1 hidden tests: the same functions on other shapes and parameters.

The geometries are chosen, not drawn, so that every branch a solution may have is taken:
stride (1, 1) (where a fast dx may run as a convolution with the flipped kernel) with
padding 0 and > 0, dilation 1 and > 1, strides that skip pixels, odd and non-square sizes,
with and without bias. Channels, batch and values come from the seeds.
"""

import numpy as np
import pytest

# (kernel, stride, padding, dilation, input size)
GEOMETRIES = {
    "stride1-pad1": ((3, 3), (1, 1), (1, 1), (1, 1), (7, 6)),
    "stride1-pad0-dilated": ((3, 2), (1, 1), (0, 0), (2, 1), (9, 5)),
    "strided-padded-dilated": ((2, 4), (2, 3), (1, 2), (1, 2), (8, 11)),
    "skips-pixels": ((4, 3), (3, 1), (2, 0), (2, 3), (10, 9)),
}
SEEDS = dict(zip(GEOMETRIES, (1101, 1102, 1103, 1104)))


def _geometry(data, name):
    """The chosen geometry, with channels and batch from the seed."""
    kernel, stride, padding, dilation, size = GEOMETRIES[name]
    r = [int(v) for v in data.integers((3,), SEEDS[name], 0, 1 << 20)]
    return dict(kernel=kernel, stride=stride, padding=padding, dilation=dilation, size=size,
                channels=(1 + r[0] % 3, 1 + r[1] % 4), batch=1 + r[2] % 2, seed=SEEDS[name])


def _out(size, kernel, stride, padding, dilation):
    return tuple((size[a] + 2 * padding[a] - dilation[a] * (kernel[a] - 1) - 1) // stride[a] + 1
                 for a in (0, 1))


def _params(g):
    return dict(stride=g["stride"], padding=g["padding"], dilation=g["dilation"])


@pytest.mark.points(2)
@pytest.mark.parametrize("name", GEOMETRIES)
def test_im2col_geometry(check, data, name):
    """im2col on chosen geometries"""
    g = _geometry(data, name)
    x = data.uniform((g["batch"], g["channels"][0]) + g["size"], g["seed"] + 1)
    check("im2col", x=x, kernel_size=g["kernel"], **_params(g))


@pytest.mark.points(2)
@pytest.mark.parametrize("name", GEOMETRIES)
def test_col2im_geometry(check, data, name):
    """col2im on chosen geometries"""
    g = _geometry(data, name)
    out = _out(g["size"], g["kernel"], g["stride"], g["padding"], g["dilation"])
    c = g["channels"][0]
    cols = data.uniform((g["batch"], c * g["kernel"][0] * g["kernel"][1], out[0] * out[1]),
                        g["seed"] + 2)
    check("col2im", cols=cols, output_size=g["size"], kernel_size=g["kernel"], **_params(g))


@pytest.mark.points(3)
@pytest.mark.parametrize("name", GEOMETRIES)
def test_conv2d_forward_geometry(check, data, name):
    """conv2d forward on chosen geometries, with bias"""
    g = _geometry(data, name)
    c_in, c_out = g["channels"]
    x = data.uniform((g["batch"], c_in) + g["size"], g["seed"] + 3)
    w = data.uniform((c_out, c_in) + g["kernel"], g["seed"] + 4)
    b = data.uniform((c_out,), g["seed"] + 5)
    check("conv2d", x=x, w=w, b=b, **_params(g))


@pytest.mark.points(4)
@pytest.mark.parametrize("name", GEOMETRIES)
def test_conv2d_backward_geometry(check, data, name):
    """conv2d forward and backward on chosen geometries (half of them without bias)"""
    g = _geometry(data, name)
    c_in, c_out = g["channels"]
    x = data.uniform((g["batch"], c_in) + g["size"], g["seed"] + 6)
    w = data.uniform((c_out, c_in) + g["kernel"], g["seed"] + 7)
    b = data.uniform((c_out,), g["seed"] + 8) if g["seed"] % 2 else None
    out = _out(g["size"], g["kernel"], g["stride"], g["padding"], g["dilation"])
    dy = data.uniform((g["batch"], c_out) + out, g["seed"] + 9)
    check("conv2d", x=x, w=w, b=b, dy=dy, **_params(g))


@pytest.mark.points(2)
@pytest.mark.parametrize("name", GEOMETRIES)
def test_conv2d_matrix_geometry(check, data, name):
    """conv2d_matrix on chosen geometries"""
    g = _geometry(data, name)
    c_in, c_out = g["channels"]
    w = data.uniform((c_out, c_in) + g["kernel"], g["seed"] + 10)
    check("conv2d_matrix", w=w, input_size=g["size"], **_params(g))


@pytest.mark.points(2)
@pytest.mark.parametrize("name", GEOMETRIES)
def test_conv2d_float32_geometry(check, data, name):
    """conv2d forward and backward in float32 on chosen geometries"""
    g = _geometry(data, name)
    c_in, c_out = g["channels"]
    f32 = np.float32
    x = data.uniform((g["batch"], c_in) + g["size"], g["seed"] + 11, dtype=f32)
    w = data.uniform((c_out, c_in) + g["kernel"], g["seed"] + 12, dtype=f32)
    b = data.uniform((c_out,), g["seed"] + 13, dtype=f32)
    out = _out(g["size"], g["kernel"], g["stride"], g["padding"], g["dilation"])
    dy = data.uniform((g["batch"], c_out) + out, g["seed"] + 14, dtype=f32)
    check("conv2d", x=x, w=w, b=b, dy=dy, **_params(g))
