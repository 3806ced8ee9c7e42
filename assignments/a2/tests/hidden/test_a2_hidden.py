"""A2 hidden tests: the same functions on other, random shapes and parameters."""

import numpy as np
import pytest

SEEDS = [2101, 2102, 2103]


def _ints(data, seed, count=12):
    return [int(v) for v in data.integers((count,), seed, 0, 1 << 20)]


# (kernel, stride, padding, output_padding, dilation, input size): chosen so that every
# branch is taken: stride 1 (where a fast path runs it as a convolution with the flipped
# kernel) with padding 0 and > 0 and dilation 1 and > 1, output_padding, overlapping and
# skipping strides, odd and non-square sizes.
CONV_TRANSPOSE_GEOMETRIES = {
    "stride1-pad1": ((3, 3), (1, 1), (1, 1), (0, 0), (1, 1), (5, 4)),
    "stride1-pad0-dilated-outpad": ((3, 2), (1, 1), (0, 0), (1, 0), (2, 1), (4, 5)),
    "stride2-overlapping": ((4, 4), (2, 2), (1, 1), (0, 0), (1, 1), (4, 3)),
    "strided-outpad": ((3, 3), (2, 3), (1, 0), (1, 2), (1, 1), (3, 4)),
    "strided-dilated": ((2, 3), (3, 1), (2, 1), (2, 0), (2, 2), (3, 3)),
}


@pytest.mark.points(3)
@pytest.mark.parametrize("name", CONV_TRANSPOSE_GEOMETRIES)
def test_conv_transpose2d_geometry(check, data, name):
    """conv_transpose2d forward and backward on chosen geometries"""
    kernel, stride, padding, output_padding, dilation, size = CONV_TRANSPOSE_GEOMETRIES[name]
    seed = 2101 + list(CONV_TRANSPOSE_GEOMETRIES).index(name)
    r = _ints(data, seed)
    c_in, c_out, n = 1 + r[0] % 3, 1 + r[1] % 3, 1 + r[2] % 2
    out = tuple((size[a] - 1) * stride[a] - 2 * padding[a] + dilation[a] * (kernel[a] - 1)
                + output_padding[a] + 1 for a in (0, 1))
    x = data.uniform((n, c_in) + size, seed + 1)
    w = data.uniform((c_in, c_out) + kernel, seed + 2)
    b = data.uniform((c_out,), seed + 3) if seed % 2 else None
    dy = data.uniform((n, c_out) + out, seed + 4)
    check("conv_transpose2d", x=x, w=w, b=b, dy=dy, stride=stride, padding=padding,
          output_padding=output_padding, dilation=dilation)


# Max pooling: every branch drawn by a chosen geometry (the seed only draws the data):
# kernel, stride, padding, input (H, W), (N, C), input kind.
POOL_CASES = [
    ((3, 3), (1, 1), (0, 0), (6, 5), (2, 2), "ties"),       # overlapping on both axes, no padding
    ((3, 2), (2, 2), (1, 0), (7, 6), (1, 3), "distinct"),   # rows overlap, columns disjoint; padded
    ((2, 3), (2, 1), (0, 1), (6, 7), (2, 1), "ties"),       # columns overlap, rows disjoint; padded
    ((2, 2), (2, 2), (1, 1), (7, 5), (2, 2), "negative"),   # disjoint, padded, odd: -inf padding
    ((1, 3), (3, 2), (0, 1), (8, 9), (1, 2), "distinct"),   # stride > kernel: gaps; 1-row windows
]


