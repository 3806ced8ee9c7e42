"""Tests of ``F.bilinear_upsample_forward/backward`` and ``F.interpolation_matrix``.

Independent references used (never the library against itself):

* ``tests/reference_resample.py``: the per-pixel formula (source coordinate, floor, the four
  neighbours and their weights) for both ``align_corners``, written from PyTorch's
  definition with ``recompute_scale_factor=False``, and its backward scatter;
* the lecture's worked example, by hand;
* central finite differences (``tests/reference.py``);
* the adjoint identity <up(x), y> == <x, up_backward(y)>;
* ``torch.nn.functional.interpolate(mode="bilinear")`` (only where ``torch`` is importable).

Thresholds: float64 vs the loops or torch, scale-normalised max error < 1e-12; finite
differences < 1e-6; float32 vs the float64 reference < 1e-5.
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


# (N, C, H, W, size, scale_factor); every case runs with both align_corners.
# Products in*scale are kept away from integers (except exact ones), so floor() is unambiguous.
CASES = [
    (1, 1, 2, 2, 4, None),  # the lecture's example
    (2, 3, 3, 4, (7, 9), None),  # up
    (2, 2, 7, 9, (3, 4), None),  # down
    (1, 2, 5, 6, (5, 6), None),  # same size
    (2, 1, 1, 1, (3, 4), None),  # 1-pixel input
    (1, 2, 5, 4, 1, None),  # 1-pixel output
    (2, 2, 4, 6, (1, 9), None),  # mixed: one axis to 1 pixel, the other up
    (1, 1, 6, 1, (2, 5), None),
    (2, 2, 3, 5, None, 2.3),  # non-integer scale: 6 x 11
    (1, 3, 4, 4, None, 1.5),  # 6 x 6
    (2, 1, 5, 3, None, (1.5, 2.3)),  # 7 x 6
    (1, 2, 6, 7, None, 0.5),  # down by scale: 3 x 3
    (2, 2, 9, 8, None, 0.4),  # 3 x 3
    (1, 1, 2, 3, None, 2),  # integer scale
    (1, 2, 1, 1, None, 3.0),  # 1-pixel input by scale
    (2, 1, 5, 5, None, 0.3),  # 1-pixel output by scale
    (1, 1, 3, 3, None, 1.0),
    (1, 2, 4, 5, None, (0.75, 3.0)),
]


def _id(c):
    N, C, H, W, size, sf = c
    tail = f"size{size}" if size is not None else f"scale{sf}"
    return f"n{N}c{C}-{H}x{W}-{tail}".replace(" ", "")


def _kw(c, align_corners):
    return dict(size=c[4], scale_factor=c[5], align_corners=align_corners)


def _x(c, seed=0):
    return np.random.default_rng(seed).standard_normal(c[:4])


# ------------------------------------------------------------------ worked examples
def test_lecture_example_align_corners_false(to_dev):
    """[[1, 2], [3, 4]] to 4x4, align_corners=False, by size and by scale_factor=2."""
    x = np.array([[1.0, 2.0], [3.0, 4.0]])[None, None]
    expected = np.array(
        [
            [1.00, 1.25, 1.75, 2.00],
            [1.50, 1.75, 2.25, 2.50],
            [2.50, 2.75, 3.25, 3.50],
            [3.00, 3.25, 3.75, 4.00],
        ]
    )
    for kw in (dict(size=4), dict(size=(4, 4)), dict(scale_factor=2), dict(scale_factor=2.0)):
        y, _ = F.bilinear_upsample_forward(to_dev(x), align_corners=False, **kw)
        assert _np(y).shape == (1, 1, 4, 4)
        np.testing.assert_allclose(_np(y)[0, 0], expected, rtol=0, atol=1e-14)
    y, _ = F.bilinear_upsample_forward(to_dev(x), size=4)  # align_corners defaults to False
    np.testing.assert_allclose(_np(y)[0, 0], expected, rtol=0, atol=1e-14)


def test_example_align_corners_true(to_dev):
    """align_corners=True keeps the corner pixels: [[1, 2], [3, 4]] to 3x3 is the midpoints."""
    x = np.array([[1.0, 2.0], [3.0, 4.0]])[None, None]
    y, _ = F.bilinear_upsample_forward(to_dev(x), size=3, align_corners=True)
    np.testing.assert_allclose(
        _np(y)[0, 0], [[1, 1.5, 2], [2, 2.5, 3], [3, 3.5, 4]], rtol=0, atol=1e-14
    )
    y, _ = F.bilinear_upsample_forward(to_dev(x), size=4, align_corners=True)
    np.testing.assert_allclose(
        _np(y)[0, 0, 0], [1, 4 / 3, 5 / 3, 2], rtol=0, atol=1e-14
    )


# ------------------------------------------------------------------ vs naive loops
@pytest.mark.parametrize("align_corners", [False, True], ids=["ac0", "ac1"])
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_matches_naive_loops(case, align_corners, to_dev):
    """Forward and backward vs the per-pixel formula (< 1e-12)."""
    x = _x(case)
    kw = _kw(case, align_corners)
    y, cache = F.bilinear_upsample_forward(to_dev(x), **kw)
    y_ref = RR.bilinear_naive(x, **kw)
    R.assert_close(_np(y), y_ref, 1e-12)
    dy = np.random.default_rng(1).standard_normal(y_ref.shape)
    dx = F.bilinear_upsample_backward(to_dev(dy), cache)
    R.assert_close(_np(dx), RR.bilinear_backward_naive(dy, case[2:4], **kw), 1e-12)


@pytest.mark.parametrize("align_corners", [False, True], ids=["ac0", "ac1"])
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_adjoint_identity(case, align_corners, to_dev):
    """<up(x), y> == <x, up_backward(y)>: the backward is the transposed linear map."""
    x = _x(case, seed=2)
    kw = _kw(case, align_corners)
    ux, cache = F.bilinear_upsample_forward(to_dev(x), **kw)
    y = np.random.default_rng(3).standard_normal(_np(ux).shape)
    lhs = float(np.sum(_np(ux) * y))
    rhs = float(np.sum(x * _np(F.bilinear_upsample_backward(to_dev(y), cache))))
    assert abs(lhs - rhs) <= 1e-12 * (np.sum(np.abs(_np(ux) * y)) + 1e-30)


FD_CASES = [
    (1, 2, 3, 4, (5, 7), None),
    (2, 1, 5, 4, (3, 2), None),
    (1, 1, 3, 2, None, 2.3),
    (1, 1, 1, 2, (2, 3), None),
    (1, 2, 4, 3, None, (0.75, 1.5)),
]


@pytest.mark.parametrize("align_corners", [False, True], ids=["ac0", "ac1"])
@pytest.mark.parametrize("case", FD_CASES, ids=_id)
def test_backward_matches_finite_differences(case, align_corners, to_dev):
    x = _x(case, seed=4)
    kw = _kw(case, align_corners)
    y, cache = F.bilinear_upsample_forward(to_dev(x), **kw)
    dy = np.random.default_rng(5).standard_normal(_np(y).shape)
    dx = F.bilinear_upsample_backward(to_dev(dy), cache)
    num = R.num_grad_array(lambda v: _np(F.bilinear_upsample_forward(to_dev(v), **kw)[0]), x, dy)
    R.assert_close(_np(dx), num, 1e-6)
    assert R.rel_error(_np(dx), num) < 1e-6


@pytest.mark.parametrize("align_corners", [False, True], ids=["ac0", "ac1"])
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_matches_torch(case, align_corners, to_dev):
    """vs torch.nn.functional.interpolate(mode="bilinear", recompute_scale_factor=False)."""
    torch = pytest.importorskip("torch")
    x = _x(case, seed=6)
    kw = _kw(case, align_corners)
    xt = torch.tensor(x, requires_grad=True)
    sf = case[5]
    yt = torch.nn.functional.interpolate(
        xt,
        size=case[4],
        scale_factor=sf,
        mode="bilinear",
        align_corners=align_corners,
        recompute_scale_factor=False if sf is not None else None,
    )
    dy = np.random.default_rng(7).standard_normal(tuple(yt.shape))
    yt.backward(torch.tensor(dy))
    y, cache = F.bilinear_upsample_forward(to_dev(x), **kw)
    assert _np(y).shape == tuple(yt.shape)
    R.assert_close(_np(y), yt.detach().numpy(), 1e-12)
    R.assert_close(_np(F.bilinear_upsample_backward(to_dev(dy), cache)), xt.grad.numpy(), 1e-12)


# ------------------------------------------------------------------ properties
@pytest.mark.parametrize("align_corners", [False, True], ids=["ac0", "ac1"])
def test_same_size_is_identity_and_constants_stay_constant(align_corners, to_dev):
    x = np.random.default_rng(8).standard_normal((2, 3, 5, 4))
    y, _ = F.bilinear_upsample_forward(to_dev(x), size=(5, 4), align_corners=align_corners)
    R.assert_close(_np(y), x, 1e-15)
    c = np.full((1, 2, 3, 4), 2.5)
    for size in ((7, 9), (2, 2), (1, 1), (6, 1)):
        y, _ = F.bilinear_upsample_forward(to_dev(c), size=size, align_corners=align_corners)
        np.testing.assert_allclose(_np(y), 2.5, rtol=1e-15, atol=0)


def test_align_corners_true_keeps_corners(to_dev):
    """align_corners=True: the corner pixels are kept, and 4 -> 10 rows (step 1/3), 5 -> 9
    columns (step 1/2) put every 3rd row and 2nd column exactly on an input pixel."""
    x = np.random.default_rng(9).standard_normal((2, 2, 4, 5))
    y = _np(F.bilinear_upsample_forward(to_dev(x), size=(10, 9), align_corners=True)[0])
    for r in (0, -1):
        for c in (0, -1):
            np.testing.assert_allclose(y[:, :, r, c], x[:, :, r, c], rtol=1e-14, atol=1e-15)
    R.assert_close(y[:, :, ::3, ::2], x, 1e-14)


@pytest.mark.parametrize(
    "in_len, out_len, scale",
    [(2, 4, None), (3, 7, None), (7, 3, None), (1, 4, None), (4, 1, None), (5, 5, None),
     (3, 6, 2.3), (5, 11, 2.3), (6, 3, 0.5), (4, 6, 1.5)],
)  # fmt: skip
@pytest.mark.parametrize("align_corners", [False, True], ids=["ac0", "ac1"])
def test_interpolation_matrix_matches_naive(in_len, out_len, scale, align_corners, to_dev):
    """Row i of A holds the two weights of output i; rows sum to 1; y = A_h @ x @ A_w.T."""
    A = F.interpolation_matrix(in_len, out_len, align_corners=align_corners, scale=scale)
    A_ref = RR.interpolation_matrix_naive(in_len, out_len, align_corners, scale)
    assert A.shape == (out_len, in_len)
    assert A.dtype == np.float64
    R.assert_close(_np(A), A_ref, 1e-14)
    np.testing.assert_allclose(_np(A).sum(axis=1), 1.0, rtol=1e-14)
    A32 = F.interpolation_matrix(
        in_len, out_len, align_corners=align_corners, scale=scale, dtype=np.float32
    )
    assert A32.dtype == np.float32
    if backend.gpu_available():
        import cupy

        Ag = F.interpolation_matrix(
            in_len, out_len, align_corners=align_corners, scale=scale, xp=cupy
        )
        assert backend.is_cupy_array(Ag)
        R.assert_close(_np(Ag), A_ref, 1e-14)


def test_interpolation_matrix_is_separable_form_of_forward(to_dev):
    x = np.random.default_rng(10).standard_normal((2, 2, 4, 6))
    for ac in (False, True):
        A_h = RR.interpolation_matrix_naive(4, 9, ac)
        A_w = RR.interpolation_matrix_naive(6, 5, ac)
        y = _np(F.bilinear_upsample_forward(to_dev(x), size=(9, 5), align_corners=ac)[0])
        R.assert_close(y, np.einsum("ih,nchw,jw->ncij", A_h, x, A_w), 1e-13)
        M_h = _np(F.interpolation_matrix(4, 9, align_corners=ac))
        M_w = _np(F.interpolation_matrix(6, 5, align_corners=ac))
        R.assert_close(y, M_h @ x @ M_w.T, 1e-13)


# ------------------------------------------------------------------ dtypes and freshness
@pytest.mark.parametrize("align_corners", [False, True], ids=["ac0", "ac1"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_preserves_dtype_and_array_type(dtype, align_corners, to_dev):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 3, 5, 4))
    xd = to_dev(x.astype(dtype))
    for kw in (dict(size=(8, 7)), dict(scale_factor=1.5)):
        y, cache = F.bilinear_upsample_forward(xd, align_corners=align_corners, **kw)
        assert y.dtype == dtype and type(y) is type(xd)
        tol = 1e-5 if dtype == np.float32 else 1e-12
        R.assert_close(_np(y), RR.bilinear_naive(x, align_corners=align_corners, **kw), tol)
        dy = rng.standard_normal(y.shape)
        dx = F.bilinear_upsample_backward(to_dev(dy.astype(dtype)), cache)
        assert dx.dtype == dtype and type(dx) is type(xd)
        ref = RR.bilinear_backward_naive(dy, (5, 4), align_corners=align_corners, **kw)
        R.assert_close(_np(dx), ref, tol)


def test_inputs_untouched_and_backward_fresh(to_dev):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((1, 2, 3, 3))
    xd = to_dev(x)
    y, cache = F.bilinear_upsample_forward(xd, size=(3, 3))  # same size: still a fresh dx
    dy = rng.standard_normal(y.shape)
    dyd = to_dev(dy)
    dx1 = F.bilinear_upsample_backward(dyd, cache)
    ref = _np(dx1).copy()
    dx1[...] = 99.0
    np.testing.assert_array_equal(_np(dyd), dy)
    np.testing.assert_array_equal(_np(F.bilinear_upsample_backward(dyd, cache)), ref)
    np.testing.assert_array_equal(_np(xd), x)


# ------------------------------------------------------------------ bad input
def _bx():
    return np.random.default_rng(0).standard_normal((1, 2, 4, 4))


class TestBadInput:
    def test_both_size_and_scale_factor(self):
        with pytest.raises(ValueError, match=r"(?s)(size.*scale_factor|scale_factor.*size)"):
            F.bilinear_upsample_forward(_bx(), size=8, scale_factor=2)

    def test_neither_size_nor_scale_factor(self):
        with pytest.raises(ValueError, match=r"(?s)(size.*scale_factor|scale_factor.*size)"):
            F.bilinear_upsample_forward(_bx())

    @pytest.mark.parametrize("size", [0, -3, (4, 0), (-1, 4)])
    def test_non_positive_size(self, size):
        with pytest.raises(ValueError, match="size"):
            F.bilinear_upsample_forward(_bx(), size=size)

    @pytest.mark.parametrize("size", [4.0, True, (4, 2.5)])
    def test_non_integer_size(self, size):
        with pytest.raises(TypeError, match="size"):
            F.bilinear_upsample_forward(_bx(), size=size)

    @pytest.mark.parametrize("s", [0, -2.0, (2.0, 0.0), (-1, 2)])
    def test_non_positive_scale_factor(self, s):
        with pytest.raises(ValueError, match="scale_factor"):
            F.bilinear_upsample_forward(_bx(), scale_factor=s)

    @pytest.mark.parametrize("s", [float("nan"), float("inf")])
    def test_non_finite_scale_factor(self, s):
        with pytest.raises(ValueError, match="scale_factor"):
            F.bilinear_upsample_forward(_bx(), scale_factor=s)

    @pytest.mark.parametrize("s", ["2", True, (2, 2, 2)])
    def test_scale_factor_wrong_type(self, s):
        with pytest.raises((TypeError, ValueError), match="scale_factor"):
            F.bilinear_upsample_forward(_bx(), scale_factor=s)

    def test_scale_factor_giving_empty_output(self):
        """4 * 0.2 = 0.8 floors to an empty output: a ValueError."""
        with pytest.raises(ValueError, match=r"(?i)scale_factor|size|output"):
            F.bilinear_upsample_forward(_bx(), scale_factor=0.2)

    def test_x_not_4d(self):
        with pytest.raises(ValueError, match=r"\bx\b"):
            F.bilinear_upsample_forward(_bx()[0], size=8)

    def test_integer_x(self):
        with pytest.raises(TypeError, match=r"\bx\b"):
            F.bilinear_upsample_forward(_bx().astype(np.int64), size=8)

    def test_backward_dy_wrong_shape(self):
        y, cache = F.bilinear_upsample_forward(_bx(), size=(8, 6))
        with pytest.raises(ValueError, match=r"\bdy\b"):
            F.bilinear_upsample_backward(np.zeros((1, 2, 6, 8)), cache)
