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


def _pool_geometry(data, seed):
    r = _ints(data, seed)
    kernel = (1 + r[0] % 4, 1 + r[1] % 4)
    stride = (1 + r[2] % 3, 1 + r[3] % 3)
    padding = (r[4] % (kernel[0] // 2 + 1), r[5] % (kernel[1] // 2 + 1))
    size = (kernel[0] + r[6] % 6, kernel[1] + r[7] % 6)
    out = tuple((size[a] + 2 * padding[a] - kernel[a]) // stride[a] + 1 for a in (0, 1))
    return kernel, stride, padding, size, out, (1 + r[8] % 2, 1 + r[9] % 3)


@pytest.mark.points(5)
@pytest.mark.parametrize("seed", SEEDS)
def test_max_pool2d_random(check, data, seed):
    """max_pool2d forward and backward on random shapes"""
    kernel, stride, padding, size, out, (n, c) = _pool_geometry(data, seed)
    if seed % 2:
        x = data.distinct((n, c) + size, seed + 1)
    else:  # ties
        x = data.integers((n, c) + size, seed + 1, -2, 3).astype(np.float64)
    dy = data.uniform((n, c) + out, seed + 2)
    check("max_pool2d", x=x, kernel_size=kernel, stride=stride, padding=padding, dy=dy)


@pytest.mark.points(3)
@pytest.mark.parametrize("seed", SEEDS)
def test_max_unpool2d_random(check, expected, data, seed):
    """max_unpool2d forward and backward with the indices of a random pooling"""
    kernel, stride, padding, size, out, (n, c) = _pool_geometry(data, seed)
    x = data.distinct((n, c) + size, seed + 3)
    pooled = expected.run("max_pool2d", x=x, kernel_size=kernel, stride=stride, padding=padding)
    dy = data.uniform((n, c) + size, seed + 4)
    check("max_unpool2d", x=pooled["y"], indices=pooled["indices"], kernel_size=kernel,
          stride=stride, padding=padding, output_size=size, dy=dy)


@pytest.mark.points(5)
@pytest.mark.parametrize("seed", SEEDS)
def test_bilinear_random(check, data, seed):
    """bilinear forward and backward on random sizes, scales and align_corners"""
    r = _ints(data, seed)
    size = (1 + r[0] % 6, 1 + r[1] % 6)
    align = bool(r[2] % 2)
    x = data.uniform((1 + r[3] % 2, 1 + r[4] % 3) + size, seed + 1)
    if r[5] % 2:
        out = (1 + r[6] % 12, 1 + r[7] % 12)
        kwargs = {"size": out}
    else:
        scales = (0.5 + (r[6] % 8) * 0.375, 0.5 + (r[7] % 8) * 0.375)
        out = tuple(int(np.floor(size[a] * scales[a])) for a in (0, 1))
        if min(out) < 1:
            scales, out = (2.0, 2.0), (2 * size[0], 2 * size[1])
        kwargs = {"scale_factor": scales}
    dy = data.uniform(x.shape[:2] + tuple(out), seed + 2)
    check("bilinear", x=x, dy=dy, align_corners=align, **kwargs)


@pytest.mark.points(2)
@pytest.mark.parametrize("seed", SEEDS)
def test_interpolation_matrix_random(check, data, seed):
    """interpolation_matrix on random sizes"""
    r = _ints(data, seed)
    check("interpolation_matrix", in_size=1 + r[0] % 9, out_size=1 + r[1] % 13,
          align_corners=bool(r[2] % 2))
