"""2-D convolution and transposed convolution, each the other's dual.

Forward of one is backward of the other: a convolution is ``y = C x`` for the sparse
matrix ``C`` of ``conv2d_matrix``; its input gradient is ``Cᵀ dy``, which *is* a transposed
convolution, and the transposed convolution's input gradient ``C dy`` *is* a convolution.
So two cores do all the work, in the GEMM layout ``(channels, N·H·W)`` of
``conv_matrix.unfold_gemm``: ``_correlate`` (im2col and one GEMM) and ``_scatter`` (one GEMM
and col2im).

That is the reference tier, the code assignment A1 (and A2 for the transposed convolution)
asks for. The fast tier (``_fast/conv.py``: Winograd for 3×3 stride-1 convolutions, the
stride-1 transposed convolution as a convolution with the flipped kernel, tuned GEMM orders)
computes the same and is chosen by ``minisegnet.backend`` (``set_impl``).

Gradients are returned as fresh arrays (they never accumulate into anything); ``nn`` layers
add them to their parameters' ``.grad``.

Lessons: ``lessons/03-conv-as-matrix.md`` (and its Winograd appendix),
``lessons/04-transposed-conv.md``, ``lessons/06-dilated-conv.md``.
"""

from __future__ import annotations

from .._checks import check_array, check_cache, check_same_kind, check_shape
from ..backend import fast_tier, get_array_module
from ._gemm import ConvCache, add_bias, from_gemm, to_gemm
from .conv_matrix import fold_gemm, unfold_gemm
from .shapes import checked_conv_output, checked_conv_transpose_output, conv_geometry

__all__ = [
    "conv2d_forward",
    "conv2d_backward",
    "conv_transpose2d_forward",
    "conv_transpose2d_backward",
]

# The fast tier (never graded): Winograd F(2×2, 3×3), tuned GEMM orders, the stride-1
# transposed convolution as a convolution with the flipped kernel. See minisegnet.backend.
_FAST = "minisegnet.functional._fast.conv"


# ---------------------------------------------------------------- the two cores


def _correlate(x_cnhw, w, stride, padding, dilation, out_size):
    """The convolution core: ``y₂ = W₂ @ cols`` with ``cols = im2col(x)``.

    x_cnhw: (C_in, N, H, W); w: (C_out, C_in, kH, kW).
    Returns ``(y₂ (C_out, N·L), cols (C_in·kH·kW, N·L))``.
    """
    ### BEGIN SOLUTION A1
    cols = unfold_gemm(x_cnhw, w.shape[2:], stride, padding, dilation, out_size)
    cols = cols.reshape(-1, x_cnhw.shape[1] * out_size[0] * out_size[1])
    return w.reshape(w.shape[0], -1) @ cols, cols
    ### END SOLUTION A1


def _scatter(x_gemm, w, n, in_size, out_size, stride, padding, dilation):
    """The transposed-convolution core: ``y = Cᵀ x = col2im(W₂ᵀ @ x₂)``.

    x_gemm: (C_in, N·H·W) with w: (C_in, C_out, kH, kW) → (N, C_out, H_out, W_out).
    The same ``w`` read as a conv weight ``(C_out', C_in', kH, kW)`` gives ``Cᵀ``: this is
    conv2d's input gradient as well as conv_transpose2d's forward pass.
    """
    ### BEGIN SOLUTION A1
    c_in, c_out, kh, kw = w.shape
    cols = w.reshape(c_in, -1).T @ x_gemm
    return fold_gemm(cols.reshape(c_out, kh, kw, n, *in_size), out_size, stride, padding, dilation)
    ### END SOLUTION A1


# ---------------------------------------------------------------- argument checks


def _check_inputs(fn, x, w, b, w_layout, w_in_axis):
    check_array(fn, "x", x, 4, "(N, C, H, W)")
    check_array(fn, "w", w, 4, w_layout)
    if b is not None:
        check_array(fn, "b", b, 1, "(C_out,)")
    check_same_kind(fn, x=x, w=w, b=b)
    if min(w.shape) < 1:
        raise ValueError(f"{fn}: w must have no empty dimension, got shape {tuple(w.shape)}")
    if w.shape[w_in_axis] != x.shape[1]:
        raise ValueError(
            f"{fn}: channel mismatch: x has C={x.shape[1]} channels but w {w_layout} has "
            f"{w.shape[w_in_axis]} input channels (w.shape={tuple(w.shape)})")
    c_out = w.shape[1 - w_in_axis]
    if b is not None and b.shape[0] != c_out:
        raise ValueError(f"{fn}: b must have length C_out={c_out}, got shape {tuple(b.shape)}")


def _check_dy(fn, dy, cache, expected_kind):
    check_cache(fn, cache, expected_kind)
    check_array(fn, "dy", dy, 4, "(N, C_out, H_out, W_out)")
    check_shape(fn, "dy", dy, cache.y_shape)
    check_same_kind(fn, dy=dy, w=cache.w)


# ---------------------------------------------------------------- conv2d


