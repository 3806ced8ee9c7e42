"""Tests of ``F.batch_norm2d_forward/backward``.

Independent references used (never the library against itself):

* ``tests/reference_resample.py``: per-channel loops for the batch statistics, the
  normalisation, PyTorch's running-statistics rule (unbiased variance) and the textbook
  backward;
* central finite differences (``tests/reference.py``) for x, gamma and beta, in training mode
  (the batch statistics depend on x) and eval mode;
* ``torch.nn.functional.batch_norm`` / ``torch.nn.BatchNorm2d`` (only where importable).

Thresholds: float64 vs loops or torch < 1e-12 (scale-normalised); finite differences < 1e-6;
float32 vs the float64 reference < 1e-5.
"""

from __future__ import annotations

import numpy as np
import pytest

from minisegnet import backend
from minisegnet import functional as F

try:  # `python -m pytest` from the repository root
    from tests import reference as R
    from tests import reference_resample as RR
except ImportError:  # plain `pytest`: tests/ itself is on sys.path
    import reference as R
    import reference_resample as RR


def _np(a):
    return None if a is None else backend.to_numpy(a)


def _arrays(shape, seed=0):
    """x (with a per-channel offset and scale), gamma, beta, running mean, running variance."""
    rng = np.random.default_rng(seed)
    C = shape[1]
    x = rng.standard_normal(shape) * rng.uniform(0.5, 3.0, C)[None, :, None, None]
    x += rng.standard_normal(C)[None, :, None, None] * 2
    gamma = rng.uniform(0.5, 2.0, C) * rng.choice([-1.0, 1.0], C)
    beta = rng.standard_normal(C)
    rm = rng.standard_normal(C)
    rv = rng.uniform(0.5, 2.0, C)
    return x, gamma, beta, rm, rv


SHAPES = [(2, 3, 4, 5), (4, 2, 1, 1), (1, 4, 3, 3), (3, 1, 2, 7)]
MOMENTA = [0.1, 0.3]


@pytest.mark.parametrize("momentum", MOMENTA)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_training_matches_naive_loops(shape, momentum, to_dev):
    """Batch statistics normalise; running stats are updated IN PLACE (same arrays) by
    (1-momentum)*old + momentum*batch with the unbiased variance; backward vs the loops."""
    x, g, b, rm, rv = _arrays(shape)
    rm_d, rv_d = to_dev(rm.copy()), to_dev(rv.copy())  # (to_dev is the identity on the CPU)
    y, cache = F.batch_norm2d_forward(
        to_dev(x), to_dev(g), to_dev(b), rm_d, rv_d, training=True, momentum=momentum
    )
    y_ref, rm_ref, rv_ref = RR.batch_norm2d_naive(x, g, b, rm, rv, True, momentum)
    R.assert_close(_np(y), y_ref, 1e-12)
    R.assert_close(_np(rm_d), rm_ref, 1e-12)
    R.assert_close(_np(rv_d), rv_ref, 1e-12)

    dy = np.random.default_rng(1).standard_normal(shape)
    dx, dg, db = F.batch_norm2d_backward(to_dev(dy), cache)
    dx_ref, dg_ref, db_ref = RR.batch_norm2d_backward_naive(dy, x, g, rm, rv, True)
    R.assert_close(_np(dx), dx_ref, 1e-11)
    R.assert_close(_np(dg), dg_ref, 1e-12)
    R.assert_close(_np(db), db_ref, 1e-12)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_eval_uses_running_stats_and_does_not_update(shape, to_dev):
    x, g, b, rm, rv = _arrays(shape, seed=2)
    rm_d, rv_d = to_dev(rm.copy()), to_dev(rv.copy())
    y, cache = F.batch_norm2d_forward(
        to_dev(x), to_dev(g), to_dev(b), rm_d, rv_d, training=False, momentum=0.5
    )
    y_ref, _, _ = RR.batch_norm2d_naive(x, g, b, rm, rv, False)
    R.assert_close(_np(y), y_ref, 1e-12)
    np.testing.assert_array_equal(_np(rm_d), rm)
    np.testing.assert_array_equal(_np(rv_d), rv)

    dy = np.random.default_rng(3).standard_normal(shape)
    dx, dg, db = F.batch_norm2d_backward(to_dev(dy), cache)
    for got, ref in zip((dx, dg, db), RR.batch_norm2d_backward_naive(dy, x, g, rm, rv, False)):
        R.assert_close(_np(got), ref, 1e-12)


