"""Tests of ``F.conv2d_forward/backward`` and ``F.conv_transpose2d_forward/backward``.

Independent references used (never the library against itself):

* ``tests/reference.py``: naive float64 loops written from the index definitions
  (forward and backward of both ops);
* central finite differences written in ``tests/reference.py`` (``num_grad_array``);
* the adjoint identity <conv2d(x, w), y> == <x, conv_transpose2d(y, w)>;
* ``torch.nn.functional`` (only where ``torch`` is importable).

Thresholds: float64 vs naive loops, scale-normalised max error < 1e-9; finite differences
< 1e-6; float32 vs the float64 reference < 1e-4.
"""

from __future__ import annotations

import numpy as np
import pytest

from minisegnet import backend
from minisegnet import functional as F

try:  # `python -m pytest` from the repository root
    from tests import reference as R
except ImportError:  # plain `pytest`: tests/ itself is on sys.path
    import reference as R


# ------------------------------------------------------------------ random configurations
def _maybe_pair(rng, h, w):
    """An int when both axes agree (half of the time), else the (h, w) pair."""
    if h == w and rng.random() < 0.5:
        return int(h)
    return (int(h), int(w))


def _conv_cases(count=50, seed=1234):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        N, Ci, Co = (int(v) for v in (rng.integers(1, 3), rng.integers(1, 4), rng.integers(1, 4)))
        H, W = (int(v) for v in rng.integers(1, 10, 2))
        kH, kW = (int(v) for v in rng.integers(1, 5, 2))
        sh, sw = (int(v) for v in rng.integers(1, 4, 2))
        ph, pw = (int(v) for v in rng.integers(0, 3, 2))
        dh, dw = (int(v) for v in rng.integers(1, 4, 2))
        if R.conv_out_len(H, kH, sh, ph, dh) < 1 or R.conv_out_len(W, kW, sw, pw, dw) < 1:
            continue  # non-positive output: an error case, tested separately
        cases.append(
            dict(
                N=N,
                Ci=Ci,
                Co=Co,
                H=H,
                W=W,
                k=(kH, kW),
                stride=_maybe_pair(rng, sh, sw),
                padding=_maybe_pair(rng, ph, pw),
                dilation=_maybe_pair(rng, dh, dw),
                bias=bool(rng.random() < 0.6),
            )
        )
    return cases


def _convT_cases(count=45, seed=4321):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        N, Ci, Co = (int(v) for v in (rng.integers(1, 3), rng.integers(1, 4), rng.integers(1, 4)))
        H, W = (int(v) for v in rng.integers(1, 6, 2))
        kH, kW = (int(v) for v in rng.integers(1, 5, 2))
        sh, sw = (int(v) for v in rng.integers(1, 4, 2))
        ph, pw = (int(v) for v in rng.integers(0, 3, 2))
        dh, dw = (int(v) for v in rng.integers(1, 4, 2))
        # PyTorch's rule: output_padding smaller than stride or than dilation, per axis.
        oph = int(rng.integers(0, max(sh, dh)))
        opw = int(rng.integers(0, max(sw, dw)))
        Ho = R.conv_transpose_out_len(H, kH, sh, ph, oph, dh)
        Wo = R.conv_transpose_out_len(W, kW, sw, pw, opw, dw)
        if Ho < 1 or Wo < 1 or Ho > 14 or Wo > 14:
            continue
        cases.append(
            dict(
                N=N,
                Ci=Ci,
                Co=Co,
                H=H,
                W=W,
                k=(kH, kW),
                stride=_maybe_pair(rng, sh, sw),
                padding=_maybe_pair(rng, ph, pw),
                output_padding=_maybe_pair(rng, oph, opw),
                dilation=_maybe_pair(rng, dh, dw),
                bias=bool(rng.random() < 0.6),
            )
        )
    return cases


