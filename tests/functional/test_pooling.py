"""Tests of max pooling, max unpooling and adaptive (average / max) pooling.

Independent references used (never the library against itself):

* ``tests/reference_resample.py``: naive float64 loops from the definitions (windows over the
  -inf-padded input, first maximum wins, indices into the unpadded ``H*W`` plane; adaptive
  bins ``[floor(i*H/out), ceil((i+1)*H/out))``; unpooling as a scatter, its backward a gather);
* the lecture's worked examples, by hand;
* central finite differences from ``tests/reference.py`` (``num_grad_array``) on inputs with
  distinct, well-separated values (no argmax can flip under the perturbation);
* ``torch.nn.functional`` (only where ``torch`` is importable).

Thresholds: float64 vs loops, scale-normalised max error < 1e-12; finite differences < 1e-6;
float32 vs the float64 reference < 1e-5. Indices must agree exactly.
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


def _distinct(shape, seed=0, spacing=0.1):
    """Distinct values (a shuffled arithmetic progression, centred): no ties anywhere, and
    neighbours in value at least ``spacing`` apart, so finite differences never flip an argmax."""
    size = int(np.prod(shape))
    perm = np.random.default_rng(seed).permutation(size).astype(np.float64)
    return ((perm - size / 2) * spacing).reshape(shape)


# ============================================================================ max pool
def _pool_cases(count=40, seed=2024):
    rng = np.random.default_rng(seed)
    cases = [  # the required kinds, always present
        dict(N=2, C=3, H=7, W=7, k=3, stride=1, padding=1),
        dict(N=2, C=2, H=7, W=6, k=3, stride=2, padding=1),
        dict(N=1, C=3, H=9, W=5, k=3, stride=2, padding=0),
        dict(N=2, C=1, H=5, W=8, k=(3, 2), stride=(1, 2), padding=(1, 0)),
        dict(N=1, C=2, H=6, W=6, k=2, stride=None, padding=0),
        dict(N=2, C=2, H=1, W=1, k=1, stride=1, padding=0),
        dict(N=1, C=1, H=3, W=4, k=(3, 4), stride=None, padding=(1, 2)),
    ]
    while len(cases) < count:
        N, C = int(rng.integers(1, 3)), int(rng.integers(1, 4))
        H, W = (int(v) for v in rng.integers(1, 10, 2))
        kH, kW = (int(v) for v in rng.integers(1, 5, 2))
        sH, sW = (int(v) for v in rng.integers(1, 4, 2))
        pH, pW = int(rng.integers(0, kH // 2 + 1)), int(rng.integers(0, kW // 2 + 1))
        if RR.pool_out_len(H, kH, sH, pH) < 1 or RR.pool_out_len(W, kW, sW, pW) < 1:
            continue
        k = kH if kH == kW and rng.random() < 0.5 else (kH, kW)
        s = sH if sH == sW and rng.random() < 0.5 else (sH, sW)
        if rng.random() < 0.15:
            s, sH, sW = None, kH, kW
            if RR.pool_out_len(H, kH, sH, pH) < 1 or RR.pool_out_len(W, kW, sW, pW) < 1:
                continue
        p = pH if pH == pW and rng.random() < 0.5 else (pH, pW)
        cases.append(dict(N=N, C=C, H=H, W=W, k=k, stride=s, padding=p))
    return cases


def _pool_id(c):
    return f"n{c['N']}c{c['C']}-{c['H']}x{c['W']}-k{c['k']}-s{c['stride']}-p{c['padding']}".replace(
        " ", ""
    )


POOL_CASES = _pool_cases()


def _pool_params(c):
    return dict(kernel_size=c["k"], stride=c["stride"], padding=c["padding"])


def test_max_pool2d_lecture_example(to_dev):
    """2x2 max pooling, stride 2, of the lecture's 4x4 input gives [[5, 6], [7, 8]]."""
    x = np.array([[1, 2, 6, 3], [3, 5, 2, 1], [1, 2, 2, 1], [7, 3, 4, 8]], float)[None, None]
    y, idx, _ = F.max_pool2d_forward(to_dev(x), 2, 2, return_indices=True)
    np.testing.assert_array_equal(_np(y)[0, 0], [[5, 6], [7, 8]])
    # positions of 5, 6, 7, 8 in the flattened 4x4 plane
    np.testing.assert_array_equal(_np(idx)[0, 0], [[5, 2], [12, 15]])
    y2, _ = F.max_pool2d_forward(to_dev(x), 2)  # stride defaults to the kernel size
    np.testing.assert_array_equal(_np(y2), _np(y))