def test_training_output_is_standardised(to_dev):
    """gamma = 1, beta = 0: each channel has mean 0 and biased variance 1/(1 + eps/var)."""
    x, _, _, rm, rv = _arrays((3, 4, 5, 6), seed=4)
    C = 4
    y, _ = F.batch_norm2d_forward(
        to_dev(x), to_dev(np.ones(C)), to_dev(np.zeros(C)), to_dev(rm), to_dev(rv), eps=1e-5
    )
    y = _np(y)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)
    var = x.var(axis=(0, 2, 3))
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), var / (var + 1e-5), rtol=1e-12)


def test_momentum_extremes(to_dev):
    """momentum=0 keeps the running stats; momentum=1 replaces them by the batch mean and
    the UNBIASED batch variance (m/(m-1) times the biased one)."""
    x, g, b, rm, rv = _arrays((2, 3, 2, 2), seed=5)
    rm_d, rv_d = to_dev(rm.copy()), to_dev(rv.copy())
    F.batch_norm2d_forward(to_dev(x), to_dev(g), to_dev(b), rm_d, rv_d, momentum=0.0)
    R.assert_close(_np(rm_d), rm, 1e-15)
    R.assert_close(_np(rv_d), rv, 1e-15)
    F.batch_norm2d_forward(to_dev(x), to_dev(g), to_dev(b), rm_d, rv_d, momentum=1.0)
    m = 2 * 2 * 2
    R.assert_close(_np(rm_d), x.mean(axis=(0, 2, 3)), 1e-12)
    R.assert_close(_np(rv_d), x.var(axis=(0, 2, 3)) * m / (m - 1), 1e-12)


def test_default_momentum_and_eps(to_dev):
    """Defaults are PyTorch's: momentum 0.1, eps 1e-5, training=True."""
    x, g, b, rm, rv = _arrays((2, 2, 3, 3), seed=6)
    rm_d, rv_d = to_dev(rm.copy()), to_dev(rv.copy())
    y, _ = F.batch_norm2d_forward(to_dev(x), to_dev(g), to_dev(b), rm_d, rv_d)
    y_ref, rm_ref, rv_ref = RR.batch_norm2d_naive(x, g, b, rm, rv, True, 0.1, 1e-5)
    R.assert_close(_np(y), y_ref, 1e-12)
    R.assert_close(_np(rm_d), rm_ref, 1e-12)
    R.assert_close(_np(rv_d), rv_ref, 1e-12)


# ------------------------------------------------------------------ finite differences
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("shape", [(2, 3, 2, 3), (3, 2, 1, 2)], ids=lambda s: "x".join(map(str, s)))
def test_backward_matches_finite_differences(shape, training, to_dev):
    """dx, dgamma, dbeta vs central differences (< 1e-6); the running stats are copied for
    every call, so the in-place update never leaks into the perturbed evaluations."""
    x, g, b, rm, rv = _arrays(shape, seed=7)

    def run(xv, gv, bv):
        y, _ = F.batch_norm2d_forward(
            to_dev(xv), to_dev(gv), to_dev(bv), to_dev(rm.copy()), to_dev(rv.copy()),
            training=training, momentum=0.2, eps=1e-3,
        )  # fmt: skip
        return _np(y)

    _, cache = F.batch_norm2d_forward(
        to_dev(x), to_dev(g), to_dev(b), to_dev(rm.copy()), to_dev(rv.copy()),
        training=training, momentum=0.2, eps=1e-3,
    )  # fmt: skip
    dy = np.random.default_rng(8).standard_normal(shape)
    dx, dg, db = F.batch_norm2d_backward(to_dev(dy), cache)
    num_dx = R.num_grad_array(lambda v: run(v, g, b), x, dy)
    num_dg = R.num_grad_array(lambda v: run(x, v, b), g, dy)
    num_db = R.num_grad_array(lambda v: run(x, g, v), b, dy)
    for got, num in ((dx, num_dx), (dg, num_dg), (db, num_db)):
        R.assert_close(_np(got), num, 1e-6)
        assert R.rel_error(_np(got), num) < 1e-6