def _case_id(c):
    s = f"n{c['N']}c{c['Ci']}to{c['Co']}-{c['H']}x{c['W']}-k{c['k'][0]}x{c['k'][1]}"
    s += f"-s{c['stride']}-p{c['padding']}-d{c['dilation']}"
    if "output_padding" in c:
        s += f"-op{c['output_padding']}"
    return (s + ("-bias" if c["bias"] else "")).replace(" ", "")


CONV_CASES = _conv_cases()
CONVT_CASES = _convT_cases()


def _conv_arrays(c, seed=0, transposed=False):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((c["N"], c["Ci"], c["H"], c["W"]))
    wshape = (c["Ci"], c["Co"], *c["k"]) if transposed else (c["Co"], c["Ci"], *c["k"])
    w = rng.standard_normal(wshape)
    b = rng.standard_normal(c["Co"]) if c["bias"] else None
    return x, w, b


def _params(c):
    return {k: c[k] for k in ("stride", "padding", "dilation", "output_padding") if k in c}


def _restoring_output_padding(H, W, k, stride, padding, dilation):
    """The output_padding with which conv_transpose2d maps conv2d's output size back to (H, W)."""
    (kH, kW), (sh, sw), (ph, pw), (dh, dw) = (
        R.pair(k),
        R.pair(stride),
        R.pair(padding),
        R.pair(dilation),
    )
    Ho, Wo = R.conv_out_len(H, kH, sh, ph, dh), R.conv_out_len(W, kW, sw, pw, dw)
    oph = H - R.conv_transpose_out_len(Ho, kH, sh, ph, 0, dh)
    opw = W - R.conv_transpose_out_len(Wo, kW, sw, pw, 0, dw)
    return (oph, opw)


def _np(a):
    return None if a is None else backend.to_numpy(a)


# ------------------------------------------------------------------ conv2d vs naive loops
@pytest.mark.parametrize("case", CONV_CASES, ids=_case_id)
def test_conv2d_forward_backward_match_naive_loops(case, to_dev):
    """Forward and backward vs the float64 loops of tests/reference.py (error < 1e-9)."""
    x, w, b = _conv_arrays(case)
    p = _params(case)
    y, cache = F.conv2d_forward(to_dev(x), to_dev(w), None if b is None else to_dev(b), **p)
    y_ref = R.conv2d_naive(x, w, b, **p)
    R.assert_close(_np(y), y_ref, 1e-9)

    dy = np.random.default_rng(1).standard_normal(y_ref.shape)
    dx, dw, db = F.conv2d_backward(to_dev(dy), cache)
    dx_ref, dw_ref, db_ref = R.conv2d_backward_naive(dy, x, w, **p)
    R.assert_close(_np(dx), dx_ref, 1e-9)
    R.assert_close(_np(dw), dw_ref, 1e-9)
    if b is None:
        assert db is None
    else:
        R.assert_close(_np(db), db_ref, 1e-9)


@pytest.mark.parametrize("case", CONVT_CASES, ids=_case_id)
def test_conv_transpose2d_forward_backward_match_naive_loops(case, to_dev):
    """Forward (scatter definition) and backward vs tests/reference.py loops (< 1e-9)."""
    x, w, b = _conv_arrays(case, transposed=True)
    p = _params(case)
    y, cache = F.conv_transpose2d_forward(
        to_dev(x), to_dev(w), None if b is None else to_dev(b), **p
    )
    y_ref = R.conv_transpose2d_naive(x, w, b, **p)
    R.assert_close(_np(y), y_ref, 1e-9)

    dy = np.random.default_rng(1).standard_normal(y_ref.shape)
    dx, dw, db = F.conv_transpose2d_backward(to_dev(dy), cache)
    p.pop("output_padding")
    dx_ref, dw_ref, db_ref = R.conv_transpose2d_backward_naive(dy, x, w, **p)
    R.assert_close(_np(dx), dx_ref, 1e-9)
    R.assert_close(_np(dw), dw_ref, 1e-9)
    if b is None:
        assert db is None
    else:
        R.assert_close(_np(db), db_ref, 1e-9)