def _pool_out(kernel, stride, padding, size):
    return tuple((size[a] + 2 * padding[a] - kernel[a]) // stride[a] + 1 for a in (0, 1))


def _pool_input(data, seed, shape, kind):
    if kind == "ties":
        return data.integers(shape, seed, -2, 3).astype(np.float64)
    if kind == "negative":
        return data.uniform(shape, seed, low=-3.0, high=-1.0)
    return data.distinct(shape, seed)


@pytest.mark.points(3)
@pytest.mark.parametrize("case", range(len(POOL_CASES)))
def test_max_pool2d_cases(check, data, case):
    """max_pool2d forward and backward: overlapping windows on both axes, on one axis each,
    disjoint windows with padding, and gaps between windows"""
    kernel, stride, padding, size, (n, c), kind = POOL_CASES[case]
    seed = 2110 + case
    x = _pool_input(data, seed, (n, c) + size, kind)
    dy = data.uniform((n, c) + _pool_out(kernel, stride, padding, size), seed + 1)
    check("max_pool2d", x=x, kernel_size=kernel, stride=stride, padding=padding, dy=dy)


# Max unpooling: the default output size, output_size (H, W) for an odd input, and
# output_size (N, C, H, W) after overlapping windows (repeated indices).
UNPOOL_CASES = [
    ((2, 2), (2, 2), (0, 0), (6, 8), (2, 2), None),
    ((2, 2), (2, 2), (0, 0), (7, 5), (1, 3), "hw"),
    ((3, 3), (2, 2), (1, 1), (7, 6), (2, 1), "nchw"),
]


@pytest.mark.points(3)
@pytest.mark.parametrize("case", range(len(UNPOOL_CASES)))
def test_max_unpool2d_cases(check, expected, data, case):
    """max_unpool2d forward and backward with the indices of a pooling: default output size,
    output_size (H, W) and (N, C, H, W)"""
    kernel, stride, padding, size, (n, c), given = UNPOOL_CASES[case]
    seed = 2130 + case
    x = data.distinct((n, c) + size, seed)
    pooled = expected.run("max_pool2d", x=x, kernel_size=kernel, stride=stride, padding=padding)
    output_size = {None: None, "hw": size, "nchw": (n, c) + size}[given]
    dy = data.uniform((n, c) + size, seed + 1)
    check("max_unpool2d", x=pooled["y"], indices=pooled["indices"], kernel_size=kernel,
          stride=stride, padding=padding, output_size=output_size, dy=dy)


# Bilinear resizing: size and scale_factor, up and down, both align_corners, a 1-pixel side.
BILINEAR_CASES = [
    ((3, 4), (2, 2), {"size": (7, 9)}, False),
    ((3, 4), (1, 3), {"size": (7, 9)}, True),
    ((4, 5), (2, 1), {"scale_factor": (1.5, 2.25)}, False),
    ((6, 4), (1, 2), {"scale_factor": (0.5, 1.75)}, True),
    ((1, 6), (2, 2), {"size": (3, 4)}, False),           # one row in, shrinking columns
]


@pytest.mark.points(3)
@pytest.mark.parametrize("case", range(len(BILINEAR_CASES)))
def test_bilinear_cases(check, data, case):
    """bilinear forward and backward: size and scale_factor, up and down, both align_corners"""
    size, (n, c), kwargs, align = BILINEAR_CASES[case]
    seed = 2150 + case
    x = data.uniform((n, c) + size, seed)
    if "size" in kwargs:
        out = kwargs["size"]
    else:
        out = tuple(int(np.floor(size[a] * kwargs["scale_factor"][a])) for a in (0, 1))
    dy = data.uniform((n, c) + out, seed + 1)
    check("bilinear", x=x, dy=dy, align_corners=align, **kwargs)


INTERPOLATION_CASES = [
    dict(in_size=5, out_size=1, align_corners=True),      # one output: ratio 0
    dict(in_size=1, out_size=6, align_corners=False),     # one input pixel: all weight on it
    dict(in_size=7, out_size=3, align_corners=False, scale=0.4),
]


@pytest.mark.points(2)
@pytest.mark.parametrize("case", range(len(INTERPOLATION_CASES)))
def test_interpolation_matrix_cases(check, case):
    """interpolation_matrix at the edges: one output, one input, a given scale"""
    check("interpolation_matrix", **INTERPOLATION_CASES[case])
