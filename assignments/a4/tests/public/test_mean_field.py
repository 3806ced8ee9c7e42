"""A4 public tests: the dense CRF's mean field, exact kernel, forward."""

import numpy as np
import pytest

UPDATE = ("Q0 = softmax(-U); then n_iter times Q = softmax(-U + sum_m w_m * Ktilde_m Q): a "
          "POSITIVE compat smooths (it rewards agreeing with similar pixels), so the message is "
          "ADDED to -U; softmax over the labels (axis 0 of (L, H, W)), so Q sums to 1 per pixel")


def _scene(data, seed, labels=3, shape=(12, 15), dtype=np.float64):
    unary = data.uniform((labels,) + shape, seed, low=0.0, high=3.0, dtype=dtype)
    image = data.integers(shape + (3,), seed + 1, 0, 256).astype(np.uint8)
    return unary, image


@pytest.mark.points(1)
def test_zero_iterations_is_softmax_of_minus_unary(check, data):
    """mean_field: n_iter=0 gives softmax(-U)"""
    unary, image = _scene(data, 401)
    check("mean_field", unary=unary, image=image, n_iter=0,
          hint="with n_iter=0 Q is softmax(-U) over the labels (mind the minus sign)")


@pytest.mark.points(2)
def test_exact_kernel_symmetric_normalisation(check, data):
    """ExactKernel: K = exp(-|fi - fj|^2 / 2), message D K D v with D = (K 1)^(-1/2)"""
    features = data.uniform((30, 2), 402, low=0.0, high=3.0)
    values = data.uniform((30, 3), 403)
    check("exact_kernel", features=features, values=values,
          hint="symmetric normalisation: D = diag(K.1)^(-1/2) and the message is D K D v, "
               "keeping the j = i term; row_sums is K.1 (unnormalised)")


@pytest.mark.points(1)
def test_exact_kernel_unnormalised_without_self(check, data):
    """ExactKernel: normalization='none' with exclude_self=True (the paper's form)"""
    features = data.uniform((25, 5), 404, low=0.0, high=2.0)
    values = data.uniform((25, 2), 405)
    check("exact_kernel", features=features, values=values, normalization="none",
          exclude_self=True,
          hint="normalization='none' is the raw K; exclude_self zeroes the diagonal (j = i) "
               "of K, also in the row sums K.1")


@pytest.mark.points(2)
def test_one_iteration_smoothness_kernel_only(check, data):
    """mean_field: one iteration with the smoothness kernel only"""
    unary, image = _scene(data, 406)
    check("mean_field", unary=unary, image=image, n_iter=1, compat_gaussian=3.0,
          compat_bilateral=0.0, hint=UPDATE)


@pytest.mark.points(3)
def test_positive_compat_smooths(check, data):
    """mean_field: five iterations, pydensecrf's default parameters"""
    unary, image = _scene(data, 407)
    check("mean_field", unary=unary, image=image, n_iter=5, hint=UPDATE)


@pytest.mark.points(2)
def test_q_sums_to_one_over_many_labels(check, data):
    """mean_field: five labels, both kernels with their own bandwidths"""
    unary, image = _scene(data, 408, labels=5, shape=(9, 11))
    check("mean_field", unary=unary, image=image, n_iter=3, sxy_gaussian=2.0,
          compat_gaussian=1.5, sxy_bilateral=5.0, srgb=20.0, compat_bilateral=4.0,
          hint=UPDATE + "; keep each kernel's own bandwidths: (x, y)/sxy and rgb/srgb")