def test_conv2d_identity_kernel_copies_input(to_dev, rng):
    """A 1x1 kernel equal to the identity matrix over channels returns x itself."""
    x = rng.standard_normal((2, 3, 5, 4))
    w = np.eye(3).reshape(3, 3, 1, 1)
    y, _ = F.conv2d_forward(to_dev(x), to_dev(w))
    np.testing.assert_array_equal(_np(y), x)


def test_conv2d_hand_computed_example(to_dev):
    """A 3x3 input and a 2x2 kernel, the four outputs worked out by hand."""
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)  # [[1,2,3],[4,5,6],[7,8,9]]
    w = np.array([[1.0, 0.0], [0.0, -1.0]]).reshape(1, 1, 2, 2)
    y, _ = F.conv2d_forward(to_dev(x), to_dev(w), to_dev(np.array([10.0])))
    # each output is x[i,j] - x[i+1,j+1] + 10 = -4 + 10
    np.testing.assert_array_equal(_np(y), np.full((1, 1, 2, 2), 6.0))


def test_conv_transpose2d_lecture_stride2_pad1_upsamples_2x2_to_4x4(to_dev, rng):
    """The lecture's "3x3 transpose convolution, stride 2 pad 1": input 2x2 -> output 4x4
    (with output_padding=1, as PyTorch needs for an exact doubling), vs the naive scatter."""
    x = rng.standard_normal((1, 1, 2, 2))
    w = rng.standard_normal((1, 1, 3, 3))
    y, _ = F.conv_transpose2d_forward(to_dev(x), to_dev(w), stride=2, padding=1, output_padding=1)
    assert _np(y).shape == (1, 1, 4, 4)
    R.assert_close(_np(y), R.conv_transpose2d_naive(x, w, None, 2, 1, 1), 1e-12)


# ------------------------------------------------------------------ int vs pair parameters
def test_int_and_pair_parameters_are_equivalent(to_dev, rng):
    """stride=2 and stride=(2, 2) (and so on for every parameter) give identical results."""
    x = rng.standard_normal((1, 2, 9, 8))
    w = rng.standard_normal((3, 2, 3, 3))
    y1, _ = F.conv2d_forward(to_dev(x), to_dev(w), stride=2, padding=1, dilation=2)
    y2, _ = F.conv2d_forward(to_dev(x), to_dev(w), stride=(2, 2), padding=(1, 1), dilation=(2, 2))
    np.testing.assert_array_equal(_np(y1), _np(y2))

    wT = rng.standard_normal((2, 3, 3, 3))
    z1, _ = F.conv_transpose2d_forward(
        to_dev(x), to_dev(wT), stride=2, padding=1, output_padding=1, dilation=2
    )
    z2, _ = F.conv_transpose2d_forward(
        to_dev(x), to_dev(wT), stride=(2, 2), padding=(1, 1), output_padding=(1, 1), dilation=(2, 2)
    )
    np.testing.assert_array_equal(_np(z1), _np(z2))


def test_pair_parameters_act_on_the_right_axes(to_dev, rng):
    """stride=(1, 3): rows keep stride 1, columns stride 3 (checked against the naive loops)."""
    x = rng.standard_normal((1, 1, 6, 9))
    w = rng.standard_normal((1, 1, 2, 3))
    y, _ = F.conv2d_forward(to_dev(x), to_dev(w), stride=(1, 3), padding=(0, 2), dilation=(2, 1))
    y_ref = R.conv2d_naive(x, w, None, (1, 3), (0, 2), (2, 1))
    assert _np(y).shape == y_ref.shape == (1, 1, 4, 4)
    R.assert_close(_np(y), y_ref, 1e-12)


