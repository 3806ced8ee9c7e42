"""The convolution family's two tiers, and the fast tier's Winograd F(2×2, 3×3).

* The tier-agreement test: ``conv2d`` and ``conv_transpose2d``, forward and backward, on the
  reference tier and on the fast tier (``on_both_tiers``), over random cases drawn so that
  every path of the fast tier is taken (Winograd undilated and dilated, any padding, im2col
  with stride, the stride-1 transposed convolution as a convolution, col2im with
  output_padding), in float64 (agreement < 1e-10 of the scale) and float32 (< 5e-6: the
  Winograd transforms add and subtract, G halves; measured about 5e-7 on 64-256 channels).
* Winograd checked against its definition: the 1-D F(2, 3) worked example of
  ``lessons/03-appendix-winograd.md`` number by number, the 2-D tile identity
  ``Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A = d ⋆ g``, every transform pair against its adjoint, and both
  implementations of the tile transforms (Numba kernels, array code) through a whole
  convolution against the naive loops of ``tests/reference.py``.
* Lesson 04's identity, on the reference tier: a stride-1 transposed convolution is a
  convolution with the flipped kernel.
* The fast tier's im2col and col2im, Numba kernels (``conv_kernels.py``) and array code
  (what CuPy runs), against the reference tier's ``unfold_gemm`` / ``fold_gemm`` over random
  geometries, NaN-filled outputs so that a value never written shows.
"""

from __future__ import annotations

import numpy as np
import pytest

from minisegnet import backend
from minisegnet import functional as F
from minisegnet.functional._fast import winograd as W

try:  # `python -m pytest` from the repository root
    from tests import reference as R
except ImportError:  # plain `pytest`: tests/ itself is on sys.path
    import reference as R


# ------------------------------------------------------------------ tier agreement

# (op, kernel, stride, padding, dilation, output_padding): every path of the fast tier.
PATHS = [
    ("conv", 3, 1, 1, 1, 0),            # Winograd
    ("conv", 3, 1, 0, 1, 0),            # Winograd, no padding
    ("conv", 3, 1, (3, 2), 1, 0),       # Winograd, padding past the kernel
    ("conv", 3, 1, 2, 2, 0),            # Winograd on the polyphase components (atrous)
    ("conv", 3, 1, (1, 3), (3, 2), 0),  # ... with dilations and paddings per axis
    ("conv", 3, 2, 1, 1, 0),            # im2col + GEMM, stride 2
    ("conv", (2, 3), (1, 2), 1, 1, 0),  # im2col, overlapping windows, stride 1 dx flipped
    ("conv", 1, 1, 0, 1, 0),            # 1×1
    ("conv", 4, 3, 2, 2, 0),            # stride 3, dilation 2: windows that skip pixels
    ("conv", 3, 2, 4, 1, 0),            # padding past the kernel: windows wholly outside x
    ("convT", 3, 1, 1, 1, 0),           # stride 1: a convolution, flipped kernel (Winograd)
    ("convT", (2, 4), 1, (0, 1), 1, 0),  # stride 1, not 3×3: flipped kernel, im2col
    ("convT", 3, 1, 1, 2, 1),           # stride 1, output_padding < dilation: col2im
    ("convT", 4, 2, 1, 1, 0),           # stride 2: GEMM + col2im, overlaps add
    ("convT", 3, 2, 1, 1, 1),           # stride 2, output_padding
    ("convT", 3, (3, 2), (2, 0), (1, 2), (2, 1)),
    ("convT", 2, 3, 0, 1, 2),           # stride > kernel: output phases no tap reaches
]


def _tier_cases():
    rng = np.random.default_rng(1212)
    cases = []
    for index, (op, k, s, p, d, op_pad) in enumerate(PATHS):
        for dtype in (np.float64, np.float32):
            n, c_in, c_out = (int(v) for v in rng.integers(1, 4, 3))
            h, w = (int(v) for v in rng.integers(5, 12, 2))   # odd and even sizes
            cases.append(dict(op=op, k=R.pair(k), stride=s, padding=p, dilation=d,
                              output_padding=op_pad, n=n, c_in=c_in, c_out=c_out, h=h, w=w,
                              dtype=dtype, bias=bool((index + (dtype == np.float32)) % 2),
                              seed=index))
    return cases


def _tier_id(c):
    return (f"{c['op']}-k{c['k']}-s{c['stride']}-p{c['padding']}-d{c['dilation']}"
            f"-op{c['output_padding']}-{np.dtype(c['dtype']).name}").replace(" ", "")