# ------------------------------------------------------------------ torch
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_matches_torch_functional(training, to_dev):
    torch = pytest.importorskip("torch")
    x, g, b, rm, rv = _arrays((3, 4, 5, 2), seed=9)
    xt = torch.tensor(x, requires_grad=True)
    gt = torch.tensor(g, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    rmt, rvt = torch.tensor(rm), torch.tensor(rv)
    yt = torch.nn.functional.batch_norm(xt, rmt, rvt, gt, bt, training, 0.25, 1e-4)
    dy = np.random.default_rng(10).standard_normal(x.shape)
    yt.backward(torch.tensor(dy))

    rm_d, rv_d = to_dev(rm.copy()), to_dev(rv.copy())
    y, cache = F.batch_norm2d_forward(
        to_dev(x), to_dev(g), to_dev(b), rm_d, rv_d, training=training, momentum=0.25, eps=1e-4
    )
    R.assert_close(_np(y), yt.detach().numpy(), 1e-12)
    R.assert_close(_np(rm_d), rmt.numpy(), 1e-12)
    R.assert_close(_np(rv_d), rvt.numpy(), 1e-12)
    dx, dg, db = F.batch_norm2d_backward(to_dev(dy), cache)
    R.assert_close(_np(dx), xt.grad.numpy(), 1e-11)
    R.assert_close(_np(dg), gt.grad.numpy(), 1e-12)
    R.assert_close(_np(db), bt.grad.numpy(), 1e-12)


def test_running_stats_over_steps_match_torch_batchnorm2d(to_dev):
    """Several training steps of nn.BatchNorm2d (running mean 0, var 1 at start), then eval."""
    torch = pytest.importorskip("torch")
    C = 3
    bn = torch.nn.BatchNorm2d(C, eps=1e-5, momentum=0.1).double()
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.5, -0.5, 2.0]))
        bn.bias.copy_(torch.tensor([0.1, 0.2, -0.3]))
    g, b = bn.weight.detach().numpy().copy(), bn.bias.detach().numpy().copy()
    rm_d, rv_d = to_dev(np.zeros(C)), to_dev(np.ones(C))
    rng = np.random.default_rng(11)
    for _ in range(4):
        x = rng.standard_normal((2, C, 3, 4)) * 2 + 1
        yt = bn.train()(torch.tensor(x))
        y, _ = F.batch_norm2d_forward(to_dev(x), to_dev(g), to_dev(b), rm_d, rv_d, training=True)
        R.assert_close(_np(y), yt.detach().numpy(), 1e-12)
        R.assert_close(_np(rm_d), bn.running_mean.numpy(), 1e-12)
        R.assert_close(_np(rv_d), bn.running_var.numpy(), 1e-12)
    x = rng.standard_normal((2, C, 3, 4))
    yt = bn.eval()(torch.tensor(x))
    y, _ = F.batch_norm2d_forward(to_dev(x), to_dev(g), to_dev(b), rm_d, rv_d, training=False)
    R.assert_close(_np(y), yt.detach().numpy(), 1e-12)