# ------------------------------------------------------------------ finite differences
FD_CONV = [
    dict(N=2, Ci=2, Co=3, H=5, W=6, k=(3, 3), stride=1, padding=1, dilation=1, bias=True),
    dict(N=1, Ci=2, Co=2, H=7, W=6, k=(3, 2), stride=2, padding=(1, 0), dilation=1, bias=True),
    dict(
        N=2, Ci=1, Co=2, H=7, W=7, k=(2, 3), stride=(1, 2), padding=2, dilation=(2, 3), bias=False
    ),
    dict(N=1, Ci=3, Co=2, H=6, W=5, k=(3, 3), stride=3, padding=1, dilation=2, bias=True),
]
FD_CONVT = [
    dict(
        N=2,
        Ci=2,
        Co=3,
        H=3,
        W=4,
        k=(3, 3),
        stride=1,
        padding=1,
        output_padding=0,
        dilation=1,
        bias=True,
    ),
    dict(
        N=1,
        Ci=2,
        Co=2,
        H=3,
        W=3,
        k=(3, 3),
        stride=2,
        padding=1,
        output_padding=1,
        dilation=1,
        bias=True,
    ),
    dict(
        N=1,
        Ci=3,
        Co=2,
        H=4,
        W=3,
        k=(2, 3),
        stride=(3, 2),
        padding=(0, 2),
        output_padding=(2, 1),
        dilation=(1, 2),
        bias=False,
    ),
    dict(
        N=2,
        Ci=1,
        Co=2,
        H=3,
        W=3,
        k=(3, 2),
        stride=1,
        padding=1,
        output_padding=(1, 2),
        dilation=(2, 3),
        bias=True,
    ),
]


def _check_fd(forward, backward, case, transposed, to_dev):
    x, w, b = _conv_arrays(case, seed=7, transposed=transposed)
    p = _params(case)

    def run(xx, ww, bb):
        y, _ = forward(to_dev(xx), to_dev(ww), None if bb is None else to_dev(bb), **p)
        return _np(y)

    y0 = run(x, w, b)
    dy = np.random.default_rng(8).standard_normal(y0.shape)
    _, cache = forward(to_dev(x), to_dev(w), None if b is None else to_dev(b), **p)
    dx, dw, db = backward(to_dev(dy), cache)

    R.assert_close(_np(dx), R.num_grad_array(lambda v: run(v, w, b), x, dy), 1e-6)
    R.assert_close(_np(dw), R.num_grad_array(lambda v: run(x, v, b), w, dy), 1e-6)
    if b is None:
        assert db is None
    else:
        R.assert_close(_np(db), R.num_grad_array(lambda v: run(x, w, v), b, dy), 1e-6)


@pytest.mark.parametrize("case", FD_CONV, ids=_case_id)
def test_conv2d_backward_matches_finite_differences(case, to_dev):
    """dx, dw, db of conv2d vs float64 central differences (error < 1e-6)."""
    _check_fd(F.conv2d_forward, F.conv2d_backward, case, False, to_dev)


@pytest.mark.parametrize("case", FD_CONVT, ids=_case_id)
def test_conv_transpose2d_backward_matches_finite_differences(case, to_dev):
    """dx, dw, db of conv_transpose2d vs float64 central differences (error < 1e-6)."""
    _check_fd(F.conv_transpose2d_forward, F.conv_transpose2d_backward, case, True, to_dev)


# ------------------------------------------------------------------ adjoint / duality
@pytest.mark.parametrize("case", CONV_CASES[::3], ids=_case_id)
def test_adjoint_identity_conv2d_conv_transpose2d(case, to_dev):
    """<conv2d(x, w), y> == <x, conv_transpose2d(y, w)> with the output_padding restoring (H, W)."""
    x, w, _ = _conv_arrays(case)
    p = _params(case)
    op = _restoring_output_padding(case["H"], case["W"], case["k"], **p)
    cx, _ = F.conv2d_forward(to_dev(x), to_dev(w), **p)
    y = np.random.default_rng(3).standard_normal(_np(cx).shape)
    cty, _ = F.conv_transpose2d_forward(to_dev(y), to_dev(w), output_padding=op, **p)
    assert _np(cty).shape == x.shape
    lhs = float(np.sum(_np(cx) * y))
    rhs = float(np.sum(x * _np(cty)))
    assert abs(lhs - rhs) <= 1e-9 * (np.sum(np.abs(_np(cx) * y)) + 1e-30)