@pytest.mark.parametrize("case", POOL_CASES, ids=_pool_id)
def test_max_pool2d_matches_naive_loops(case, to_dev):
    """Forward values, int64 indices and backward (dy routed to the argmax, accumulated)
    vs the loops; random normal input."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((case["N"], case["C"], case["H"], case["W"]))
    p = _pool_params(case)
    y, idx, cache = F.max_pool2d_forward(to_dev(x), return_indices=True, **p)
    y_ref, idx_ref = RR.max_pool2d_naive(x, case["k"], case["stride"], case["padding"])
    R.assert_close(_np(y), y_ref, 1e-12)
    assert _np(idx).dtype == np.int64
    np.testing.assert_array_equal(_np(idx), idx_ref)

    dy = rng.standard_normal(y_ref.shape)
    dx = F.max_pool2d_backward(to_dev(dy), cache)
    R.assert_close(_np(dx), RR.max_pool2d_backward_naive(dy, idx_ref, x.shape), 1e-12)

    # without return_indices: the same values and the same gradient
    y2, cache2 = F.max_pool2d_forward(to_dev(x), **p)
    R.assert_close(_np(y2), y_ref, 1e-12)
    R.assert_close(_np(F.max_pool2d_backward(to_dev(dy), cache2)), _np(dx), 1e-12)


@pytest.mark.parametrize("case", POOL_CASES[:12], ids=_pool_id)
def test_max_pool2d_ties_resolve_to_first_maximum(case, to_dev):
    """Inputs with many ties (values in {0, 1, 2}): the index is the first maximum in
    row-major window order, and the gradient goes there only."""
    rng = np.random.default_rng(8)
    x = rng.integers(0, 3, (case["N"], case["C"], case["H"], case["W"])).astype(np.float64)
    y, idx, cache = F.max_pool2d_forward(to_dev(x), return_indices=True, **_pool_params(case))
    y_ref, idx_ref = RR.max_pool2d_naive(x, case["k"], case["stride"], case["padding"])
    np.testing.assert_array_equal(_np(y), y_ref)
    np.testing.assert_array_equal(_np(idx), idx_ref)
    dy = rng.standard_normal(y_ref.shape)
    R.assert_close(
        _np(F.max_pool2d_backward(to_dev(dy), cache)),
        RR.max_pool2d_backward_naive(dy, idx_ref, x.shape),
        1e-12,
    )


def test_max_pool2d_all_equal_window_picks_top_left(to_dev):
    """A constant input: every window's index is its first (top-left) in-bounds element."""
    x = np.ones((1, 1, 4, 4))
    _, idx, _ = F.max_pool2d_forward(to_dev(x), 2, 2, return_indices=True)
    np.testing.assert_array_equal(_np(idx)[0, 0], [[0, 2], [8, 10]])
    _, idx, _ = F.max_pool2d_forward(to_dev(x), 3, 2, 1, return_indices=True)
    # windows start at padded (-1, -1), (-1, 1), (1, -1), (1, 1): first real pixel of each
    np.testing.assert_array_equal(_np(idx)[0, 0], [[0, 1], [4, 5]])


def test_max_pool2d_minus_infinity_inputs_point_into_the_image(to_dev):
    """Windows whose pixels are all -inf (with -inf padding around them) still name a pixel of
    the image: the first one of the window, as the loops and PyTorch do; never the padding."""
    x = np.full((1, 2, 5, 4), -np.inf)
    x[0, 1, 2:, 1:] = np.arange(9.0).reshape(3, 3)
    y, idx, cache = F.max_pool2d_forward(to_dev(x), 3, 2, 1, return_indices=True)
    y_ref, idx_ref = RR.max_pool2d_naive(x, 3, 2, 1)
    np.testing.assert_array_equal(_np(y), y_ref)
    np.testing.assert_array_equal(_np(idx), idx_ref)
    np.testing.assert_array_equal(_np(idx)[0, 0], [[0, 1], [4, 5], [12, 13]])
    dy = np.ones(y_ref.shape)
    dx = _np(F.max_pool2d_backward(to_dev(dy), cache))
    np.testing.assert_array_equal(dx, RR.max_pool2d_backward_naive(dy, idx_ref, x.shape))


def test_max_pool2d_backward_overlapping_windows_accumulate(to_dev):
    """One large value covered by all four 2x2 windows (stride 1) of a 3x3 input receives the
    SUM of their dy (1+2+3+4 = 10), not the last one written."""
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 10.0
    x[0, 0] -= np.arange(9).reshape(3, 3) * 0.01  # distinct everywhere else
    x[0, 0, 1, 1] = 10.0
    y, idx, cache = F.max_pool2d_forward(to_dev(x), 2, 1, return_indices=True)
    np.testing.assert_array_equal(_np(idx)[0, 0], [[4, 4], [4, 4]])
    dy = np.array([[1.0, 2.0], [3.0, 4.0]])[None, None]
    dx = _np(F.max_pool2d_backward(to_dev(dy), cache))
    expected = np.zeros((1, 1, 3, 3))
    expected[0, 0, 1, 1] = 10.0
    np.testing.assert_array_equal(dx, expected)

    # 3x3 windows, stride 1, padding 1 on a 3x3 input: all 9 windows see the centre
    _, cache = F.max_pool2d_forward(to_dev(x), 3, 1, 1)
    dy = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    dx = _np(F.max_pool2d_backward(to_dev(dy), cache))
    np.testing.assert_array_equal(dx, 45.0 * (expected / 10.0))


