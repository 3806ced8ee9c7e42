"""Tests of the lecture's fixed unpoolings: nearest neighbour and bed of nails.

Independent references used (never the library against itself):

* ``tests/reference_resample.py``: loops from the definitions (``y[i, j] = x[i // s, j // s]``;
  ``y[a*s, b*s] = x[a, b]``, zeros elsewhere) and their backward scatters / gathers;
* the lecture's worked examples, by hand;
* central finite differences (``tests/reference.py``);
* the adjoint identity <unpool(x), y> == <x, unpool_backward(y)>.
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


OPS = {
    "nearest": (
        F.unpool_nearest_forward,
        F.unpool_nearest_backward,
        RR.unpool_nearest_naive,
        RR.unpool_nearest_backward_naive,
    ),
    "bed_of_nails": (
        F.unpool_bed_of_nails_forward,
        F.unpool_bed_of_nails_backward,
        RR.unpool_bed_of_nails_naive,
        RR.unpool_bed_of_nails_backward_naive,
    ),
}

CASES = [
    dict(shape=(1, 1, 2, 2), s=2),
    dict(shape=(2, 3, 3, 4), s=2),
    dict(shape=(2, 2, 3, 2), s=3),
    dict(shape=(1, 2, 2, 3), s=(2, 3)),
    dict(shape=(2, 1, 4, 1), s=(1, 2)),
    dict(shape=(1, 3, 1, 1), s=4),
    dict(shape=(2, 2, 3, 3), s=1),
    dict(shape=(1, 1, 5, 2), s=(3, 1)),
]


def _id(c):
    return f"{'x'.join(map(str, c['shape']))}-s{c['s']}".replace(" ", "")


def test_lecture_examples(to_dev):
    """[[1, 2], [3, 4]] unpooled by 2: nearest copies each value into a 2x2 block; bed of
    nails puts it at the block's top-left corner."""
    x = np.array([[1.0, 2.0], [3.0, 4.0]])[None, None]
    y, _ = F.unpool_nearest_forward(to_dev(x), 2)
    np.testing.assert_array_equal(
        _np(y)[0, 0], [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    )
    y, _ = F.unpool_bed_of_nails_forward(to_dev(x), 2)
    np.testing.assert_array_equal(
        _np(y)[0, 0], [[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]]
    )


def test_backward_by_hand(to_dev):
    """Nearest's backward sums each block; bed of nails' takes every s-th entry."""
    dy = np.arange(16.0).reshape(1, 1, 4, 4)
    _, cache = F.unpool_nearest_forward(to_dev(np.zeros((1, 1, 2, 2))), 2)
    np.testing.assert_array_equal(
        _np(F.unpool_nearest_backward(to_dev(dy), cache))[0, 0], [[10, 18], [42, 50]]
    )
    _, cache = F.unpool_bed_of_nails_forward(to_dev(np.zeros((1, 1, 2, 2))), 2)
    np.testing.assert_array_equal(
        _np(F.unpool_bed_of_nails_backward(to_dev(dy), cache))[0, 0], [[0, 2], [8, 10]]
    )


@pytest.mark.parametrize("kind", list(OPS))
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_match_naive_loops(kind, case, to_dev):
    fwd, bwd, ref_fwd, ref_bwd = OPS[kind]
    rng = np.random.default_rng(1)
    x = rng.standard_normal(case["shape"])
    y, cache = fwd(to_dev(x), case["s"])
    y_ref = ref_fwd(x, case["s"])
    np.testing.assert_array_equal(_np(y), y_ref)
    dy = rng.standard_normal(y_ref.shape)
    R.assert_close(_np(bwd(to_dev(dy), cache)), ref_bwd(dy, case["s"]), 1e-12)


@pytest.mark.parametrize("kind", list(OPS))
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_adjoint_identity(kind, case, to_dev):
    """<unpool(x), y> == <x, unpool_backward(y)>: the backward is the transpose."""
    fwd, bwd, _, _ = OPS[kind]
    rng = np.random.default_rng(2)
    x = rng.standard_normal(case["shape"])
    ux, cache = fwd(to_dev(x), case["s"])
    y = rng.standard_normal(_np(ux).shape)
    lhs = float(np.sum(_np(ux) * y))
    rhs = float(np.sum(x * _np(bwd(to_dev(y), cache))))
    assert abs(lhs - rhs) <= 1e-12 * (np.sum(np.abs(_np(ux) * y)) + 1e-30)


@pytest.mark.parametrize("kind", list(OPS))
@pytest.mark.parametrize("case", CASES[1:5], ids=_id)
def test_backward_matches_finite_differences(kind, case, to_dev):
    fwd, bwd, _, _ = OPS[kind]
    x = np.random.default_rng(3).standard_normal(case["shape"])
    y, cache = fwd(to_dev(x), case["s"])
    dy = np.random.default_rng(4).standard_normal(_np(y).shape)
    dx = bwd(to_dev(dy), cache)
    num = R.num_grad_array(lambda v: _np(fwd(to_dev(v), case["s"])[0]), x, dy)
    R.assert_close(_np(dx), num, 1e-6)
    assert R.rel_error(_np(dx), num) < 1e-6


def test_nearest_unpool_matches_torch_nearest_interpolate(to_dev):
    """Nearest unpooling by an integer factor equals torch's mode='nearest' upsampling."""
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(5).standard_normal((2, 3, 3, 4))
    for s in (2, 3, (2, 3)):
        sf = s if isinstance(s, tuple) else (s, s)
        xt = torch.tensor(x, requires_grad=True)
        yt = torch.nn.functional.interpolate(xt, scale_factor=sf, mode="nearest")
        dy = np.random.default_rng(6).standard_normal(tuple(yt.shape))
        yt.backward(torch.tensor(dy))
        y, cache = F.unpool_nearest_forward(to_dev(x), s)
        np.testing.assert_array_equal(_np(y), yt.detach().numpy())
        R.assert_close(_np(F.unpool_nearest_backward(to_dev(dy), cache)), xt.grad.numpy(), 1e-12)


@pytest.mark.parametrize("kind", list(OPS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_preserves_dtype_and_array_type(kind, dtype, to_dev):
    fwd, bwd, ref_fwd, ref_bwd = OPS[kind]
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 3, 2)).astype(dtype)
    xd = to_dev(x)
    y, cache = fwd(xd, (2, 3))
    assert y.dtype == dtype and type(y) is type(xd)
    np.testing.assert_array_equal(_np(y), ref_fwd(x, (2, 3)).astype(dtype))
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = bwd(to_dev(dy), cache)
    assert dx.dtype == dtype and type(dx) is type(xd)
    R.assert_close(_np(dx), ref_bwd(dy, (2, 3)), 1e-6 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("kind", list(OPS))
def test_inputs_untouched_and_backward_fresh(kind, to_dev):
    """x and dy unchanged; a returned dx is a fresh array (writing into it does not change
    dy or a second backward's result, e.g. no view of dy[::s, ::s])."""
    fwd, bwd, _, _ = OPS[kind]
    rng = np.random.default_rng(8)
    x = rng.standard_normal((1, 2, 3, 3))
    xd = to_dev(x)
    y, cache = fwd(xd, 2)
    dy = rng.standard_normal(y.shape)
    dyd = to_dev(dy)
    dx1 = bwd(dyd, cache)
    ref = _np(dx1).copy()
    dx1[...] = -7.0
    np.testing.assert_array_equal(_np(dyd), dy)
    np.testing.assert_array_equal(_np(bwd(dyd, cache)), ref)
    np.testing.assert_array_equal(_np(xd), x)


@pytest.mark.parametrize("kind", list(OPS))
class TestBadInput:
    @pytest.mark.parametrize("s", [0, -1, (2, 0), (-1, 2)])
    def test_non_positive_scale_factor(self, kind, s):
        with pytest.raises(ValueError, match="scale_factor"):
            OPS[kind][0](np.zeros((1, 1, 2, 2)), s)

    @pytest.mark.parametrize("s", [2.0, 1.5, True, (2, 2.0), "2"])
    def test_non_integer_scale_factor(self, kind, s):
        with pytest.raises((TypeError, ValueError), match="scale_factor"):
            OPS[kind][0](np.zeros((1, 1, 2, 2)), s)

    def test_x_not_4d(self, kind):
        with pytest.raises(ValueError, match=r"\bx\b"):
            OPS[kind][0](np.zeros((2, 2, 2)), 2)

    def test_integer_x(self, kind):
        with pytest.raises(TypeError, match=r"\bx\b"):
            OPS[kind][0](np.zeros((1, 1, 2, 2), dtype=np.int64), 2)

    def test_backward_dy_wrong_shape(self, kind):
        y, cache = OPS[kind][0](np.zeros((1, 2, 2, 3)), 2)
        with pytest.raises(ValueError, match=r"\bdy\b"):
            OPS[kind][1](np.zeros((1, 2, 4, 5)), cache)