# ------------------------------------------------------------------ dtypes and freshness
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_preserves_dtype_and_array_type(dtype, training, to_dev):
    x, g, b, rm, rv = _arrays((2, 3, 4, 4), seed=12)
    xd = to_dev(x.astype(dtype))
    rm_d, rv_d = to_dev(rm.astype(dtype)), to_dev(rv.astype(dtype))
    y, cache = F.batch_norm2d_forward(
        xd, to_dev(g.astype(dtype)), to_dev(b.astype(dtype)), rm_d, rv_d, training=training
    )
    assert y.dtype == dtype and type(y) is type(xd)
    assert rm_d.dtype == dtype and rv_d.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    y_ref, rm_ref, rv_ref = RR.batch_norm2d_naive(x, g, b, rm, rv, training)
    R.assert_close(_np(y), y_ref, tol)
    R.assert_close(_np(rm_d), rm_ref, tol)
    R.assert_close(_np(rv_d), rv_ref, tol)
    dy = np.random.default_rng(13).standard_normal(x.shape)
    grads = F.batch_norm2d_backward(to_dev(dy.astype(dtype)), cache)
    refs = RR.batch_norm2d_backward_naive(dy, x, g, rm, rv, training)
    assert len(grads) == 3
    for got, ref in zip(grads, refs, strict=True):
        assert got.dtype == dtype and type(got) is type(xd)
        R.assert_close(_np(got), ref, 1e-4 if dtype == np.float32 else 1e-11)


def test_leaves_inputs_alone_and_backward_fresh(to_dev):
    """x, gamma, beta, dy unchanged; writing into returned gradients does not change a
    second backward's result."""
    x, g, b, rm, rv = _arrays((2, 2, 3, 3), seed=14)
    xd, gd, bd = to_dev(x), to_dev(g), to_dev(b)
    _, cache = F.batch_norm2d_forward(xd, gd, bd, to_dev(rm), to_dev(rv))
    dy = np.random.default_rng(15).standard_normal(x.shape)
    dyd = to_dev(dy)
    first = F.batch_norm2d_backward(dyd, cache)
    refs = [_np(a).copy() for a in first]
    for a in first:
        a[...] = 3.0
    for got, ref in zip(F.batch_norm2d_backward(dyd, cache), refs, strict=True):
        np.testing.assert_array_equal(_np(got), ref)
    for a, orig in ((xd, x), (gd, g), (bd, b), (dyd, dy)):
        np.testing.assert_array_equal(_np(a), orig)


# ------------------------------------------------------------------ bad input
def _ok():
    x, g, b, rm, rv = _arrays((2, 3, 4, 4), seed=0)
    return dict(x=x, gamma=g, beta=b, running_mean=rm, running_var=rv)


class TestBadInput:
    def test_x_not_4d(self):
        a = _ok()
        a["x"] = a["x"][0]
        with pytest.raises(ValueError, match=r"\bx\b"):
            F.batch_norm2d_forward(**a)

    @pytest.mark.parametrize("name", ["gamma", "beta", "running_mean", "running_var"])
    def test_parameter_wrong_length(self, name):
        a = _ok()
        a[name] = a[name][:-1]
        with pytest.raises(ValueError, match=name):
            F.batch_norm2d_forward(**a)

    @pytest.mark.parametrize("name", ["gamma", "beta", "running_mean", "running_var"])
    def test_parameter_wrong_ndim(self, name):
        a = _ok()
        a[name] = a[name][:, None]
        with pytest.raises(ValueError, match=name):
            F.batch_norm2d_forward(**a)

    def test_integer_x(self):
        a = _ok()
        a["x"] = a["x"].astype(np.int64)
        with pytest.raises(TypeError, match=r"\bx\b"):
            F.batch_norm2d_forward(**a)

    @pytest.mark.parametrize("name", ["x", "gamma", "beta", "running_mean", "running_var"])
    def test_float32_float64_mixed(self, name):
        a = _ok()
        a[name] = a[name].astype(np.float32)
        with pytest.raises(TypeError, match=r"(?i)float32|dtype"):
            F.batch_norm2d_forward(**a)

    def test_no_update_on_bad_input(self):
        """A rejected call leaves the running statistics untouched."""
        a = _ok()
        rm, rv = a["running_mean"].copy(), a["running_var"].copy()
        a["beta"] = a["beta"][:-1]
        with pytest.raises(ValueError):
            F.batch_norm2d_forward(**a)
        np.testing.assert_array_equal(a["running_mean"], rm)
        np.testing.assert_array_equal(a["running_var"], rv)

    def test_backward_dy_wrong_shape(self):
        _, cache = F.batch_norm2d_forward(**_ok())
        with pytest.raises(ValueError, match=r"\bdy\b"):
            F.batch_norm2d_backward(np.zeros((2, 3, 4, 5)), cache)