FD_POOL = [
    dict(N=1, C=2, H=5, W=5, k=3, stride=1, padding=1),
    dict(N=2, C=1, H=6, W=5, k=3, stride=2, padding=1),
    dict(N=1, C=1, H=5, W=7, k=(2, 3), stride=(1, 2), padding=(1, 1)),
    dict(N=1, C=2, H=4, W=4, k=2, stride=None, padding=0),
]


@pytest.mark.parametrize("case", FD_POOL, ids=_pool_id)
def test_max_pool2d_backward_matches_finite_differences(case, to_dev):
    """Overlapping windows on distinct-valued input: dx vs central differences (< 1e-6)."""
    x = _distinct((case["N"], case["C"], case["H"], case["W"]), seed=3)
    p = _pool_params(case)
    y, cache = F.max_pool2d_forward(to_dev(x), **p)
    dy = np.random.default_rng(4).standard_normal(_np(y).shape)
    dx = F.max_pool2d_backward(to_dev(dy), cache)
    num = R.num_grad_array(lambda v: _np(F.max_pool2d_forward(to_dev(v), **p)[0]), x, dy)
    R.assert_close(_np(dx), num, 1e-6)
    assert R.rel_error(_np(dx), num) < 1e-6


TORCH_POOL = [
    dict(N=2, C=3, H=9, W=7, k=3, stride=1, padding=1),
    dict(N=2, C=2, H=8, W=9, k=3, stride=2, padding=1),
    dict(N=1, C=2, H=7, W=10, k=(2, 4), stride=(3, 1), padding=(1, 2)),
]


@pytest.mark.parametrize("case", TORCH_POOL, ids=_pool_id)
def test_max_pool2d_matches_torch(case, to_dev):
    """Values, indices and the autograd gradient vs torch.nn.functional.max_pool2d, on random
    normal input and on an input full of ties (PyTorch's CPU rule: first maximum)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(21)
    shape = (case["N"], case["C"], case["H"], case["W"])
    p = _pool_params(case)
    for x in (rng.standard_normal(shape), rng.integers(0, 3, shape).astype(np.float64)):
        xt = torch.tensor(x, requires_grad=True)
        yt, it = torch.nn.functional.max_pool2d(xt, return_indices=True, **p)
        dy = rng.standard_normal(tuple(yt.shape))
        yt.backward(torch.tensor(dy))
        y, idx, cache = F.max_pool2d_forward(to_dev(x), return_indices=True, **p)
        R.assert_close(_np(y), yt.detach().numpy(), 1e-12)
        np.testing.assert_array_equal(_np(idx), it.numpy())
        R.assert_close(_np(F.max_pool2d_backward(to_dev(dy), cache)), xt.grad.numpy(), 1e-12)


# ========================================================================== max unpool
def test_max_unpool2d_lecture_example(to_dev):
    """Max-unpooling [[1, 2], [3, 4]] with the lecture's pooling indices."""
    x = np.array([[1, 2, 6, 3], [3, 5, 2, 1], [1, 2, 2, 1], [7, 3, 4, 8]], float)[None, None]
    _, idx, _ = F.max_pool2d_forward(to_dev(x), 2, 2, return_indices=True)
    v = np.array([[1.0, 2.0], [3.0, 4.0]])[None, None]
    y, _ = F.max_unpool2d_forward(to_dev(v), idx, 2, 2)
    np.testing.assert_array_equal(
        _np(y)[0, 0], [[0, 0, 2, 0], [0, 1, 0, 0], [0, 0, 0, 0], [3, 0, 0, 4]]
    )