@pytest.mark.parametrize("case", CONV_CASES[1::3], ids=_case_id)
def test_conv2d_backward_dx_is_conv_transpose2d_of_dy(case, to_dev):
    """The duality: conv2d_backward's dx == conv_transpose2d_forward(dy, w) (same params,
    restoring output_padding), and conv_transpose2d_backward's dx == conv2d_forward(dy, w)."""
    x, w, _ = _conv_arrays(case)
    p = _params(case)
    op = _restoring_output_padding(case["H"], case["W"], case["k"], **p)
    y, cache = F.conv2d_forward(to_dev(x), to_dev(w), **p)
    dy = np.random.default_rng(5).standard_normal(_np(y).shape)
    dx, _, _ = F.conv2d_backward(to_dev(dy), cache)
    ct, _ = F.conv_transpose2d_forward(to_dev(dy), to_dev(w), output_padding=op, **p)
    R.assert_close(_np(dx), _np(ct), 1e-12)

    # the other direction: conv_transpose2d(y) with weight w, its dx is conv2d(dz, w)
    z, cacheT = F.conv_transpose2d_forward(to_dev(dy), to_dev(w), output_padding=op, **p)
    dz = np.random.default_rng(6).standard_normal(_np(z).shape)
    dyy, _, _ = F.conv_transpose2d_backward(to_dev(dz), cacheT)
    c2, _ = F.conv2d_forward(to_dev(dz), to_dev(w), **p)
    R.assert_close(_np(dyy), _np(c2), 1e-12)


