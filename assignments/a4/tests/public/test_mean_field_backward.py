"""A4 public tests: the mean field's backward pass (CRF-as-RNN) and the fast lattice."""

import numpy as np
import pytest

BACKWARD = ("go back through EVERY iteration: dA = Q_t * (dQ_t - sum_l Q_t dQ_t), dU -= dA, "
            "dQ_(t-1) = sum_m w_m Ktilde_m^T dA; finally the softmax(-U) of Q0 (dU -= dA0)")


def _scene(data, seed, labels=3, shape=(12, 15), dtype=np.float64):
    unary = data.uniform((labels,) + shape, seed, low=0.0, high=3.0, dtype=dtype)
    image = data.integers(shape + (3,), seed + 1, 0, 256).astype(np.uint8)
    dq = data.uniform((labels,) + shape, seed + 2, dtype=dtype)
    return unary, image, dq


@pytest.mark.points(1)
def test_backward_zero_iterations_is_softmax_backward(check, data):
    """mean_field backward: n_iter=0, the gradient of softmax(-U)"""
    unary, image, dq = _scene(data, 421)
    check("mean_field", unary=unary, image=image, n_iter=0, dQ=dq,
          hint="Q = softmax(-U): dU = -Q * (dQ - sum_l Q dQ)")


@pytest.mark.points(3)
def test_backward_goes_through_all_iterations(check, data):
    """mean_field backward: five iterations, both kernels"""
    unary, image, dq = _scene(data, 422)
    check("mean_field", unary=unary, image=image, n_iter=5, dQ=dq, hint=BACKWARD)


@pytest.mark.points(2)
def test_backward_compat_gradients(check, data):
    """mean_field_gradients: the gradients of the two compat weights too"""
    unary, image, dq = _scene(data, 423, labels=4, shape=(8, 10))
    check("mean_field", unary=unary, image=image, n_iter=3, compat_gaussian=2.0,
          compat_bilateral=5.0, dQ=dq, all_gradients=True,
          hint=BACKWARD + "; d compat_m = sum_t <Ktilde_m^T dA_t, Q_(t-1)>")


@pytest.mark.points(1)
def test_backward_unnormalised_float32(check, data):
    """mean_field backward: normalization='none', exclude_self, float32"""
    unary, image, dq = _scene(data, 424, shape=(6, 7), dtype=np.float32)
    check("mean_field", unary=unary, image=image, n_iter=2, compat_gaussian=0.1,
          compat_bilateral=0.05, normalization="none", exclude_self=True, dQ=dq,
          hint=BACKWARD)


@pytest.mark.points(3)
@pytest.mark.time_limit(120)
def test_lattice_forward_and_backward(check, data):
    """mean_field: method='lattice' (the fast path) forward and backward"""
    unary, image, dq = _scene(data, 425)
    check("mean_field", unary=unary, image=image, n_iter=4, method="lattice", dQ=dq,
          hint="the lattice kernel is given: your iteration and backward must use the kernels' "
               "accumulate/apply (with transpose=True in backward), not the exact matrix")
