"""A4 hidden tests of the CRF: the same functions on other shapes, with every branch drawn."""

import numpy as np
import pytest


def _ints(data, seed, count=12):
    return [int(v) for v in data.integers((count,), seed, 0, 1 << 20)]


def _scene(data, seed, shape=None, dtype=None):
    """Random sizes (2-4 labels, 3-12 x 3-14 pixels) and dtype unless given, and inputs."""
    r = _ints(data, seed)
    labels = 2 + r[0] % 3
    shape = shape or (3 + r[1] % 10, 3 + r[2] % 12)
    dtype = dtype or (np.float32 if r[3] % 3 == 0 else np.float64)
    unary = data.uniform((labels,) + shape, seed + 1, low=0.0, high=4.0, dtype=dtype)
    image = data.integers(shape + (3,), seed + 2, 0, 256).astype(np.uint8)
    dq = data.uniform((labels,) + shape, seed + 3, dtype=dtype)
    bandwidths = {"sxy_gaussian": 1.0 + r[5] % 4, "sxy_bilateral": 3.0 + r[7] % 20,
                  "srgb": 5.0 + r[8] % 30}
    return unary, image, dq, bandwidths


# Every branch a solution may take is drawn on purpose: n_iter 0, 1 and several; a zero
# weight for either kernel (its compat gradient is still asked for); both normalisations,
# with and without the j = i term; float32; and an exact kernel too large to keep (2 900
# pixels in float64: 67 MB > 64 MB), whose products go a block of rows at a time.
FORWARD_CASES = [
    (4101, dict(n_iter=0)),
    (4102, dict(n_iter=1, compat_gaussian=2.0, compat_bilateral=0.0)),
    (4103, dict(n_iter=3, compat_gaussian=0.0, compat_bilateral=0.05, normalization="none",
                exclude_self=True)),
    (4104, dict(n_iter=4, compat_gaussian=0.2, compat_bilateral=0.02, normalization="none")),
    (4105, dict(n_iter=2, compat_gaussian=4.0, compat_bilateral=7.0, exclude_self=True)),
    (4106, dict(n_iter=1, shape=(50, 58), dtype=np.float64)),
]

GRADIENT_CASES = [  # mean_field_gradients unless "unary only" (mean_field_backward)
    (4111, dict(n_iter=1, compat_gaussian=1.5, compat_bilateral=4.0)),
    (4112, dict(n_iter=3, compat_gaussian=0.0, compat_bilateral=6.0)),
    (4113, dict(n_iter=4, compat_gaussian=0.3, compat_bilateral=0.0, normalization="none",
                exclude_self=True)),
    (4114, dict(n_iter=0)),
    (4115, dict(n_iter=2, dtype=np.float32, unary_only=True)),
]


def _case(data, seed, params):
    params = dict(params)
    unary, image, dq, bandwidths = _scene(data, seed, params.pop("shape", None),
                                          params.pop("dtype", None))
    return unary, image, dq, dict(bandwidths, **params)


@pytest.mark.points(2)
@pytest.mark.parametrize("seed, params", FORWARD_CASES)
def test_mean_field_cases(check, data, seed, params):
    """mean_field forward (exact): n_iter 0/1/many, zero weights, both normalisations, 2 900 pixels"""
    unary, image, _, params = _case(data, seed, params)
    check("mean_field", unary=unary, image=image, **params)


@pytest.mark.points(3)
@pytest.mark.parametrize("seed, params", GRADIENT_CASES)
def test_mean_field_gradient_cases(check, data, seed, params):
    """mean_field_gradients (exact): unary and compat gradients, zero weights, n_iter 0/1/many"""
    unary, image, dq, params = _case(data, seed, params)
    all_gradients = not params.pop("unary_only", False)
    check("mean_field", unary=unary, image=image, dQ=dq, all_gradients=all_gradients, **params)


EXACT_CASES = [  # seed, pixels, features, labels, normalization, exclude_self
    (4121, 37, 2, 3, "symmetric", False),
    (4122, 23, 5, 1, "none", True),
    (4123, 2900, 5, 2, "symmetric", True),   # the block path
]


@pytest.mark.points(2)
@pytest.mark.parametrize("seed, n, d, labels, normalization, exclude_self", EXACT_CASES)
def test_exact_kernel_cases(check, data, seed, n, d, labels, normalization, exclude_self):
    """ExactKernel: both normalisations, with and without j = i, kept and in blocks"""
    features = data.uniform((n, d), seed, low=0.0, high=3.0)
    values = data.uniform((n, labels), seed + 1)
    check("exact_kernel", features=features, values=values, normalization=normalization,
          exclude_self=exclude_self)


LATTICE_CASES = [
    (4131, dict(n_iter=2)),
    (4132, dict(n_iter=3, compat_gaussian=0.1, compat_bilateral=0.05, normalization="none",
                exclude_self=True)),
    (4133, dict(n_iter=1, compat_gaussian=0.0, compat_bilateral=5.0)),
]


@pytest.mark.points(2)
@pytest.mark.time_limit(120)
@pytest.mark.parametrize("seed, params", LATTICE_CASES)
def test_lattice_cases(check, data, seed, params):
    """mean_field forward and gradients with method='lattice'"""
    unary, image, dq, params = _case(data, seed, params)
    check("mean_field", unary=unary, image=image, dQ=dq, method="lattice", all_gradients=True,
          **params)