def _forward_backward(c, x, w, b, dy_seed):
    """Forward and backward of one case: ``(y, dx, dw, db)``, NumPy arrays."""
    kwargs = dict(stride=c["stride"], padding=c["padding"], dilation=c["dilation"])
    if c["op"] == "conv":
        y, cache = F.conv2d_forward(x, w, b, **kwargs)
        backward = F.conv2d_backward
    else:
        y, cache = F.conv_transpose2d_forward(x, w, b, output_padding=c["output_padding"], **kwargs)
        backward = F.conv_transpose2d_backward
    dy = np.random.default_rng(dy_seed).standard_normal(y.shape).astype(c["dtype"])
    dx, dw, db = backward(backend.to_device(dy, backend.device_of(x)), cache)
    assert (cache.fast is None) == (backend.get_impl() == "reference")
    return tuple(None if a is None else backend.to_numpy(a) for a in (y, dx, dw, db))


@pytest.mark.parametrize("case", _tier_cases(), ids=_tier_id)
def test_conv_family_tiers_agree(case, on_both_tiers, to_dev):
    """Reference and fast tier: the same y, dx, dw, db, in the input's dtype."""
    rng = np.random.default_rng(case["seed"])
    dtype = case["dtype"]
    w_shape = ((case["c_out"], case["c_in"]) if case["op"] == "conv"
               else (case["c_in"], case["c_out"])) + case["k"]
    x = rng.standard_normal((case["n"], case["c_in"], case["h"], case["w"])).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(case["c_out"]).astype(dtype) if case["bias"] else None
    args = (to_dev(x), to_dev(w), None if b is None else to_dev(b))
    reference, fast = on_both_tiers(_forward_backward, case, *args, dy_seed=case["seed"] + 1)
    tolerance = 1e-10 if dtype == np.float64 else 5e-6
    for name, ref, got in zip(("y", "dx", "dw", "db"), reference, fast):
        if ref is None:
            assert got is None, name
            continue
        assert got.dtype == dtype and got.shape == ref.shape, name
        scale = max(1.0, float(np.abs(ref).max()))
        assert np.abs(got - ref).max() <= tolerance * scale, name


def test_fast_tier_takes_winograd_for_3x3_stride_1():
    """The fast tier's choice: Winograd when 3×3, stride 1 and big enough; im2col otherwise."""
    from minisegnet.functional._fast import conv as fast_conv

    assert fast_conv.winograd_pays(64, 64, 8 * 32 * 32)
    assert not fast_conv.winograd_pays(3, 64, 8 * 32 * 32)     # few channels: im2col wins
    assert not fast_conv.winograd_pays(64, 64, 4)               # a handful of tiles
    x = np.zeros((2, 32, 16, 16), dtype=np.float32)
    with backend.use_impl("auto"):
        _, big = F.conv2d_forward(x, np.zeros((32, 32, 3, 3), np.float32), padding=1)
        _, strided = F.conv2d_forward(x, np.zeros((32, 32, 3, 3), np.float32), stride=2)
        _, small = F.conv2d_forward(x[:, :2], np.zeros((2, 2, 3, 3), np.float32), padding=1)
    assert type(big.saved).__name__ == "_Winograd"
    assert type(strided.saved).__name__ == type(small.saved).__name__ == "_Columns"


# ------------------------------------------------------------------ lesson 04's identity


@pytest.mark.parametrize("kernel,padding,dilation", [(3, 1, 1), ((2, 4), (0, 2), 1),
                                                     (3, (2, 1), (2, 1)), (1, 0, 1)])
def test_stride1_conv_transpose_is_conv_with_flipped_kernel(kernel, padding, dilation, rng):
    """``conv_transpose2d(x, w, s=1, p) == conv2d(x, flip(w)ᵀ, p' = d(k-1) - p)``, and the
    gradients agree too (the fast tier runs it so; here on the reference tier)."""
    k, p, d = R.pair(kernel), R.pair(padding), R.pair(dilation)
    x = rng.standard_normal((2, 3, 6, 7))
    w = rng.standard_normal((3, 4) + k)
    w_conv = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    p_conv = tuple(d[a] * (k[a] - 1) - p[a] for a in (0, 1))
    with backend.use_impl("reference"):
        y_t, cache_t = F.conv_transpose2d_forward(x, w, padding=p, dilation=d)
        y_c, cache_c = F.conv2d_forward(x, w_conv, padding=p_conv, dilation=d)
        dy = rng.standard_normal(y_t.shape)
        dx_t, dw_t, _ = F.conv_transpose2d_backward(dy, cache_t)
        dx_c, dw_c, _ = F.conv2d_backward(dy, cache_c)
    R.assert_close(y_t, y_c, 1e-12)
    R.assert_close(dx_t, dx_c, 1e-12)
    R.assert_close(dw_t, dw_c[:, :, ::-1, ::-1].transpose(1, 0, 2, 3), 1e-12)