# ------------------------------------------------------------------ dtypes and devices
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_preserves_dtype_and_array_type(dtype, to_dev, rng):
    """Outputs and gradients keep the input dtype and array library; float32 agrees with
    the float64 loops to 1e-4."""
    x = rng.standard_normal((2, 3, 7, 6)).astype(dtype)
    w = rng.standard_normal((2, 3, 3, 2)).astype(dtype)
    b = rng.standard_normal(2).astype(dtype)
    xd = to_dev(x)
    y, cache = F.conv2d_forward(xd, to_dev(w), to_dev(b), stride=2, padding=1, dilation=(1, 2))
    assert y.dtype == dtype and type(y) is type(xd)
    tol = 1e-4 if dtype == np.float32 else 1e-9
    R.assert_close(_np(y), R.conv2d_naive(x, w, b, 2, 1, (1, 2)), tol)
    dy = rng.standard_normal(y.shape).astype(dtype)
    grads = F.conv2d_backward(to_dev(dy), cache)
    for g in grads:
        assert g.dtype == dtype and type(g) is type(xd)
    for g, ref in zip(grads, R.conv2d_backward_naive(dy, x, w, 2, 1, (1, 2)), strict=True):
        R.assert_close(_np(g), ref, tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_transpose2d_preserves_dtype_and_array_type(dtype, to_dev, rng):
    """Same for the transposed convolution."""
    x = rng.standard_normal((2, 3, 4, 3)).astype(dtype)
    w = rng.standard_normal((3, 2, 3, 3)).astype(dtype)
    b = rng.standard_normal(2).astype(dtype)
    xd = to_dev(x)
    y, cache = F.conv_transpose2d_forward(
        xd, to_dev(w), to_dev(b), stride=2, padding=1, output_padding=1
    )
    assert y.dtype == dtype and type(y) is type(xd)
    tol = 1e-4 if dtype == np.float32 else 1e-9
    R.assert_close(_np(y), R.conv_transpose2d_naive(x, w, b, 2, 1, 1), tol)
    dy = rng.standard_normal(y.shape).astype(dtype)
    grads = F.conv_transpose2d_backward(to_dev(dy), cache)
    for g in grads:
        assert g.dtype == dtype and type(g) is type(xd)
    for g, ref in zip(grads, R.conv_transpose2d_backward_naive(dy, x, w, 2, 1), strict=True):
        R.assert_close(_np(g), ref, tol)


def test_inputs_are_not_modified(to_dev, rng):
    """Forward and backward leave x, w, b and dy untouched."""
    x = rng.standard_normal((1, 2, 5, 5))
    w = rng.standard_normal((2, 2, 3, 3))
    b = rng.standard_normal(2)
    dy = rng.standard_normal((1, 2, 3, 3))
    copies = [a.copy() for a in (x, w, b, dy)]
    xd, wd, bd, dyd = (to_dev(a) for a in (x, w, b, dy))
    _, cache = F.conv2d_forward(xd, wd, bd, stride=2, padding=1)
    F.conv2d_backward(dyd, cache)
    for a, c in zip((xd, wd, bd, dyd), copies, strict=True):
        np.testing.assert_array_equal(_np(a), c)


# ------------------------------------------------------------------ torch (optional)
TORCH_CONV = [
    dict(N=2, Ci=3, Co=4, H=9, W=7, k=(3, 3), stride=1, padding=1, dilation=1, bias=True),
    dict(
        N=1,
        Ci=2,
        Co=3,
        H=8,
        W=9,
        k=(3, 2),
        stride=(2, 3),
        padding=(1, 2),
        dilation=(2, 1),
        bias=True,
    ),
    dict(N=2, Ci=1, Co=2, H=9, W=9, k=(1, 4), stride=3, padding=0, dilation=(1, 2), bias=False),
]
TORCH_CONVT = [
    dict(
        N=2,
        Ci=3,
        Co=2,
        H=4,
        W=3,
        k=(3, 3),
        stride=2,
        padding=1,
        output_padding=1,
        dilation=1,
        bias=True,
    ),
    dict(
        N=1,
        Ci=2,
        Co=3,
        H=3,
        W=4,
        k=(2, 3),
        stride=(3, 1),
        padding=(1, 0),
        output_padding=(2, 1),
        dilation=(1, 2),
        bias=True,
    ),
    dict(
        N=2,
        Ci=1,
        Co=2,
        H=4,
        W=4,
        k=(4, 4),
        stride=2,
        padding=1,
        output_padding=0,
        dilation=1,
        bias=False,
    ),
]


@pytest.mark.parametrize("case", TORCH_CONV, ids=_case_id)
def test_conv2d_matches_torch(case, to_dev):
    """Forward and backward vs torch.nn.functional.conv2d + autograd in float64 (< 1e-9)."""
    torch = pytest.importorskip("torch")
    x, w, b = _conv_arrays(case, seed=11)
    p = _params(case)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    bt = None if b is None else torch.tensor(b, requires_grad=True)
    yt = torch.nn.functional.conv2d(xt, wt, bt, p["stride"], p["padding"], p["dilation"])
    dy = np.random.default_rng(12).standard_normal(tuple(yt.shape))
    yt.backward(torch.tensor(dy))

    y, cache = F.conv2d_forward(to_dev(x), to_dev(w), None if b is None else to_dev(b), **p)
    R.assert_close(_np(y), yt.detach().numpy(), 1e-9)
    dx, dw, db = F.conv2d_backward(to_dev(dy), cache)
    R.assert_close(_np(dx), xt.grad.numpy(), 1e-9)
    R.assert_close(_np(dw), wt.grad.numpy(), 1e-9)
    if b is not None:
        R.assert_close(_np(db), bt.grad.numpy(), 1e-9)


@pytest.mark.parametrize("case", TORCH_CONVT, ids=_case_id)
def test_conv_transpose2d_matches_torch(case, to_dev):
    """Forward and backward vs torch.nn.functional.conv_transpose2d + autograd (< 1e-9)."""
    torch = pytest.importorskip("torch")
    x, w, b = _conv_arrays(case, seed=13, transposed=True)
    p = _params(case)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    bt = None if b is None else torch.tensor(b, requires_grad=True)
    yt = torch.nn.functional.conv_transpose2d(
        xt, wt, bt, p["stride"], p["padding"], p["output_padding"], 1, p["dilation"]
    )
    dy = np.random.default_rng(14).standard_normal(tuple(yt.shape))
    yt.backward(torch.tensor(dy))

    y, cache = F.conv_transpose2d_forward(
        to_dev(x), to_dev(w), None if b is None else to_dev(b), **p
    )
    R.assert_close(_np(y), yt.detach().numpy(), 1e-9)
    dx, dw, db = F.conv_transpose2d_backward(to_dev(dy), cache)
    R.assert_close(_np(dx), xt.grad.numpy(), 1e-9)
    R.assert_close(_np(dw), wt.grad.numpy(), 1e-9)
    if b is not None:
        R.assert_close(_np(db), bt.grad.numpy(), 1e-9)


# ------------------------------------------------------------------ bad input
def _ok():
    rng = np.random.default_rng(0)
    return (
        rng.standard_normal((2, 3, 6, 6)),
        rng.standard_normal((4, 3, 3, 3)),
        rng.standard_normal(4),
    )


def _okT():
    rng = np.random.default_rng(0)
    return (
        rng.standard_normal((2, 3, 4, 4)),
        rng.standard_normal((3, 4, 3, 3)),
        rng.standard_normal(4),
    )


@pytest.mark.parametrize(
    "fwd, make",
    [(F.conv2d_forward, _ok), (F.conv_transpose2d_forward, _okT)],
    ids=["conv2d", "conv_transpose2d"],
)
class TestBadInputBothOps:
    """Errors shared by conv2d_forward and conv_transpose2d_forward; each message names the
    argument at fault."""

    def test_x_not_4d(self, fwd, make):
        x, w, b = make()
        with pytest.raises(ValueError, match=r"\bx\b"):
            fwd(x[0], w, b)
        with pytest.raises(ValueError, match=r"\bx\b"):
            fwd(x[None], w, b)

    def test_w_not_4d(self, fwd, make):
        x, w, b = make()
        with pytest.raises(ValueError, match=r"\bw\b"):
            fwd(x, w[0], b)
        with pytest.raises(ValueError, match=r"\bw\b"):
            fwd(x, w.reshape(w.shape[0], -1), b)

    def test_channel_mismatch(self, fwd, make):
        x, w, b = make()
        with pytest.raises(ValueError, match=r"(?i)channel"):
            fwd(x[:, :2], w, b)

    def test_bias_wrong_length_or_ndim(self, fwd, make):
        x, w, b = make()
        with pytest.raises(ValueError, match=r"\bb\b"):
            fwd(x, w, b[:-1])
        with pytest.raises(ValueError, match=r"\bb\b"):
            fwd(x, w, b[:, None])

    def test_negative_padding(self, fwd, make):
        x, w, b = make()
        with pytest.raises(ValueError, match="padding"):
            fwd(x, w, b, padding=-1)
        with pytest.raises(ValueError, match="padding"):
            fwd(x, w, b, padding=(0, -1))

    @pytest.mark.parametrize("name", ["stride", "dilation"])
    @pytest.mark.parametrize("value", [0, -1, (1, 0), (-2, 1)])
    def test_non_positive_stride_or_dilation(self, fwd, make, name, value):
        x, w, b = make()
        with pytest.raises(ValueError, match=name):
            fwd(x, w, b, **{name: value})

    @pytest.mark.parametrize("name", ["stride", "padding", "dilation"])
    @pytest.mark.parametrize("value", [True, 1.0, (1, 1.5), (False, 1)])
    def test_bool_or_float_parameter_is_type_error(self, fwd, make, name, value):
        x, w, b = make()
        with pytest.raises(TypeError, match=name):
            fwd(x, w, b, **{name: value})

    def test_integer_arrays_are_type_errors(self, fwd, make):
        x, w, b = make()
        with pytest.raises(TypeError, match=r"(?i)dtype|float"):
            fwd(x.astype(np.int64), w, b)
        with pytest.raises(TypeError, match=r"(?i)dtype|float"):
            fwd(x, w.astype(np.int32), b)
        with pytest.raises(TypeError, match=r"(?i)dtype|float"):
            fwd(x, w, b.astype(np.int64))

    def test_float32_float64_mixed_is_type_error(self, fwd, make):
        x, w, b = make()
        with pytest.raises(TypeError, match=r"(?i)dtype|float"):
            fwd(x.astype(np.float32), w, b)
        with pytest.raises(TypeError, match=r"(?i)dtype|float"):
            fwd(x, w, b.astype(np.float32))

    def test_numpy_cupy_mixed_is_type_error(self, fwd, make):
        if not backend.gpu_available():
            pytest.skip("needs CuPy and a GPU")
        x, w, b = make()
        with pytest.raises(TypeError):
            fwd(backend.to_device(x, "gpu"), w, b)
        with pytest.raises(TypeError):
            fwd(x, backend.to_device(w, "gpu"), b)


def test_conv2d_non_positive_output_size():
    """A kernel (with dilation) larger than the padded input is a ValueError."""
    x, w, b = _ok()  # 6x6 input, 3x3 kernel
    with pytest.raises(ValueError, match=r"(?i)output|size"):
        F.conv2d_forward(x, w, b, dilation=3)  # effective kernel 7 > 6
    with pytest.raises(ValueError, match=r"(?i)output|size"):
        F.conv2d_forward(x[:, :, :2, :], w, b)  # H = 2 < 3


def test_conv_transpose2d_non_positive_output_size():
    """Padding that crops the whole output is a ValueError."""
    x, w, b = _okT()
    with pytest.raises(ValueError, match=r"(?i)output|size|padding"):
        F.conv_transpose2d_forward(x[:, :, :1, :1], w, b, padding=2)  # 0 - 4 + 2 + 1 = -1


@pytest.mark.parametrize(
    "stride, dilation, output_padding",
    [(1, 1, 1), (2, 1, 2), (2, 2, 2), (1, 2, (0, 2)), ((2, 1), 1, (0, 1)), (1, 1, -1)],
)
def test_conv_transpose2d_output_padding_too_large(stride, dilation, output_padding):
    """output_padding must be smaller than stride or dilation (per axis), and non-negative."""
    x, w, b = _okT()
    with pytest.raises(ValueError, match="output_padding"):
        F.conv_transpose2d_forward(
            x, w, b, stride=stride, dilation=dilation, output_padding=output_padding
        )


def test_conv_transpose2d_output_padding_allowed_by_dilation():
    """output_padding may reach stride when it is smaller than dilation (PyTorch's rule)."""
    x, w, _ = _okT()
    y, _ = F.conv_transpose2d_forward(x, w, stride=1, dilation=2, output_padding=1)
    R.assert_close(_np(y), R.conv_transpose2d_naive(x, w, None, 1, 0, 1, 2), 1e-9)


def test_conv_transpose2d_output_padding_bool_is_type_error():
    x, w, b = _okT()
    with pytest.raises(TypeError, match="output_padding"):
        F.conv_transpose2d_forward(x, w, b, stride=2, output_padding=True)


@pytest.mark.parametrize(
    "fwd, bwd, make",
    [
        (F.conv2d_forward, F.conv2d_backward, _ok),
        (F.conv_transpose2d_forward, F.conv_transpose2d_backward, _okT),
    ],
    ids=["conv2d", "conv_transpose2d"],
)
def test_backward_dy_wrong_shape(fwd, bwd, make):
    """A dy whose shape differs from the forward output is a ValueError naming dy."""
    x, w, b = make()
    y, cache = fwd(x, w, b)
    with pytest.raises(ValueError, match=r"\bdy\b"):
        bwd(np.zeros(y.shape[:-1] + (y.shape[-1] + 1,)), cache)
    with pytest.raises(ValueError, match=r"\bdy\b"):
        bwd(np.zeros(y.shape[1:]), cache)
