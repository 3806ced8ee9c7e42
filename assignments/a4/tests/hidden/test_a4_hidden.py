"""A4 hidden tests: the same functions on other, random shapes and parameters."""

import numpy as np
import pytest

SEEDS = [4101, 4102, 4103]


def _ints(data, seed, count=12):
    return [int(v) for v in data.integers((count,), seed, 0, 1 << 20)]


def _scene(data, seed):
    r = _ints(data, seed)
    labels, shape = 2 + r[0] % 3, (3 + r[1] % 10, 3 + r[2] % 12)
    dtype = np.float32 if r[3] % 3 == 0 else np.float64
    unary = data.uniform((labels,) + shape, seed + 1, low=0.0, high=4.0, dtype=dtype)
    image = data.integers(shape + (3,), seed + 2, 0, 256).astype(np.uint8)
    dq = data.uniform((labels,) + shape, seed + 3, dtype=dtype)
    params = {"n_iter": r[4] % 6, "sxy_gaussian": 1.0 + r[5] % 4,
              "compat_gaussian": float(r[6] % 5), "sxy_bilateral": 3.0 + r[7] % 20,
              "srgb": 5.0 + r[8] % 30, "compat_bilateral": float(r[9] % 8)}
    return unary, image, dq, params, r


@pytest.mark.points(4)
@pytest.mark.parametrize("seed", SEEDS)
def test_mean_field_random(check, data, seed):
    """mean_field forward (exact) on random shapes and parameters"""
    unary, image, _, params, r = _scene(data, seed)
    check("mean_field", unary=unary, image=image, **params)


@pytest.mark.points(5)
@pytest.mark.parametrize("seed", SEEDS)
def test_mean_field_backward_random(check, data, seed):
    """mean_field backward (exact) on random shapes and parameters"""
    unary, image, dq, params, r = _scene(data, seed + 10)
    params["n_iter"] = 1 + params["n_iter"]
    check("mean_field", unary=unary, image=image, dQ=dq, compat_grads=bool(r[10] % 2), **params)


@pytest.mark.points(2)
@pytest.mark.parametrize("seed", SEEDS)
def test_exact_kernel_random(check, data, seed):
    """ExactKernel on random features"""
    r = _ints(data, seed + 20)
    n, d, labels = 5 + r[0] % 40, 2 + r[1] % 4, 1 + r[2] % 4
    features = data.uniform((n, d), seed + 21, low=0.0, high=3.0)
    values = data.uniform((n, labels), seed + 22)
    check("exact_kernel", features=features, values=values,
          normalization=("symmetric", "none")[r[3] % 2], exclude_self=bool(r[4] % 2))


@pytest.mark.points(2)
@pytest.mark.time_limit(120)
@pytest.mark.parametrize("seed", SEEDS)
def test_lattice_random(check, data, seed):
    """mean_field forward and backward with method='lattice'"""
    unary, image, dq, params, r = _scene(data, seed + 30)
    check("mean_field", unary=unary, image=image, dQ=dq, method="lattice", **params)