# ------------------------------------------------------------------ Winograd by its definition


def test_winograd_f23_worked_example_of_the_lesson():
    """F(2, 3) on d = (1, 2, 3, 4), g = (1, 2, 3), every number as the appendix prints it."""
    d, g = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0])
    transformed_d = W.B_T @ d
    transformed_g = W.G @ g
    m = transformed_d * transformed_g                      # the 4 multiplies
    y = W.A_T @ m
    assert transformed_d.tolist() == [-2.0, 5.0, 1.0, -2.0]
    assert transformed_g.tolist() == [1.0, 3.0, 1.0, 3.0]
    assert m.tolist() == [-2.0, 15.0, 1.0, -6.0]
    assert y.tolist() == [14.0, 20.0]
    # ... which is the direct sliding dot product, 6 multiplies.
    assert y.tolist() == [d[0:3] @ g, d[1:4] @ g] == [14.0, 20.0]


def test_winograd_2d_tile_identity(rng):
    """``Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A`` is the 2×2 valid correlation of a 4×4 tile with a 3×3 kernel."""
    for _ in range(20):
        d, g = rng.standard_normal((4, 4)), rng.standard_normal((3, 3))
        y = W.A_T @ ((W.G @ g @ W.G.T) * (W.B_T @ d @ W.B_T.T)) @ W.A_T.T
        direct = np.array([[np.sum(d[p:p + 3, q:q + 3] * g) for q in range(2)] for p in range(2)])
        np.testing.assert_allclose(y, direct, rtol=0, atol=1e-12)
    # 16 element-wise multiplies instead of 2·2·9 = 36: the 2.25× of the lesson.
    assert (W.G @ g @ W.G.T).size == 16


def test_kernel_transform_and_its_adjoint(rng):
    """``U[4k + l] = (G w Gᵀ)[k, l]``, and ``<U(w), dU> = <w, Uᵀ(dU)>``."""
    w = rng.standard_normal((5, 3, 3, 3))
    u = W.kernel_transform(w)
    expected = np.einsum("ki,ocij,lj->kloc", W.G, w, W.G).reshape(16, 5, 3)
    np.testing.assert_allclose(u, expected, rtol=0, atol=1e-12)
    du = rng.standard_normal(u.shape)
    assert np.isclose(np.sum(u * du), np.sum(w * W.kernel_transform_adjoint(du)), rtol=1e-12)


def _transform_modules():
    """The two implementations of the tile transforms: array code, and Numba where it imports."""
    modules = [pytest.param(W, id="array-code")]
    try:
        from minisegnet.functional._fast import winograd_kernels
    except ImportError:  # Numba missing: the array code alone
        return modules
    return modules + [pytest.param(winograd_kernels, id="numba")]


WINOGRAD_CASES = [  # (n, c_in, c_out, h, w, padding, dilation): odd and even sizes
    (2, 3, 2, 7, 9, (1, 1), (1, 1)),
    (1, 2, 3, 6, 6, (0, 0), (1, 1)),
    (2, 1, 2, 5, 8, (3, 2), (1, 1)),
    (1, 2, 2, 9, 11, (2, 2), (2, 2)),
    (2, 2, 1, 10, 7, (1, 3), (3, 2)),
    (1, 1, 1, 3, 3, (0, 0), (1, 1)),
    (1, 2, 2, 4, 13, (0, 1), (1, 3)),
]


