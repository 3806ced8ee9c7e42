"""Tests of ``F.softmax_cross_entropy_forward/backward`` (pixel-wise, PyTorch's mean reduction).

Independent references used (never the library against itself):

* ``tests/reference_resample.py``: a pixel-by-pixel loop with log-sum-exp (max subtracted),
  ignore_index and class weights, and the gradient ``w_t (softmax - onehot) / sum w_t``;
* central finite differences (``tests/reference.py``);
* ``torch.nn.functional.cross_entropy`` (only where importable).

Thresholds: float64 vs the loop or torch < 1e-12 (scale-normalised); finite differences
< 1e-6; float32 vs the float64 reference < 1e-5.
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


def _problem(shape, seed=0, ignore_index=255, ignore_frac=0.25, weighted=False, scale=3.0):
    """logits (N, K, H, W), int64 target (N, H, W) with some ignored pixels, optional weight."""
    rng = np.random.default_rng(seed)
    N, K, H, W = shape
    logits = rng.standard_normal(shape) * scale
    target = rng.integers(0, K, (N, H, W)).astype(np.int64)
    target[rng.random((N, H, W)) < ignore_frac] = ignore_index
    weight = rng.uniform(0.2, 3.0, K) if weighted else None
    return logits, target, weight


CASES = [
    dict(shape=(2, 4, 3, 5), ignore_index=255),
    dict(shape=(1, 3, 1, 1), ignore_index=255, ignore_frac=0.0),
    dict(shape=(3, 2, 2, 2), ignore_index=-100),
    dict(shape=(1, 21, 4, 4), ignore_index=255),
    dict(shape=(2, 5, 3, 3), ignore_index=0),  # an ignore label inside [0, K)
    dict(shape=(2, 3, 4, 2), ignore_index=-1, ignore_frac=0.5),
]


def _id(c):
    return f"{'x'.join(map(str, c['shape']))}-ign{c['ignore_index']}"


def _make(case, weighted, seed=0, scale=3.0):
    kw = {k: v for k, v in case.items() if k in ("ignore_index", "ignore_frac")}
    return _problem(case["shape"], seed=seed, weighted=weighted, scale=scale, **kw)


def _fwd(to_dev, logits, target, ignore_index=255, weight=None):
    return F.softmax_cross_entropy_forward(
        to_dev(logits),
        to_dev(target),
        ignore_index=ignore_index,
        weight=None if weight is None else to_dev(weight),
    )


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_matches_naive_loop(case, weighted, to_dev):
    logits, target, weight = _make(case, weighted)
    ii = case["ignore_index"]
    loss, cache = _fwd(to_dev, logits, target, ii, weight)
    loss_ref, grad_ref = RR.softmax_cross_entropy_naive(logits, target, ii, weight)
    assert _np(loss).shape == ()
    R.assert_close(float(loss), loss_ref, 1e-12)
    dlogits = F.softmax_cross_entropy_backward(1.0, cache)
    R.assert_close(_np(dlogits), grad_ref, 1e-12)
    # per pixel the gradient sums to 0 over the classes; ignored pixels get exactly 0
    np.testing.assert_allclose(_np(dlogits).sum(axis=1), 0.0, atol=1e-15)
    ignored = np.broadcast_to((target == ii)[:, None], logits.shape)
    assert np.all(_np(dlogits)[ignored] == 0)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_matches_torch(case, weighted, to_dev):
    """vs torch.nn.functional.cross_entropy(reduction='mean', ignore_index, weight): the
    weighted mean sum w[t] l / sum w[t] over the non-ignored pixels."""
    torch = pytest.importorskip("torch")
    logits, target, weight = _make(case, weighted, seed=1)
    ii = case["ignore_index"]
    zt = torch.tensor(logits, requires_grad=True)
    lt = torch.nn.functional.cross_entropy(
        zt,
        torch.tensor(target),
        weight=None if weight is None else torch.tensor(weight),
        ignore_index=ii,
    )
    lt.backward()
    loss, cache = _fwd(to_dev, logits, target, ii, weight)
    R.assert_close(float(loss), lt.item(), 1e-12)
    R.assert_close(_np(F.softmax_cross_entropy_backward(1.0, cache)), zt.grad.numpy(), 1e-12)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", CASES[:3] + CASES[4:5], ids=_id)
def test_backward_matches_finite_differences(case, weighted, to_dev):
    """With ignored pixels and class weights (< 1e-6). Logits of unit scale keep every
    softmax probability above ~1e-3, so that the elementwise rel_error is not dominated by
    the rounding error (~1e-11) of central differences on tiny entries."""
    logits, target, weight = _make(case, weighted, seed=2, scale=1.0)
    ii = case["ignore_index"]
    _, cache = _fwd(to_dev, logits, target, ii, weight)
    dloss = 1.7
    dlogits = F.softmax_cross_entropy_backward(dloss, cache)
    num = R.num_grad_array(
        lambda v: float(_fwd(to_dev, v, target, ii, weight)[0]), logits, np.float64(dloss)
    )
    R.assert_close(_np(dlogits), num, 1e-6)
    assert R.rel_error(_np(dlogits), num) < 1e-6


def test_by_hand(to_dev):
    """Two pixels, K = 2: logits (0, 0) label 0 -> log 2; logits (ln 3, 0) label 1 -> log 4;
    the third pixel is ignored. Weighted with w = (1, 3): (log 2 + 3 log 4) / 4."""
    logits = np.array([[0.0, np.log(3.0), 5.0], [0.0, 0.0, -5.0]]).reshape(1, 2, 1, 3)
    target = np.array([[[0, 1, 255]]])
    loss, _ = _fwd(to_dev, logits, target)
    np.testing.assert_allclose(float(loss), (np.log(2) + np.log(4)) / 2, rtol=1e-14)
    loss, _ = _fwd(to_dev, logits, target, weight=np.array([1.0, 3.0]))
    np.testing.assert_allclose(float(loss), (np.log(2) + 3 * np.log(4)) / 4, rtol=1e-14)


def test_uniform_weight_equals_no_weight(to_dev):
    logits, target, _ = _problem((2, 3, 4, 4), seed=3)
    l0, c0 = _fwd(to_dev, logits, target)
    l1, c1 = _fwd(to_dev, logits, target, weight=np.full(3, 2.5))
    R.assert_close(float(l1), float(l0), 1e-14)
    R.assert_close(
        _np(F.softmax_cross_entropy_backward(1.0, c1)),
        _np(F.softmax_cross_entropy_backward(1.0, c0)),
        1e-14,
    )


# ------------------------------------------------------------------ stability and corners
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stable_for_huge_logits(dtype, to_dev):
    """Logits of magnitude 1e4: finite loss and gradient, equal to the log-sum-exp loop."""
    logits, target, weight = _problem((2, 4, 3, 3), seed=4, scale=1e4, weighted=True)
    logits = logits.astype(dtype)
    loss, cache = _fwd(to_dev, logits, target, weight=weight.astype(dtype))
    dz = _np(F.softmax_cross_entropy_backward(1.0, cache))
    assert np.isfinite(float(loss)) and np.all(np.isfinite(dz))
    loss_ref, grad_ref = RR.softmax_cross_entropy_naive(logits, target, 255, weight.astype(dtype))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    R.assert_close(float(loss), loss_ref, tol)
    R.assert_close(dz, grad_ref, tol)


def test_huge_logits_by_hand(to_dev):
    """+-1e4: a confident right answer costs 0 (gradient 0), a confident wrong one 2e4."""
    logits = np.array([[1e4, -1e4], [-1e4, 1e4]]).reshape(1, 2, 1, 2)
    loss, cache = _fwd(to_dev, logits, np.array([[[0, 0]]]))
    assert float(loss) == pytest.approx(1e4, rel=1e-12)  # (0 + 2e4) / 2
    dz = _np(F.softmax_cross_entropy_backward(1.0, cache))
    np.testing.assert_allclose(dz[0, :, 0, 0], [0.0, 0.0], atol=1e-300)
    np.testing.assert_allclose(dz[0, :, 0, 1], [-0.5, 0.5], rtol=1e-12)
    loss, _ = _fwd(to_dev, logits, np.array([[[0, 1]]]))
    assert float(loss) == 0.0


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_all_ignored_gives_zero_loss_and_gradient(weighted, to_dev):
    logits, _, weight = _problem((2, 3, 2, 2), seed=5, weighted=weighted)
    target = np.full((2, 2, 2), 255, dtype=np.int64)
    loss, cache = _fwd(to_dev, logits, target, weight=weight)
    assert float(loss) == 0.0 and np.isfinite(float(loss))
    dz = _np(F.softmax_cross_entropy_backward(1.0, cache))
    assert dz.shape == logits.shape
    np.testing.assert_array_equal(dz, 0.0)


def test_dloss_scaling_and_zero_d_dloss(to_dev):
    """backward(2.0) == 2 * backward(1.0); a 0-d array dloss (NumPy or the device's) works."""
    logits, target, weight = _problem((2, 3, 3, 2), seed=6, weighted=True)
    _, cache = _fwd(to_dev, logits, target, weight=weight)
    g1 = _np(F.softmax_cross_entropy_backward(1.0, cache))
    g2 = _np(F.softmax_cross_entropy_backward(2.0, cache))
    R.assert_close(g2, 2 * g1, 1e-15)
    g3 = _np(F.softmax_cross_entropy_backward(to_dev(np.asarray(-0.5)), cache))
    R.assert_close(g3, -0.5 * g1, 1e-15)
    loss, _ = _fwd(to_dev, logits, target, weight=weight)
    g4 = _np(F.softmax_cross_entropy_backward(loss * 0 + 3.0, cache))  # the loss' own kind
    R.assert_close(g4, 3 * g1, 1e-15)


@pytest.mark.parametrize("tdtype", [np.int64, np.int32, np.uint8, np.int16])
def test_integer_target_dtypes(tdtype, to_dev):
    """Any integer label dtype works (uint8 masks with 255 = ignore, as in Pascal VOC)."""
    logits, target, _ = _problem((2, 4, 3, 3), seed=7)
    ref_loss, ref_grad = RR.softmax_cross_entropy_naive(logits, target, 255)
    loss, cache = _fwd(to_dev, logits, target.astype(tdtype))
    R.assert_close(float(loss), ref_loss, 1e-12)
    R.assert_close(_np(F.softmax_cross_entropy_backward(1.0, cache)), ref_grad, 1e-12)


# ------------------------------------------------------------------ dtypes and freshness
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_preserves_dtype_and_array_type(dtype, weighted, to_dev):
    logits, target, weight = _problem((2, 3, 4, 3), seed=8, weighted=weighted)
    zd = to_dev(logits.astype(dtype))
    loss, cache = F.softmax_cross_entropy_forward(
        zd, to_dev(target), weight=None if weight is None else to_dev(weight.astype(dtype))
    )
    assert loss.dtype == dtype and loss.shape == ()
    assert type(loss) is type(zd)
    dz = F.softmax_cross_entropy_backward(1.0, cache)
    assert dz.dtype == dtype and type(dz) is type(zd)
    w_ref = None if weight is None else weight.astype(dtype)
    loss_ref, grad_ref = RR.softmax_cross_entropy_naive(logits.astype(dtype), target, 255, w_ref)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    R.assert_close(float(loss), loss_ref, tol)
    R.assert_close(_np(dz), grad_ref, tol)


def test_leaves_inputs_alone_and_backward_fresh(to_dev):
    logits, target, weight = _problem((1, 3, 3, 3), seed=9, weighted=True)
    zd, td, wd = to_dev(logits), to_dev(target), to_dev(weight)
    _, cache = F.softmax_cross_entropy_forward(zd, td, weight=wd)
    g1 = F.softmax_cross_entropy_backward(1.0, cache)
    ref = _np(g1).copy()
    g1[...] = 8.0
    np.testing.assert_array_equal(_np(F.softmax_cross_entropy_backward(1.0, cache)), ref)
    for a, orig in ((zd, logits), (td, target), (wd, weight)):
        np.testing.assert_array_equal(_np(a), orig)


# ------------------------------------------------------------------ bad input
def _ok():
    logits, target, weight = _problem((2, 3, 4, 4), seed=0, weighted=True)
    return logits, target, weight


class TestBadInput:
    def test_float_target(self):
        z, t, _ = _ok()
        with pytest.raises(TypeError, match="target"):
            F.softmax_cross_entropy_forward(z, t.astype(np.float64))
        with pytest.raises(TypeError, match="target"):
            F.softmax_cross_entropy_forward(z, t.astype(np.float32))

    @pytest.mark.parametrize("bad", [3, 4, -1, 254, 256])
    def test_label_out_of_range(self, bad):
        z, t, _ = _ok()  # K = 3, ignore_index 255
        t = t.copy()
        t[1, 2, 3] = bad
        with pytest.raises(ValueError, match="target"):
            F.softmax_cross_entropy_forward(z, t)

    def test_ignore_index_not_ignored_when_different(self):
        """255 is only ignored when it is the ignore_index."""
        z, t, _ = _ok()
        assert np.any(t == 255)
        with pytest.raises(ValueError, match="target"):
            F.softmax_cross_entropy_forward(z, t, ignore_index=-100)

    @pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
    def test_non_finite_logits(self, value):
        z, t, _ = _ok()
        z = z.copy()
        z[0, 1, 2, 2] = value
        with pytest.raises(ValueError, match="logits"):
            F.softmax_cross_entropy_forward(z, t)

    def test_non_finite_logits_even_at_ignored_pixels(self):
        """A NaN is bad input wherever it is (it would poison a later layer's gradient)."""
        z, t, _ = _ok()
        z, t = z.copy(), t.copy()
        t[0, 0, 0] = 255
        z[0, 0, 0, 0] = np.nan
        with pytest.raises(ValueError, match="logits"):
            F.softmax_cross_entropy_forward(z, t)

    @pytest.mark.parametrize("k", [2, 4])
    def test_weight_wrong_length(self, k):
        z, t, w = _ok()
        with pytest.raises(ValueError, match="weight"):
            F.softmax_cross_entropy_forward(z, t, weight=np.ones(k))

    def test_weight_wrong_ndim(self):
        z, t, w = _ok()
        with pytest.raises(ValueError, match="weight"):
            F.softmax_cross_entropy_forward(z, t, weight=w[None])

    def test_weight_dtype_mixed(self):
        z, t, w = _ok()
        with pytest.raises(TypeError, match=r"(?i)float32|dtype"):
            F.softmax_cross_entropy_forward(z, t, weight=w.astype(np.float32))

    @pytest.mark.parametrize(
        "tshape", [(2, 4, 5), (2, 5, 4), (1, 4, 4), (3, 4, 4)], ids=lambda s: "x".join(map(str, s))
    )
    def test_target_shape_mismatch(self, tshape):
        z, _, _ = _ok()
        t = np.zeros(tshape, dtype=np.int64)
        with pytest.raises(ValueError, match=r"target|logits|shape"):
            F.softmax_cross_entropy_forward(z, t)

    def test_target_wrong_ndim(self):
        z, t, _ = _ok()
        with pytest.raises(ValueError, match="target"):
            F.softmax_cross_entropy_forward(z, t[:, None])

    def test_logits_not_4d(self):
        z, t, _ = _ok()
        with pytest.raises(ValueError, match="logits"):
            F.softmax_cross_entropy_forward(z[0], t)

    def test_integer_logits(self):
        z, t, _ = _ok()
        with pytest.raises(TypeError, match="logits"):
            F.softmax_cross_entropy_forward(z.astype(np.int64), t)