def conv2d_forward(x, w, b=None, stride=1, padding=0, dilation=1):
    """2-D convolution (cross-correlation), as ``torch.nn.functional.conv2d``.

    ``y[n, o, p, q] = b[o] + Σ_{c,i,j} w[o, c, i, j] · x_pad[n, c, p·s_h + i·d_h, q·s_w + j·d_w]``

    x: (N, C_in, H, W); w: (C_out, C_in, kH, kW); b: (C_out,) or None;
    stride ≥ 1, padding ≥ 0, dilation ≥ 1: int or ``(h, w)`` pair.
    Returns ``(y, cache)`` with y: (N, C_out, H_out, W_out),
    ``H_out = floor((H + 2p_h - d_h(kH-1) - 1) / s_h) + 1`` (likewise W_out).
    Reference tier: ``y₂ = W₂ @ im2col(x)``, one GEMM. Lessons 03 (matrix view) and 06 (dilation).
    """
    fn = "conv2d_forward"
    _check_inputs(fn, x, w, b, "(C_out, C_in, kH, kW)", 1)
    _, stride, padding, dilation = conv_geometry(fn, w.shape[2:], stride, padding, dilation)
    out_size = checked_conv_output(fn, x.shape[2:], w.shape[2:], stride, padding, dilation)
    fast = fast_tier(get_array_module(x), _FAST)
    if fast is not None:
        return fast.conv2d_forward(x, w, b, stride, padding, dilation, out_size)
    ### BEGIN SOLUTION A1
    y_gemm, cols = _correlate(x.transpose(1, 0, 2, 3), w, stride, padding, dilation, out_size)
    y = add_bias(from_gemm(y_gemm, x.shape[0], out_size), b)
    return y, ConvCache("conv2d", cols, w, b is not None, x.shape, y.shape, stride, padding, dilation)
    ### END SOLUTION A1


def conv2d_backward(dy, cache):
    """Gradients of ``conv2d_forward``.

    ``dx = Cᵀ dy = col2im(W₂ᵀ dy₂)`` (a transposed convolution of dy with the same w),
    ``dw₂ = dy₂ @ colsᵀ``, ``db = Σ_{n,p,q} dy``.

    dy: (N, C_out, H_out, W_out). Returns ``(dx, dw, db)``: (N, C_in, H, W),
    (C_out, C_in, kH, kW), (C_out,) or None when forward had no bias. Fresh arrays.
    """
    _check_dy("conv2d_backward", dy, cache, "conv2d")
    if cache.fast is not None:
        return cache.fast.conv2d_backward(dy, cache)
    ### BEGIN SOLUTION A1
    dy_gemm = to_gemm(dy)
    dx = _scatter(dy_gemm, cache.w, dy.shape[0], dy.shape[2:], cache.x_shape[2:],
                  cache.stride, cache.padding, cache.dilation)
    dw = (dy_gemm @ cache.saved.T).reshape(cache.w.shape)
    db = dy.sum(axis=(0, 2, 3)) if cache.has_bias else None
    return dx, dw, db
    ### END SOLUTION A1


# ---------------------------------------------------------------- conv_transpose2d


def conv_transpose2d_forward(x, w, b=None, stride=1, padding=0, output_padding=0, dilation=1):
    """2-D transposed convolution, as ``torch.nn.functional.conv_transpose2d``.

    ``y = Cᵀ x + b``: every input pixel adds ``x[n, c, h, v] · w[c, :, :, :]`` into the output
    at ``(h·s_h - p_h + i·d_h, v·s_w - p_w + j·d_w)``; overlapping contributions sum.

    x: (N, C_in, H, W); w: (C_in, C_out, kH, kW) (PyTorch's layout); b: (C_out,) or None.
    Returns ``(y, cache)`` with y: (N, C_out, H_out, W_out),
    ``H_out = (H-1)s_h - 2p_h + d_h(kH-1) + output_padding_h + 1``;
    ``output_padding`` must be smaller than ``stride`` or ``dilation`` on each axis.
    Reference tier: ``y = col2im(W₂ᵀ @ x₂)``, conv2d's backward core. Lesson 04.
    """
    fn = "conv_transpose2d_forward"
    _check_inputs(fn, x, w, b, "(C_in, C_out, kH, kW)", 0)
    kernel, stride, padding, dilation = conv_geometry(fn, w.shape[2:], stride, padding, dilation)
    out_size = checked_conv_transpose_output(fn, x.shape[2:], kernel, stride, padding,
                                             output_padding, dilation)
    fast = fast_tier(get_array_module(x), _FAST)
    if fast is not None:
        return fast.conv_transpose2d_forward(x, w, b, stride, padding, dilation, out_size)
    ### BEGIN SOLUTION A2
    x_gemm = to_gemm(x)
    y = _scatter(x_gemm, w, x.shape[0], x.shape[2:], out_size, stride, padding, dilation)
    y = add_bias(y, b)
    return y, ConvCache("conv_transpose2d", x_gemm, w, b is not None, x.shape, y.shape,
                        stride, padding, dilation)
    ### END SOLUTION A2


def conv_transpose2d_backward(dy, cache):
    """Gradients of ``conv_transpose2d_forward``.

    ``dx = C dy`` (a convolution of dy with the same w: conv2d's forward core),
    ``dw₂ = x₂ @ im2col(dy)ᵀ``, ``db = Σ_{n,p,q} dy``.

    dy: (N, C_out, H_out, W_out). Returns ``(dx, dw, db)``: (N, C_in, H, W),
    (C_in, C_out, kH, kW), (C_out,) or None. Fresh arrays.
    """
    _check_dy("conv_transpose2d_backward", dy, cache, "conv_transpose2d")
    if cache.fast is not None:
        return cache.fast.conv_transpose2d_backward(dy, cache)
    ### BEGIN SOLUTION A2
    n, _, h, w = cache.x_shape
    dx_gemm, dy_cols = _correlate(dy.transpose(1, 0, 2, 3), cache.w, cache.stride, cache.padding,
                                  cache.dilation, (h, w))
    dw = (cache.saved @ dy_cols.T).reshape(cache.w.shape)
    db = dy.sum(axis=(0, 2, 3)) if cache.has_bias else None
    return from_gemm(dx_gemm, n, (h, w)), dw, db
    ### END SOLUTION A2