def _winograd_pipeline(t, x, w, b, padding, dilation, out_size, dy):
    """One convolution through module ``t``'s transforms: ``(y, dx, dw)``, and the two adjoint
    identities ``<V(x), dV> - <x, Vᵀ(dV)>`` and ``<Y(M), dY> - <M, Yᵀ(dY)>``."""
    (n, c_in), c_out = x.shape[:2], w.shape[0]
    tiles = t.tiles_for(n, out_size, dilation)
    v, m = W._matrices(np, c_in, tiles.count, x.dtype), W._matrices(np, c_out, tiles.count, x.dtype)
    v[:] = np.nan
    t.input_transform(x, padding, tiles, v)
    u = W.kernel_transform(w)
    np.matmul(u, W._view(v, c_in, tiles.count), out=W._view(m, c_out, tiles.count))
    y = np.full((n, c_out) + out_size, np.nan)
    t.output_transform(m, tiles, b, y)
    dm = W._matrices(np, c_out, tiles.count, x.dtype)
    dm[:] = np.nan
    t.output_transform_adjoint(dy, tiles, dm)
    dm_view, v_view = W._view(dm, c_out, tiles.count), W._view(v, c_in, tiles.count)
    dw = W.kernel_transform_adjoint(dm_view @ v_view.transpose(0, 2, 1))
    dv = W._matrices(np, c_in, tiles.count, x.dtype)
    np.matmul(u.transpose(0, 2, 1), dm_view, out=W._view(dv, c_in, tiles.count))
    dx = np.full(x.shape, np.nan)
    t.input_transform_adjoint(dv, tiles, dx, padding)
    adjoint_in = np.sum(v_view * W._view(dv, c_in, tiles.count)) - np.sum(x * dx)
    adjoint_out = np.sum((y - (0 if b is None else b.reshape(1, -1, 1, 1))) * dy) - np.sum(
        W._view(m, c_out, tiles.count) * dm_view)
    return (y, dx, dw), (adjoint_in, adjoint_out)


@pytest.mark.parametrize("t", _transform_modules())
@pytest.mark.parametrize("case", WINOGRAD_CASES, ids=str)
def test_winograd_transforms_against_naive_convolution(t, case, rng):
    """Each implementation of the transforms, assembled into a whole 3×3 stride-1 convolution
    (forward, dx, dw), equals the naive loops; each transform pair is adjoint."""
    n, c_in, c_out, h, w_, padding, dilation = case
    out_size = tuple(R.conv_out_len((h, w_)[a], 3, 1, padding[a], dilation[a]) for a in (0, 1))
    x, w = rng.standard_normal((n, c_in, h, w_)), rng.standard_normal((c_out, c_in, 3, 3))
    b, dy = rng.standard_normal(c_out), rng.standard_normal((n, c_out) + out_size)
    (y, dx, dw), adjoints = _winograd_pipeline(t, x, w, b, padding, dilation, out_size, dy)
    kwargs = dict(padding=padding, dilation=dilation)
    R.assert_close(y, R.conv2d_naive(x, w, b, **kwargs), 1e-12)
    dx_ref, dw_ref, _ = R.conv2d_backward_naive(dy, x, w, **kwargs)
    R.assert_close(dx, dx_ref, 1e-12)
    R.assert_close(dw, dw_ref, 1e-12)
    assert np.allclose(adjoints, 0, atol=1e-9)


def test_winograd_float32_accuracy(rng):
    """float32 Winograd stays within 5e-6 of the float64 result (scale-normalised), like im2col;
    the float64 result from the reference tier (im2col)."""
    x = rng.standard_normal((2, 64, 12, 12))
    w = rng.standard_normal((64, 64, 3, 3)) / 24
    dy = rng.standard_normal((2, 64, 12, 12))
    with backend.use_impl("reference"):
        y64, cache64 = F.conv2d_forward(x, w, padding=1)
        dx64, dw64, _ = F.conv2d_backward(dy, cache64)
    with backend.use_impl("fast"):
        y32, cache = F.conv2d_forward(x.astype(np.float32), w.astype(np.float32), padding=1)
        dx32, dw32, _ = F.conv2d_backward(dy.astype(np.float32), cache)
    assert type(cache.saved).__name__ == "_Winograd"
    for got, ref in ((y32, y64), (dx32, dx64), (dw32, dw64)):
        assert got.dtype == np.float32
        assert np.abs(got - ref).max() <= 5e-6 * np.abs(ref).max()


def test_winograd_in_chunks_on_worker_threads(rng):
    """A batch big enough for several chunks (9 float64 images: 2 + 2 + 2 + 2 + 1), run on
    the BLAS thread count's worker threads (2 on the development machine), equals the
    reference tier."""
    x = rng.standard_normal((9, 64, 32, 32))
    w = rng.standard_normal((48, 64, 3, 3)) / 24
    b = rng.standard_normal(48)
    dy = rng.standard_normal((9, 48, 32, 32))
    results = {}
    for impl in ("reference", "fast"):
        with backend.use_impl(impl):
            y, cache = F.conv2d_forward(x, w, b, padding=1)
            results[impl] = (y, *F.conv2d_backward(dy, cache))
    chunks = cache.saved.saved.chunks
    assert type(cache.saved).__name__ == "_Winograd" and len(chunks) > 2
    assert chunks[-1][1] - chunks[-1][0] < chunks[0][1] - chunks[0][0]
    for ref, got in zip(results["reference"], results["fast"]):
        R.assert_close(got, ref, 1e-10)