def _unpool_cases(count=24, seed=99):
    rng = np.random.default_rng(seed)
    cases = [
        dict(N=2, C=3, H=3, W=2, k=2, stride=2, padding=0, output_size=None),
        dict(N=1, C=2, H=3, W=4, k=3, stride=2, padding=1, output_size=None),
        dict(N=2, C=1, H=2, W=3, k=(3, 2), stride=(2, 3), padding=(1, 0), output_size=(4, 9)),
        dict(N=1, C=2, H=2, W=2, k=2, stride=None, padding=0, output_size=(1, 2, 5, 5)),
    ]
    while len(cases) < count:
        N, C = int(rng.integers(1, 3)), int(rng.integers(1, 4))
        H, W = (int(v) for v in rng.integers(1, 5, 2))
        kH, kW = (int(v) for v in rng.integers(1, 4, 2))
        sH, sW = (int(v) for v in rng.integers(1, 4, 2))
        pH, pW = int(rng.integers(0, kH // 2 + 1)), int(rng.integers(0, kW // 2 + 1))
        Ho, Wo = (H - 1) * sH - 2 * pH + kH, (W - 1) * sW - 2 * pW + kW
        out = None
        if rng.random() < 0.4:
            Ho, Wo = Ho + int(rng.integers(0, sH)), Wo + int(rng.integers(0, sW))
            out = (Ho, Wo)
        if Ho < 1 or Wo < 1 or Ho * Wo < H * W:
            continue  # no room for distinct indices
        cases.append(
            dict(N=N, C=C, H=H, W=W, k=(kH, kW), stride=(sH, sW), padding=(pH, pW), output_size=out)
        )
    return cases


UNPOOL_CASES = _unpool_cases()


def _unpool_id(c):
    return (
        f"n{c['N']}c{c['C']}-{c['H']}x{c['W']}-k{c['k']}-s{c['stride']}-p{c['padding']}"
        f"-o{c['output_size']}"
    ).replace(" ", "")


def _unpool_out_hw(c):
    if c["output_size"] is not None:
        return tuple(c["output_size"][-2:])
    kH, kW = RR.pair(c["k"])
    sH, sW = RR.pair(c["k"] if c["stride"] is None else c["stride"])
    pH, pW = RR.pair(c["padding"])
    return (c["H"] - 1) * sH - 2 * pH + kH, (c["W"] - 1) * sW - 2 * pW + kW


def _distinct_indices(c, seed=0):
    """Per (n, c), H*W distinct positions of the output plane (any such set is valid)."""
    rng = np.random.default_rng(seed)
    Ho, Wo = _unpool_out_hw(c)
    idx = np.empty((c["N"], c["C"], c["H"] * c["W"]), np.int64)
    for n in range(c["N"]):
        for ch in range(c["C"]):
            idx[n, ch] = rng.choice(Ho * Wo, c["H"] * c["W"], replace=False)
    return idx.reshape(c["N"], c["C"], c["H"], c["W"])


def _unpool_params(c):
    return dict(
        kernel_size=c["k"], stride=c["stride"], padding=c["padding"], output_size=c["output_size"]
    )


@pytest.mark.parametrize("case", UNPOOL_CASES, ids=_unpool_id)
def test_max_unpool2d_matches_naive_loops(case, to_dev):
    """Scatter forward (default or given output size, (H, W) or (N, C, H, W)) and gather
    backward vs the loops."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((case["N"], case["C"], case["H"], case["W"]))
    idx = _distinct_indices(case, seed=6)
    out_hw = _unpool_out_hw(case)
    y, cache = F.max_unpool2d_forward(to_dev(x), to_dev(idx), **_unpool_params(case))
    R.assert_close(_np(y), RR.max_unpool2d_naive(x, idx, out_hw), 1e-12)
    dy = rng.standard_normal(_np(y).shape)
    dx = F.max_unpool2d_backward(to_dev(dy), cache)
    R.assert_close(_np(dx), RR.max_unpool2d_backward_naive(dy, idx), 1e-12)


def test_max_unpool2d_backward_is_a_gather_even_with_repeated_indices(to_dev):
    """dx = dy.flat[indices] per (n, c), also when overlapping pooling windows repeat an
    index (each copy reads the same dy entry)."""
    x = _distinct((2, 2, 6, 5), seed=12)
    _, idx, _ = F.max_pool2d_forward(to_dev(x), 3, 1, 1, return_indices=True)
    idx = _np(idx)
    assert any(len(np.unique(idx[n, c])) < idx[n, c].size for n in range(2) for c in range(2))
    pooled = RR.max_pool2d_naive(x, 3, 1, 1)[0]
    _, cache = F.max_unpool2d_forward(to_dev(pooled), to_dev(idx), 3, 1, 1, output_size=(6, 5))
    dy = np.random.default_rng(2).standard_normal((2, 2, 6, 5))
    dx = _np(F.max_unpool2d_backward(to_dev(dy), cache))
    gathered = np.take_along_axis(dy.reshape(2, 2, -1), idx.reshape(2, 2, -1), axis=2)
    np.testing.assert_array_equal(dx, gathered.reshape(idx.shape))


@pytest.mark.parametrize("hw, k, s, p", [((7, 5), 2, 2, 0), ((6, 7), 3, 2, 1), ((5, 5), 3, 3, 1)])
def test_max_pool_then_unpool_restores_maxima(hw, k, s, p, to_dev):
    """unpool(pool(x), indices, output_size=x.shape) keeps each window's maximum in place and
    zeros elsewhere (odd sizes need output_size); matches the loop references."""
    x = _distinct((2, 2, *hw), seed=1)
    y, idx, _ = F.max_pool2d_forward(to_dev(x), k, s, p, return_indices=True)
    u, _ = F.max_unpool2d_forward(y, idx, k, s, p, output_size=x.shape)
    u = _np(u)
    assert u.shape == x.shape
    y_ref, idx_ref = RR.max_pool2d_naive(x, k, s, p)
    R.assert_close(u, RR.max_unpool2d_naive(y_ref, idx_ref, hw), 1e-12)
    kept = u != 0
    np.testing.assert_array_equal(u[kept], x[kept])


@pytest.mark.parametrize("case", UNPOOL_CASES[:4], ids=_unpool_id)
def test_max_unpool2d_backward_matches_finite_differences(case, to_dev):
    x = np.random.default_rng(8).standard_normal((case["N"], case["C"], case["H"], case["W"]))
    idx = _distinct_indices(case, seed=9)
    p = _unpool_params(case)
    y, cache = F.max_unpool2d_forward(to_dev(x), to_dev(idx), **p)
    dy = np.random.default_rng(10).standard_normal(_np(y).shape)
    dx = F.max_unpool2d_backward(to_dev(dy), cache)
    num = R.num_grad_array(
        lambda v: _np(F.max_unpool2d_forward(to_dev(v), to_dev(idx), **p)[0]), x, dy
    )
    R.assert_close(_np(dx), num, 1e-6)
    assert R.rel_error(_np(dx), num) < 1e-6


@pytest.mark.parametrize("case", UNPOOL_CASES[:4], ids=_unpool_id)
def test_max_unpool2d_matches_torch(case, to_dev):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(31)
    x = rng.standard_normal((case["N"], case["C"], case["H"], case["W"]))
    idx = _distinct_indices(case, seed=32)
    p = _unpool_params(case)
    xt = torch.tensor(x, requires_grad=True)
    stride = case["k"] if case["stride"] is None else case["stride"]
    yt = torch.nn.functional.max_unpool2d(
        xt, torch.tensor(idx), case["k"], stride, case["padding"], case["output_size"]
    )
    dy = rng.standard_normal(tuple(yt.shape))
    yt.backward(torch.tensor(dy))
    y, cache = F.max_unpool2d_forward(to_dev(x), to_dev(idx), **p)
    R.assert_close(_np(y), yt.detach().numpy(), 1e-12)
    R.assert_close(_np(F.max_unpool2d_backward(to_dev(dy), cache)), xt.grad.numpy(), 1e-12)


# ====================================================================== adaptive pools
ADAPTIVE_CASES = [
    dict(N=2, C=2, H=7, W=7, out=3),  # non-divisible: overlapping bins
    dict(N=1, C=2, H=5, W=5, out=6),  # growing
    dict(N=1, C=2, H=60, W=60, out=1),  # the pyramid pooling module's bins
    dict(N=1, C=2, H=60, W=60, out=2),
    dict(N=1, C=2, H=60, W=60, out=3),
    dict(N=1, C=2, H=60, W=60, out=6),
    dict(N=2, C=3, H=7, W=5, out=(3, 4)),
    dict(N=1, C=1, H=9, W=4, out=(4, 7)),
    dict(N=2, C=1, H=1, W=1, out=(2, 3)),
    dict(N=1, C=2, H=6, W=8, out=(6, 8)),  # identity
    dict(N=1, C=1, H=11, W=13, out=(5, 4)),
    dict(N=2, C=2, H=4, W=3, out=(1, 3)),
]


def _ad_id(c):
    return f"n{c['N']}c{c['C']}-{c['H']}x{c['W']}-to{c['out']}".replace(" ", "")


@pytest.mark.parametrize("case", ADAPTIVE_CASES, ids=_ad_id)
def test_adaptive_avg_pool2d_matches_naive_loops(case, to_dev):
    x = np.random.default_rng(13).standard_normal((case["N"], case["C"], case["H"], case["W"]))
    y, cache = F.adaptive_avg_pool2d_forward(to_dev(x), case["out"])
    y_ref = RR.adaptive_avg_pool2d_naive(x, case["out"])
    R.assert_close(_np(y), y_ref, 1e-12)
    dy = np.random.default_rng(14).standard_normal(y_ref.shape)
    dx = F.adaptive_avg_pool2d_backward(to_dev(dy), cache)
    R.assert_close(_np(dx), RR.adaptive_avg_pool2d_backward_naive(dy, x.shape), 1e-12)


@pytest.mark.parametrize("case", ADAPTIVE_CASES, ids=_ad_id)
def test_adaptive_max_pool2d_matches_naive_loops(case, to_dev):
    """Values, indices (first max wins) and the gradient, which accumulates where bins overlap."""
    rng = np.random.default_rng(15)
    shape = (case["N"], case["C"], case["H"], case["W"])
    for x in (rng.standard_normal(shape), rng.integers(0, 3, shape).astype(np.float64)):
        y, idx, cache = F.adaptive_max_pool2d_forward(to_dev(x), case["out"], return_indices=True)
        y_ref, idx_ref = RR.adaptive_max_pool2d_naive(x, case["out"])
        R.assert_close(_np(y), y_ref, 1e-12)
        assert _np(idx).dtype == np.int64
        np.testing.assert_array_equal(_np(idx), idx_ref)
        dy = rng.standard_normal(y_ref.shape)
        dx = F.adaptive_max_pool2d_backward(to_dev(dy), cache)
        R.assert_close(_np(dx), RR.max_pool2d_backward_naive(dy, idx_ref, shape), 1e-12)
        y2, cache2 = F.adaptive_max_pool2d_forward(to_dev(x), case["out"])
        R.assert_close(_np(y2), y_ref, 1e-12)
        R.assert_close(_np(F.adaptive_max_pool2d_backward(to_dev(dy), cache2)), _np(dx), 1e-12)


def test_adaptive_pool_bins_by_hand(to_dev):
    """7 -> 3 along one axis: bins [0, 3), [2, 5), [4, 7) (overlapping at 2 and 4)."""
    x = np.arange(7.0)[None, None, None, :]  # (1, 1, 1, 7)
    y, cache = F.adaptive_avg_pool2d_forward(to_dev(x), (1, 3))
    np.testing.assert_allclose(_np(y)[0, 0, 0], [1.0, 3.0, 5.0], rtol=0, atol=1e-15)
    dx = _np(F.adaptive_avg_pool2d_backward(to_dev(np.ones((1, 1, 1, 3))), cache))
    np.testing.assert_allclose(dx[0, 0, 0], [1, 1, 2, 1, 2, 1, 1] / np.array(3.0), atol=1e-15)
    ym, idx, cache = F.adaptive_max_pool2d_forward(to_dev(x), (1, 3), return_indices=True)
    np.testing.assert_array_equal(_np(ym)[0, 0, 0], [2.0, 4.0, 6.0])
    np.testing.assert_array_equal(_np(idx)[0, 0, 0], [2, 4, 6])
    dx = _np(F.adaptive_max_pool2d_backward(to_dev(np.ones((1, 1, 1, 3))), cache))
    np.testing.assert_array_equal(dx[0, 0, 0], [0, 0, 1, 0, 1, 0, 1])


FD_ADAPTIVE = [
    dict(N=1, C=2, H=7, W=5, out=3),
    dict(N=2, C=1, H=4, W=5, out=(5, 3)),
    dict(N=1, C=1, H=6, W=6, out=(4, 1)),
]


@pytest.mark.parametrize("case", FD_ADAPTIVE, ids=_ad_id)
@pytest.mark.parametrize("kind", ["avg", "max"])
def test_adaptive_pool_backward_matches_finite_differences(case, kind, to_dev):
    x = _distinct((case["N"], case["C"], case["H"], case["W"]), seed=17)
    fwd = F.adaptive_avg_pool2d_forward if kind == "avg" else F.adaptive_max_pool2d_forward
    bwd = F.adaptive_avg_pool2d_backward if kind == "avg" else F.adaptive_max_pool2d_backward
    y, cache = fwd(to_dev(x), case["out"])
    dy = np.random.default_rng(18).standard_normal(_np(y).shape)
    dx = bwd(to_dev(dy), cache)
    num = R.num_grad_array(lambda v: _np(fwd(to_dev(v), case["out"])[0]), x, dy)
    R.assert_close(_np(dx), num, 1e-6)
    assert R.rel_error(_np(dx), num) < 1e-6


@pytest.mark.parametrize("case", ADAPTIVE_CASES, ids=_ad_id)
def test_adaptive_pools_match_torch(case, to_dev):
    torch = pytest.importorskip("torch")
    TF = torch.nn.functional
    rng = np.random.default_rng(41)
    x = rng.standard_normal((case["N"], case["C"], case["H"], case["W"]))
    out = case["out"]

    xt = torch.tensor(x, requires_grad=True)
    yt = TF.adaptive_avg_pool2d(xt, out)
    dy = rng.standard_normal(tuple(yt.shape))
    yt.backward(torch.tensor(dy))
    y, cache = F.adaptive_avg_pool2d_forward(to_dev(x), out)
    R.assert_close(_np(y), yt.detach().numpy(), 1e-12)
    R.assert_close(_np(F.adaptive_avg_pool2d_backward(to_dev(dy), cache)), xt.grad.numpy(), 1e-12)

    xt = torch.tensor(x, requires_grad=True)
    yt, it = TF.adaptive_max_pool2d(xt, out, return_indices=True)
    yt.backward(torch.tensor(dy))
    y, idx, cache = F.adaptive_max_pool2d_forward(to_dev(x), out, return_indices=True)
    R.assert_close(_np(y), yt.detach().numpy(), 1e-12)
    np.testing.assert_array_equal(_np(idx), it.numpy())
    R.assert_close(_np(F.adaptive_max_pool2d_backward(to_dev(dy), cache)), xt.grad.numpy(), 1e-12)


# ================================================================ dtypes and freshness
def _pool_ops():
    """(name, forward, backward) with the forward's parameters bound; input (2, 3, 6, 5)."""
    idx = _distinct_indices(
        dict(N=2, C=3, H=6, W=5, k=2, stride=2, padding=0, output_size=None), seed=1
    )
    return [
        ("max_pool2d", lambda x: F.max_pool2d_forward(x, 3, 2, 1), F.max_pool2d_backward),
        (
            "max_unpool2d",
            lambda x: F.max_unpool2d_forward(x, backend.to_device(idx, backend.device_of(x)), 2),
            F.max_unpool2d_backward,
        ),
        (
            "adaptive_avg_pool2d",
            lambda x: F.adaptive_avg_pool2d_forward(x, (4, 3)),
            F.adaptive_avg_pool2d_backward,
        ),
        (
            "adaptive_max_pool2d",
            lambda x: F.adaptive_max_pool2d_forward(x, (4, 3)),
            F.adaptive_max_pool2d_backward,
        ),
    ]


POOL_OPS = _pool_ops()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, fwd, bwd", POOL_OPS, ids=[o[0] for o in POOL_OPS])
def test_pooling_preserves_dtype_and_array_type(name, fwd, bwd, dtype, to_dev):
    """Output and gradient keep the dtype and array library of x; float32 agrees with
    float64 to 1e-5."""
    x64 = _distinct((2, 3, 6, 5), seed=2)
    dy64 = None
    results = {}
    for dt in (np.float64, dtype):
        xd = to_dev(x64.astype(dt))
        y, cache = fwd(xd)
        assert y.dtype == dt and type(y) is type(xd)
        if dy64 is None:
            dy64 = np.random.default_rng(3).standard_normal(y.shape)
        dx = bwd(to_dev(dy64.astype(dt)), cache)
        assert dx.dtype == dt and type(dx) is type(xd)
        assert dx.shape == x64.shape
        results[dt] = (_np(y), _np(dx))
    for a, b in zip(results[dtype], results[np.float64], strict=True):
        R.assert_close(a, b, 1e-5 if dtype == np.float32 else 0.0)


@pytest.mark.parametrize("name, fwd, bwd", POOL_OPS, ids=[o[0] for o in POOL_OPS])
def test_pooling_leaves_inputs_alone_and_backward_is_fresh(name, fwd, bwd, to_dev):
    """x and dy are not modified; writing into a returned dx does not change a second
    backward's result (nothing is shared with the cache or dy)."""
    x = _distinct((2, 3, 6, 5), seed=4)
    xd = to_dev(x)
    y, cache = fwd(xd)
    dy = np.random.default_rng(5).standard_normal(y.shape)
    dyd = to_dev(dy)
    dx1 = bwd(dyd, cache)
    ref = _np(dx1).copy()
    dx1[...] = 12345.0
    dx2 = bwd(dyd, cache)
    np.testing.assert_array_equal(_np(dx2), ref)
    np.testing.assert_array_equal(_np(xd), x)
    np.testing.assert_array_equal(_np(dyd), dy)


# =========================================================================== bad input
def _x():
    return np.random.default_rng(0).standard_normal((2, 3, 6, 6))


class TestMaxPoolBadInput:
    def test_x_not_4d(self):
        with pytest.raises(ValueError, match=r"\bx\b"):
            F.max_pool2d_forward(_x()[0], 2)
        with pytest.raises(ValueError, match=r"\bx\b"):
            F.max_pool2d_forward(_x()[None], 2)

    def test_integer_x(self):
        with pytest.raises(TypeError, match=r"\bx\b"):
            F.max_pool2d_forward(_x().astype(np.int64), 2)

    @pytest.mark.parametrize("k", [0, -1, (2, 0), (-3, 3)])
    def test_non_positive_kernel_size(self, k):
        with pytest.raises(ValueError, match="kernel_size"):
            F.max_pool2d_forward(_x(), k)

    @pytest.mark.parametrize("s", [0, -2, (1, 0)])
    def test_non_positive_stride(self, s):
        with pytest.raises(ValueError, match="stride"):
            F.max_pool2d_forward(_x(), 2, s)

    @pytest.mark.parametrize("k, p", [(3, 2), (2, 2), ((3, 5), (0, 3)), (1, 1), (3, -1)])
    def test_padding_over_half_kernel_or_negative(self, k, p):
        with pytest.raises(ValueError, match="padding"):
            F.max_pool2d_forward(_x(), k, 1, p)

    @pytest.mark.parametrize("name", ["kernel_size", "stride", "padding"])
    @pytest.mark.parametrize("value", [True, 2.0, (2, 1.5)])
    def test_bool_or_float_parameter(self, name, value):
        kw = dict(kernel_size=3, stride=1, padding=1)
        kw[name] = value
        with pytest.raises(TypeError, match=name):
            F.max_pool2d_forward(_x(), **kw)

    def test_kernel_larger_than_input(self):
        with pytest.raises(ValueError, match=r"(?i)output|size|kernel"):
            F.max_pool2d_forward(_x()[:, :, :2, :2], 3)

    def test_backward_dy_wrong_shape(self):
        y, cache = F.max_pool2d_forward(_x(), 2)
        with pytest.raises(ValueError, match=r"\bdy\b"):
            F.max_pool2d_backward(np.zeros(y.shape[:-1] + (y.shape[-1] + 1,)), cache)


class TestMaxUnpoolBadInput:
    def _pooled(self):
        y, idx, _ = F.max_pool2d_forward(_x(), 2, 2, return_indices=True)
        return y, idx

    def test_indices_wrong_shape(self):
        y, idx = self._pooled()
        with pytest.raises(ValueError, match="indices"):
            F.max_unpool2d_forward(y, idx[:, :, :-1], 2)
        with pytest.raises(ValueError, match="indices"):
            F.max_unpool2d_forward(y, idx[0], 2)

    def test_float_indices(self):
        y, idx = self._pooled()
        with pytest.raises(TypeError, match="indices"):
            F.max_unpool2d_forward(y, idx.astype(np.float64), 2)

    def test_index_beyond_output_plane(self):
        """An index >= H_out * W_out (here 16 for the default 4x4 output) is a ValueError."""
        x = np.ones((1, 1, 2, 2))
        idx = np.array([[[[0, 3], [9, 16]]]], dtype=np.int64)
        with pytest.raises(ValueError, match=r"indices|output_size"):
            F.max_unpool2d_forward(x, idx, 2)
        idx[0, 0, 1, 1] = 15
        F.max_unpool2d_forward(x, idx, 2)  # in range: fine

    def test_output_size_too_small_for_indices(self):
        y, idx = self._pooled()  # indices into a 6x6 plane, up to 35
        with pytest.raises(ValueError, match=r"indices|output_size"):
            F.max_unpool2d_forward(y, idx, 2, output_size=(4, 4))

    def test_negative_index(self):
        y, idx = self._pooled()
        idx = idx.copy()
        idx[0, 0, 0, 0] = -1
        with pytest.raises(ValueError, match="indices"):
            F.max_unpool2d_forward(y, idx, 2)

    def test_output_size_wrong_length(self):
        y, idx = self._pooled()
        with pytest.raises((ValueError, TypeError), match="output_size"):
            F.max_unpool2d_forward(y, idx, 2, output_size=(2, 6, 6))

    def test_x_not_4d_or_integer(self):
        y, idx = self._pooled()
        with pytest.raises(ValueError, match=r"\bx\b"):
            F.max_unpool2d_forward(y[0], idx[0], 2)
        with pytest.raises(TypeError, match=r"\bx\b"):
            F.max_unpool2d_forward(y.astype(np.int64), idx, 2)

    @pytest.mark.parametrize("name, value", [("kernel_size", 0), ("stride", 0), ("stride", -1)])
    def test_non_positive_kernel_or_stride(self, name, value):
        y, idx = self._pooled()
        kw = dict(kernel_size=2, stride=2)
        kw[name] = value
        with pytest.raises(ValueError, match=name):
            F.max_unpool2d_forward(y, idx, **kw)

    def test_backward_dy_wrong_shape(self):
        y, idx = self._pooled()
        u, cache = F.max_unpool2d_forward(y, idx, 2)
        with pytest.raises(ValueError, match=r"\bdy\b"):
            F.max_unpool2d_backward(np.zeros(u.shape[:-1] + (u.shape[-1] - 1,)), cache)


@pytest.mark.parametrize(
    "fwd", [F.adaptive_avg_pool2d_forward, F.adaptive_max_pool2d_forward], ids=["avg", "max"]
)
class TestAdaptiveBadInput:
    @pytest.mark.parametrize("out", [0, -1, (2, 0), (0, 3)])
    def test_non_positive_output_size(self, fwd, out):
        with pytest.raises(ValueError, match="output_size"):
            fwd(_x(), out)

    @pytest.mark.parametrize("out", [True, 2.0, (2, 2.5)])
    def test_bool_or_float_output_size(self, fwd, out):
        with pytest.raises(TypeError, match="output_size"):
            fwd(_x(), out)

    def test_x_not_4d_or_integer(self, fwd):
        with pytest.raises(ValueError, match=r"\bx\b"):
            fwd(_x()[0], 2)
        with pytest.raises(TypeError, match=r"\bx\b"):
            fwd(_x().astype(np.int32), 2)

    def test_backward_dy_wrong_shape(self, fwd):
        y, cache = fwd(_x(), 3)
        bwd = (
            F.adaptive_avg_pool2d_backward
            if fwd is F.adaptive_avg_pool2d_forward
            else F.adaptive_max_pool2d_backward
        )
        with pytest.raises(ValueError, match=r"\bdy\b"):
            bwd(np.zeros((2, 3, 3, 4)), cache)
