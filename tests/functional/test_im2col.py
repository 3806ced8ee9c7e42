"""Tests of ``F.im2col`` / ``F.col2im`` and the lecture's "convolution as matrix
multiplication" (``F.conv2d_matrix``).

Independent references: the loops of ``tests/reference.py`` (``unfold_naive``,
``fold_naive``, ``conv2d_naive``, ``conv_transpose2d_naive``), ``torch.nn.functional.unfold``
/ ``fold`` where torch is importable, and the lecture's worked examples written out by hand
as dense matrices. im2col only copies values, so it must match the loops exactly; sums
(col2im, matrix products) are compared with a scale-normalised error < 1e-12.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse

from minisegnet import backend
from minisegnet import functional as F

try:  # `python -m pytest` from the repository root
    from tests import reference as R
except ImportError:  # plain `pytest`: tests/ itself is on sys.path
    import reference as R


def _np(a):
    return backend.to_numpy(a)


def _maybe_pair(rng, h, w):
    if h == w and rng.random() < 0.5:
        return int(h)
    return (int(h), int(w))


def _unfold_cases(count=24, seed=99):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        N, C = int(rng.integers(1, 3)), int(rng.integers(1, 4))
        H, W = (int(v) for v in rng.integers(1, 10, 2))
        kH, kW = (int(v) for v in rng.integers(1, 5, 2))
        sh, sw = (int(v) for v in rng.integers(1, 4, 2))
        ph, pw = (int(v) for v in rng.integers(0, 3, 2))
        dh, dw = (int(v) for v in rng.integers(1, 4, 2))
        if R.conv_out_len(H, kH, sh, ph, dh) < 1 or R.conv_out_len(W, kW, sw, pw, dw) < 1:
            continue
        cases.append(
            dict(
                N=N,
                C=C,
                H=H,
                W=W,
                kernel_size=_maybe_pair(rng, kH, kW),
                stride=_maybe_pair(rng, sh, sw),
                padding=_maybe_pair(rng, ph, pw),
                dilation=_maybe_pair(rng, dh, dw),
            )
        )
    return cases


def _id(c):
    return (
        f"n{c['N']}c{c['C']}-{c['H']}x{c['W']}-k{c['kernel_size']}-s{c['stride']}"
        f"-p{c['padding']}-d{c['dilation']}"
    ).replace(" ", "")


UNFOLD_CASES = _unfold_cases()


def _params(c):
    return {k: c[k] for k in ("kernel_size", "stride", "padding", "dilation")}


# ------------------------------------------------------------------ im2col / col2im
@pytest.mark.parametrize("case", UNFOLD_CASES, ids=_id)
def test_im2col_matches_naive_unfold(case, to_dev):
    """im2col == unfold_naive exactly (values are only copied), shape (N, C*kH*kW, L)."""
    x = np.random.default_rng(0).standard_normal((case["N"], case["C"], case["H"], case["W"]))
    cols = F.im2col(to_dev(x), **_params(case))
    ref = R.unfold_naive(x, **_params(case))
    assert _np(cols).shape == ref.shape
    np.testing.assert_array_equal(_np(cols), ref)


@pytest.mark.parametrize("case", UNFOLD_CASES, ids=_id)
def test_col2im_matches_naive_fold(case, to_dev):
    """col2im == fold_naive (the sum-scatter), scale-normalised error < 1e-12."""
    p = _params(case)
    ref_shape = R.unfold_naive(np.zeros((case["N"], case["C"], case["H"], case["W"])), **p).shape
    cols = np.random.default_rng(1).standard_normal(ref_shape)
    img = F.col2im(to_dev(cols), (case["H"], case["W"]), **p)
    R.assert_close(_np(img), R.fold_naive(cols, (case["H"], case["W"]), **p), 1e-12)


@pytest.mark.parametrize("case", UNFOLD_CASES[::2], ids=_id)
def test_im2col_col2im_adjoint(case, to_dev):
    """<im2col(x), c> == <x, col2im(c)>: col2im is the transpose of im2col."""
    p = _params(case)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((case["N"], case["C"], case["H"], case["W"]))
    cols = F.im2col(to_dev(x), **p)
    c = rng.standard_normal(_np(cols).shape)
    back = F.col2im(to_dev(c), (case["H"], case["W"]), **p)
    lhs = float(np.sum(_np(cols) * c))
    rhs = float(np.sum(x * _np(back)))
    assert abs(lhs - rhs) <= 1e-12 * (float(np.sum(np.abs(_np(cols) * c))) + 1e-30)


def test_col2im_of_im2col_multiplies_by_overlap_count(to_dev, rng):
    """fold(unfold(x)) == x * fold(unfold(ones)) (the example in PyTorch's fold docs)."""
    x = rng.standard_normal((2, 3, 7, 8))
    p = dict(kernel_size=(3, 2), stride=(1, 2), padding=1, dilation=(2, 1))
    twice = F.col2im(F.im2col(to_dev(x), **p), (7, 8), **p)
    ones = np.ones_like(x)
    count = R.fold_naive(R.unfold_naive(ones, **p), (7, 8), **p)
    R.assert_close(_np(twice), x * count, 1e-12)


def test_im2col_small_example_by_hand(to_dev):
    """A 1x1x3x3 image, 2x2 kernel: the four columns are the four 2x2 windows, read row-major."""
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)  # [[1,2,3],[4,5,6],[7,8,9]]
    cols = _np(F.im2col(to_dev(x), 2))
    expected = np.array(
        [
            [1, 2, 4, 5],  # kernel tap (0, 0) at the windows (0,0), (0,1), (1,0), (1,1)
            [2, 3, 5, 6],  # tap (0, 1)
            [4, 5, 7, 8],  # tap (1, 0)
            [5, 6, 8, 9],  # tap (1, 1)
        ],
        dtype=float,
    )[None]
    np.testing.assert_array_equal(cols, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_im2col_col2im_preserve_dtype_and_array_type(dtype, to_dev, rng):
    x = to_dev(rng.standard_normal((2, 2, 5, 6)).astype(dtype))
    cols = F.im2col(x, 3, stride=2, padding=1)
    assert cols.dtype == dtype and type(cols) is type(x)
    img = F.col2im(cols, (5, 6), 3, stride=2, padding=1)
    assert img.dtype == dtype and type(img) is type(x)
    assert img.shape == (2, 2, 5, 6)


TORCH_UNFOLD = [
    dict(N=2, C=3, H=9, W=7, kernel_size=3, stride=1, padding=1, dilation=1),
    dict(N=1, C=2, H=8, W=9, kernel_size=(2, 3), stride=(2, 1), padding=(0, 2), dilation=(3, 2)),
    dict(N=2, C=1, H=5, W=9, kernel_size=(1, 4), stride=3, padding=2, dilation=(1, 2)),
]


@pytest.mark.parametrize("case", TORCH_UNFOLD, ids=_id)
def test_im2col_col2im_match_torch_unfold_fold(case, to_dev):
    """im2col vs torch.nn.functional.unfold (exact) and col2im vs fold (< 1e-12), float64."""
    torch = pytest.importorskip("torch")
    p = _params(case)
    tp = dict(
        kernel_size=p["kernel_size"],
        dilation=p["dilation"],
        padding=p["padding"],
        stride=p["stride"],
    )
    x = np.random.default_rng(4).standard_normal((case["N"], case["C"], case["H"], case["W"]))
    cols_t = torch.nn.functional.unfold(torch.tensor(x), **tp).numpy()
    np.testing.assert_array_equal(_np(F.im2col(to_dev(x), **p)), cols_t)
    c = np.random.default_rng(5).standard_normal(cols_t.shape)
    img_t = torch.nn.functional.fold(torch.tensor(c), (case["H"], case["W"]), **tp).numpy()
    R.assert_close(_np(F.col2im(to_dev(c), (case["H"], case["W"]), **p)), img_t, 1e-12)


def test_im2col_bad_input():
    """x not 4-D, negative padding, non-positive output: ValueError naming the problem."""
    x = np.zeros((1, 2, 4, 4))
    with pytest.raises(ValueError, match=r"\bx\b"):
        F.im2col(x[0], 3)
    with pytest.raises(ValueError, match="padding"):
        F.im2col(x, 3, padding=-1)
    with pytest.raises(ValueError, match="stride"):
        F.im2col(x, 3, stride=0)
    with pytest.raises(ValueError, match=r"(?i)output|size|kernel"):
        F.im2col(x, 5)
    with pytest.raises(TypeError, match=r"(?i)dtype|float"):
        F.im2col(x.astype(np.int64), 3)


def test_col2im_wrong_number_of_blocks():
    """cols whose L (or C*kH*kW) does not fit output_size and kernel_size is a ValueError."""
    cols = np.zeros((1, 2 * 9, 5))  # a 4x4 image with a 3x3 kernel has L = 4, not 5
    with pytest.raises(ValueError):
        F.col2im(cols, (4, 4), 3)
    cols = np.zeros((1, 10, 4))  # 10 is not a multiple of kH*kW = 9
    with pytest.raises(ValueError):
        F.col2im(cols, (4, 4), 3)


# ------------------------------------------------------------------ conv2d_matrix
MATRIX_CASES = [
    dict(Co=1, Ci=1, H=4, W=4, k=(3, 3), stride=1, padding=0, dilation=1),
    dict(Co=2, Ci=3, H=5, W=6, k=(3, 3), stride=1, padding=1, dilation=1),
    dict(Co=2, Ci=2, H=7, W=6, k=(3, 3), stride=2, padding=1, dilation=1),
    dict(Co=3, Ci=1, H=8, W=7, k=(3, 2), stride=(2, 1), padding=(0, 2), dilation=(2, 1)),
    dict(Co=1, Ci=2, H=9, W=9, k=(2, 2), stride=3, padding=2, dilation=3),
    dict(Co=2, Ci=2, H=6, W=5, k=(1, 1), stride=2, padding=0, dilation=1),
    dict(Co=2, Ci=3, H=4, W=7, k=(4, 3), stride=(1, 3), padding=(1, 0), dilation=(1, 2)),
]


def _mid(c):
    return (
        f"{c['Ci']}to{c['Co']}-{c['H']}x{c['W']}-k{c['k']}-s{c['stride']}-p{c['padding']}"
        f"-d{c['dilation']}"
    ).replace(" ", "")


def _restoring_output_padding(H, W, k, stride, padding, dilation):
    (kH, kW), (sh, sw), (ph, pw), (dh, dw) = (
        R.pair(k),
        R.pair(stride),
        R.pair(padding),
        R.pair(dilation),
    )
    Ho, Wo = R.conv_out_len(H, kH, sh, ph, dh), R.conv_out_len(W, kW, sw, pw, dw)
    return (
        H - R.conv_transpose_out_len(Ho, kH, sh, ph, 0, dh),
        W - R.conv_transpose_out_len(Wo, kW, sw, pw, 0, dw),
    )


@pytest.mark.parametrize("case", MATRIX_CASES, ids=_mid)
def test_conv2d_matrix_times_x_is_conv_and_transpose_is_conv_transpose(case):
    """C @ x[n].ravel() == conv2d_naive(x, w)[n].ravel() and C.T @ y[n].ravel() ==
    conv_transpose2d_naive(y, w, output_padding restoring (H, W))[n].ravel(); C is a
    scipy.sparse matrix of shape (C_out*H_out*W_out, C_in*H*W) with at most
    C_out*H_out*W_out*C_in*kH*kW stored entries."""
    rng = np.random.default_rng(21)
    Co, Ci, H, W, (kH, kW) = case["Co"], case["Ci"], case["H"], case["W"], case["k"]
    p = {k: case[k] for k in ("stride", "padding", "dilation")}
    w = rng.standard_normal((Co, Ci, kH, kW))
    x = rng.standard_normal((2, Ci, H, W))
    C = F.conv2d_matrix(w, (H, W), **p)
    assert scipy.sparse.issparse(C)

    y_ref = R.conv2d_naive(x, w, None, **p)
    _, _, Ho, Wo = y_ref.shape
    assert C.shape == (Co * Ho * Wo, Ci * H * W)
    assert C.nnz <= Co * Ho * Wo * Ci * kH * kW
    for n in range(2):
        R.assert_close(np.asarray(C @ x[n].ravel()), y_ref[n].ravel(), 1e-12)

    y = rng.standard_normal((2, Co, Ho, Wo))
    op = _restoring_output_padding(H, W, (kH, kW), **p)
    xt_ref = R.conv_transpose2d_naive(y, w, None, output_padding=op, **p)
    assert xt_ref.shape == (2, Ci, H, W)
    for n in range(2):
        R.assert_close(np.asarray(C.T @ y[n].ravel()), xt_ref[n].ravel(), 1e-12)


def test_conv2d_matrix_int_and_pair_parameters_agree():
    w = np.random.default_rng(3).standard_normal((2, 2, 3, 3))
    a = F.conv2d_matrix(w, (7, 7), stride=2, padding=1, dilation=2).toarray()
    b = F.conv2d_matrix(w, (7, 7), stride=(2, 2), padding=(1, 1), dilation=(2, 2)).toarray()
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_matrix_keeps_weight_dtype(dtype):
    w = np.random.default_rng(3).standard_normal((2, 1, 3, 3)).astype(dtype)
    C = F.conv2d_matrix(w, (5, 5), padding=1)
    assert C.dtype == dtype


def test_conv2d_matrix_bad_input():
    w = np.zeros((2, 1, 3, 3))
    with pytest.raises(ValueError, match=r"\bw\b"):
        F.conv2d_matrix(w[0], (5, 5))
    with pytest.raises(ValueError, match=r"(?i)output|size"):
        F.conv2d_matrix(w, (2, 2))
    with pytest.raises(ValueError, match="padding"):
        F.conv2d_matrix(w, (5, 5), padding=-1)


# ------------------------------------------------------------------ the lecture's examples
# 1-D examples as images of height 1: kernel (1, 3), padding (0, p), stride (1, s).
# Kernel [x, y, z] and data [a, b, c, d] are distinct primes, so every entry of a product
# identifies which products were summed.
KX, KY, KZ = 2.0, 3.0, 5.0
DA, DB, DC, DD = 7.0, 11.0, 13.0, 17.0
W1D = np.array([KX, KY, KZ]).reshape(1, 1, 1, 3)


def test_lecture_1d_stride1_pad1_matrix():
    """1D conv, kernel size 3, stride 1, padding 1 (the lecture's 4x6 matrix X)."""
    x, y, z = KX, KY, KZ
    X = np.array(
        [
            [x, y, z, 0, 0, 0],
            [0, x, y, z, 0, 0],
            [0, 0, x, y, z, 0],
            [0, 0, 0, x, y, z],
        ]
    )
    # On the explicitly zero-padded vector [0, a, b, c, d, 0]: X itself.
    np.testing.assert_array_equal(F.conv2d_matrix(W1D, (1, 6)).toarray(), X)
    # With padding=1 the zero columns of the padding disappear: X without its first and
    # last column acts on [a, b, c, d].
    C = F.conv2d_matrix(W1D, (1, 4), padding=(0, 1)).toarray()
    np.testing.assert_array_equal(C, X[:, 1:5])

    a, b, c, d = DA, DB, DC, DD
    data = np.array([a, b, c, d])
    expected = np.array(
        [a * y + b * z, a * x + b * y + c * z, b * x + c * y + d * z, c * x + d * y]
    )
    np.testing.assert_array_equal(C @ data, expected)
    out, _ = F.conv2d_forward(data.reshape(1, 1, 1, 4), W1D, padding=(0, 1))
    np.testing.assert_array_equal(out.ravel(), expected)


def test_lecture_1d_transpose_stride1():
    """Transposed convolution multiplies by X^T (6x4):
    X^T [a, b, c, d] = [ax, ay+bx, az+by+cx, bz+cy+dx, cz+dy, dz]."""
    x, y, z = KX, KY, KZ
    XT = np.array(
        [
            [x, 0, 0, 0],
            [y, x, 0, 0],
            [z, y, x, 0],
            [0, z, y, x],
            [0, 0, z, y],
            [0, 0, 0, z],
        ]
    )
    np.testing.assert_array_equal(F.conv2d_matrix(W1D, (1, 6)).T.toarray(), XT)
    a, b, c, d = DA, DB, DC, DD
    expected = np.array(
        [a * x, a * y + b * x, a * z + b * y + c * x, b * z + c * y + d * x, c * z + d * y, d * z]
    )
    np.testing.assert_array_equal(XT @ np.array([a, b, c, d]), expected)
    out, _ = F.conv_transpose2d_forward(np.array([a, b, c, d]).reshape(1, 1, 1, 4), W1D)
    np.testing.assert_array_equal(out.ravel(), expected)


def test_lecture_1d_stride2_pad1_matrix():
    """1D conv, kernel size 3, stride 2, padding 1: X = [[x y z 0 0 0], [0 0 x y z 0]]."""
    x, y, z = KX, KY, KZ
    X = np.array(
        [
            [x, y, z, 0, 0, 0],
            [0, 0, x, y, z, 0],
        ]
    )
    np.testing.assert_array_equal(F.conv2d_matrix(W1D, (1, 6), stride=(1, 2)).toarray(), X)
    C = F.conv2d_matrix(W1D, (1, 4), stride=(1, 2), padding=(0, 1)).toarray()
    np.testing.assert_array_equal(C, X[:, 1:5])

    a, b, c, d = DA, DB, DC, DD
    data = np.array([a, b, c, d])
    expected = np.array([a * y + b * z, b * x + c * y + d * z])
    np.testing.assert_array_equal(C @ data, expected)
    out, _ = F.conv2d_forward(data.reshape(1, 1, 1, 4), W1D, stride=(1, 2), padding=(0, 1))
    np.testing.assert_array_equal(out.ravel(), expected)


def test_lecture_1d_transpose_stride2():
    """1D transpose conv, kernel size 3, stride 2, padding 0: X^T [a, b] =
    [ax, ay, az+bx, by, bz, 0] (the trailing 0 is PyTorch's output_padding=1)."""
    x, y, z = KX, KY, KZ
    XT = np.array(
        [
            [x, 0],
            [y, 0],
            [z, x],
            [0, y],
            [0, z],
            [0, 0],
        ]
    )
    np.testing.assert_array_equal(F.conv2d_matrix(W1D, (1, 6), stride=(1, 2)).T.toarray(), XT)
    a, b = DA, DB
    expected = np.array([a * x, a * y, a * z + b * x, b * y, b * z, 0.0])
    np.testing.assert_array_equal(XT @ np.array([a, b]), expected)
    out, _ = F.conv_transpose2d_forward(
        np.array([a, b]).reshape(1, 1, 1, 2), W1D, stride=(1, 2), output_padding=(0, 1)
    )
    np.testing.assert_array_equal(out.ravel(), expected)
    out5, _ = F.conv_transpose2d_forward(np.array([a, b]).reshape(1, 1, 1, 2), W1D, stride=(1, 2))
    np.testing.assert_array_equal(out5.ravel(), expected[:5])


def test_lecture_2d_4x4_input_3x3_kernel_matrix():
    """The lecture's C for a 4x4 input (vectorised to 16) and a 3x3 kernel h: a 4x16 matrix,
    O = C I reshaped 2x2. (The slide prints rows 2-4 with one zero too many; the correct
    rows each hold the 9 weights at the 3x3 window's positions in the row-major 4x4 grid.)"""
    w00, w01, w02, w10, w11, w12, w20, w21, w22 = 2.0, 3.0, 5.0, 7.0, 11.0, 13.0, 17.0, 19.0, 23.0
    h = np.array([[w00, w01, w02], [w10, w11, w12], [w20, w21, w22]])
    expected = np.array(
        [
            [w00, w01, w02, 0, w10, w11, w12, 0, w20, w21, w22, 0, 0, 0, 0, 0],
            [0, w00, w01, w02, 0, w10, w11, w12, 0, w20, w21, w22, 0, 0, 0, 0],
            [0, 0, 0, 0, w00, w01, w02, 0, w10, w11, w12, 0, w20, w21, w22, 0],
            [0, 0, 0, 0, 0, w00, w01, w02, 0, w10, w11, w12, 0, w20, w21, w22],
        ]
    )
    C = F.conv2d_matrix(h.reshape(1, 1, 3, 3), (4, 4))
    assert C.shape == (4, 16)
    np.testing.assert_array_equal(C.toarray(), expected)
    assert C.nnz <= 4 * 9

    image = np.arange(1.0, 17.0).reshape(4, 4)
    out = (C @ image.ravel()).reshape(2, 2)
    by_hand = np.array(
        [[np.sum(h * image[i : i + 3, j : j + 3]) for j in range(2)] for i in range(2)]
    )
    np.testing.assert_array_equal(out, by_hand)
    # The backward pass (and the transposed convolution) is C^T: a 2x2 -> 4x4 upsampling.
    g = np.array([[1.0, 10.0], [100.0, 1000.0]])
    up, _ = F.conv_transpose2d_forward(g.reshape(1, 1, 2, 2), h.reshape(1, 1, 3, 3))
    np.testing.assert_array_equal(up.reshape(16), expected.T @ g.ravel())