@pytest.mark.parametrize("case", [
    dict(op="conv", w=(64, 64, 3, 3), stride=1),                      # Winograd
    dict(op="conv", w=(8, 3, 3, 3), stride=2),                        # im2col + col2im
    dict(op="convT", w=(6, 4, 3, 3), stride=2, output_padding=1),     # GEMM + col2im
], ids=lambda c: f"{c['op']}-s{c['stride']}")
def test_fast_tier_takes_strided_views(case, rng):
    """x and dy as strided views (Fortran order): the fast tier's Numba kernels read arrays
    flat, so they must get contiguous copies; the results equal the reference tier's on
    contiguous inputs."""
    c_in = case["w"][1] if case["op"] == "conv" else case["w"][0]
    x = np.asfortranarray(rng.standard_normal((3, c_in, 13, 16)))
    w = rng.standard_normal(case["w"]) / 8
    kwargs = dict(stride=case["stride"], padding=1)
    forward, backward = ((F.conv2d_forward, F.conv2d_backward) if case["op"] == "conv" else
                         (F.conv_transpose2d_forward, F.conv_transpose2d_backward))
    if case["op"] == "convT":
        kwargs["output_padding"] = case["output_padding"]
    results = {}
    for impl, layout in (("fast", np.asfortranarray), ("reference", np.ascontiguousarray)):
        with backend.use_impl(impl):
            y, cache = forward(layout(x), w, **kwargs)
            dy = np.random.default_rng(5).standard_normal(y.shape)
            results[impl] = (y, *backward(layout(dy), cache))
    for got, ref in zip(results["fast"][:3], results["reference"][:3]):   # y, dx, dw (no b)
        R.assert_close(got, ref, 1e-10)


# ------------------------------------------------------------------ im2col / col2im kernels


def _im2col_cases():
    """Random geometries: kernel 1-4, stride 1-3, dilation 1-3, padding 0-4 (past the kernel
    too), sizes 1-9, per axis; those whose output would be empty are skipped."""
    rng = np.random.default_rng(31)
    cases = []
    while len(cases) < 40:
        kernel, stride, dilation = (tuple(int(v) for v in rng.integers(lo, hi, 2))
                                    for lo, hi in ((1, 5), (1, 4), (1, 4)))
        padding = tuple(int(v) for v in rng.integers(0, 5, 2))
        size = tuple(int(v) for v in rng.integers(1, 10, 2))
        out = tuple((size[a] + 2 * padding[a] - dilation[a] * (kernel[a] - 1) - 1) // stride[a] + 1
                    for a in (0, 1))
        if min(out) >= 1:
            cases.append((kernel, stride, padding, dilation, size, out))
    return cases


def _im2col_implementations():
    from minisegnet.functional._fast import conv as fast_conv

    impls = [pytest.param((fast_conv._unfold_arrays, fast_conv._fold_arrays), id="array-code")]
    try:
        from minisegnet.functional._fast import conv_kernels
    except ImportError:  # Numba missing: the array code alone
        return impls
    return impls + [pytest.param((conv_kernels.unfold, conv_kernels.fold), id="numba")]


@pytest.mark.parametrize("impl", _im2col_implementations())
@pytest.mark.parametrize("case", _im2col_cases(), ids=str)
def test_fast_im2col_and_col2im_match_the_reference(impl, case, rng):
    """cols equal ``unfold_gemm``'s exactly; y equals ``fold_gemm``'s (+ b) to rounding, also
    into an output up to ``stride - 1`` larger (output_padding); 2 images of 3 channels,
    float64."""
    from minisegnet.functional.conv_matrix import fold_gemm, unfold_gemm

    unfold, fold = impl
    kernel, stride, padding, dilation, size, out = case
    x = rng.standard_normal((2, 3) + size)
    expected = unfold_gemm(x.transpose(1, 0, 2, 3), kernel, stride, padding, dilation, out)
    np.testing.assert_array_equal(unfold(x, kernel, stride, padding, dilation, out), expected)
    product = rng.standard_normal((3,) + kernel + (2,) + out)
    b = rng.standard_normal(3)
    # col2im into the smallest fit and, as output_padding asks, up to stride - 1 more
    size = tuple(size[a] + int(rng.integers(0, stride[a])) for a in (0, 1))
    expected = fold_gemm(product, size, stride, padding, dilation) + b.reshape(1, 3, 1, 1)
    got = fold(product, size, stride, padding, dilation, b)
    assert got.shape == expected.shape and got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
