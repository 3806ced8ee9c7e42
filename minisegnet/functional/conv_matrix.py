"""Convolution as matrix multiplication: im2col, col2im and the explicit sparse matrix ``C``.

A convolution reads, for every output position, a ``C_in × kH × kW`` patch of the padded
input. ``im2col`` copies every patch into a column; the convolution is then one matrix
product ``W₂ @ cols`` with ``W₂ = w.reshape(C_out, C_in·kH·kW)``. ``col2im`` is its adjoint:
it adds every column back onto the patch it came from, so overlapping patches *sum*.
``conv2d_matrix`` writes the same linear map as a sparse matrix ``C`` (``y = C x``), whose
transpose is the transposed convolution (``x̂ = Cᵀ y``).

Internally the columns are kept in GEMM layout ``(C, kH, kW, N, H_out, W_out)``, i.e. a
``(C·kH·kW, N·H_out·W_out)`` matrix, so that a whole batch is convolved by *one* matrix
product; ``im2col``/``col2im`` expose PyTorch's ``unfold``/``fold`` layout ``(N, C·kH·kW, L)``.

Lesson: ``lessons/03-conv-as-matrix.md``.
"""

from __future__ import annotations

from .._checks import check_array, pair
from ..backend import get_array_module
from .shapes import checked_conv_output, conv_geometry, window

__all__ = ["im2col", "col2im", "conv2d_matrix"]


def unfold_gemm(x_cnhw, kernel_size, stride, padding, dilation, out_size):
    """Patches of an image batch in GEMM layout.

    ``cols[c, i, j, n, p, q] = x_pad[n, c, p·s_h + i·d_h, q·s_w + j·d_w]``.

    x_cnhw: (C, N, H, W), i.e. ``x.transpose(1, 0, 2, 3)`` of an NCHW batch (a free view);
    returns (C, kH, kW, N, H_out, W_out). One strided slice copy per kernel offset
    ``(i, j)``: ``kH·kW`` vectorised copies instead of a loop over pixels.
    """
    ### BEGIN SOLUTION A1
    xp = get_array_module(x_cnhw)
    c, n, h, w = x_cnhw.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (ho, wo) = (
        kernel_size, stride, padding, dilation, out_size)
    # Pad once, in channel-major order, so each offset below is a plain slice.
    padded = xp.zeros((c, n, h + 2 * ph, w + 2 * pw), dtype=x_cnhw.dtype)
    padded[:, :, ph:ph + h, pw:pw + w] = x_cnhw
    cols = xp.empty((c, kh, kw, n, ho, wo), dtype=x_cnhw.dtype)
    for i in range(kh):
        rows = window(i * dh, ho, sh)
        for j in range(kw):
            cols[:, i, j] = padded[:, :, rows, window(j * dw, wo, sw)]
    return cols
    ### END SOLUTION A1


def fold_gemm(cols, output_size, stride, padding, dilation):
    """Adjoint of ``unfold_gemm``: add every patch back where it came from.

    ``x[n, c, h, w] = Σ cols[c, i, j, n, p, q]`` over all ``(i, j, p, q)`` with
    ``p·s_h + i·d_h - p_h = h`` and ``q·s_w + j·d_w - p_w = w``: overlapping patches sum.

    cols: (C, kH, kW, N, H_out, W_out); returns (N, C, H, W) with ``(H, W) = output_size``.
    """
    ### BEGIN SOLUTION A1
    xp = get_array_module(cols)
    c, kh, kw, n, ho, wo = cols.shape
    (h, w), (sh, sw), (ph, pw), (dh, dw) = output_size, stride, padding, dilation
    # Tall enough for every window even when output_padding made (H, W) not the smallest fit.
    padded_h = max(h + 2 * ph, (ho - 1) * sh + (kh - 1) * dh + 1)
    padded_w = max(w + 2 * pw, (wo - 1) * sw + (kw - 1) * dw + 1)
    padded = xp.zeros((c, n, padded_h, padded_w), dtype=cols.dtype)
    for i in range(kh):
        rows = window(i * dh, ho, sh)
        for j in range(kw):
            padded[:, :, rows, window(j * dw, wo, sw)] += cols[:, i, j]
    return xp.ascontiguousarray(padded[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3))
    ### END SOLUTION A1


def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    """Unfold sliding patches into columns, exactly as ``torch.nn.functional.unfold``.

    ``cols[n, (c·kH + i)·kW + j, p·W_out + q] = x_pad[n, c, p·s_h + i·d_h, q·s_w + j·d_w]``

    x: (N, C, H, W) float; returns (N, C·kH·kW, L) with ``L = H_out·W_out``.
    Lesson: ``lessons/03-conv-as-matrix.md``.
    """
    fn = "im2col"
    check_array(fn, "x", x, 4, "(N, C, H, W)")
    kernel, stride, padding, dilation = conv_geometry(fn, kernel_size, stride, padding, dilation)
    out = checked_conv_output(fn, x.shape[2:], kernel, stride, padding, dilation)
    ### BEGIN SOLUTION A1
    cols = unfold_gemm(x.transpose(1, 0, 2, 3), kernel, stride, padding, dilation, out)
    n, k = x.shape[0], x.shape[1] * kernel[0] * kernel[1]
    xp = get_array_module(x)
    return xp.ascontiguousarray(cols.reshape(k, n, out[0] * out[1]).transpose(1, 0, 2))
    ### END SOLUTION A1


def col2im(cols, output_size, kernel_size, stride=1, padding=0, dilation=1):
    """Fold columns back into an image, summing overlaps, exactly as ``torch.nn.functional.fold``.

    The adjoint of ``im2col``: ``<im2col(x), cols> = <x, col2im(cols)>``.

    cols: (N, C·kH·kW, L) float; output_size: ``(H, W)``; returns (N, C, H, W).
    ``L`` must equal ``H_out·W_out`` of a convolution over ``(H, W)`` with these parameters.
    Lesson: ``lessons/03-conv-as-matrix.md``.
    """
    fn = "col2im"
    check_array(fn, "cols", cols, 3, "(N, C*kH*kW, L)")
    size = pair(fn, "output_size", output_size, minimum=1)
    kernel, stride, padding, dilation = conv_geometry(fn, kernel_size, stride, padding, dilation)
    n, k, length = cols.shape
    if k % (kernel[0] * kernel[1]):
        raise ValueError(
            f"{fn}: cols.shape[1] must be a multiple of kH*kW = {kernel[0] * kernel[1]}, got {k}")
    out = checked_conv_output(fn, size, kernel, stride, padding, dilation)
    if length != out[0] * out[1]:
        raise ValueError(
            f"{fn}: cols.shape[2] must be L = {out[0]}*{out[1]} = {out[0] * out[1]} blocks for "
            f"output_size {size}, got {length}")
    ### BEGIN SOLUTION A1
    c = k // (kernel[0] * kernel[1])
    gemm = cols.transpose(1, 0, 2).reshape(c, kernel[0], kernel[1], n, out[0], out[1])
    return fold_gemm(gemm, size, stride, padding, dilation)
    ### END SOLUTION A1


def conv2d_matrix(w, input_size, stride=1, padding=0, dilation=1):
    """The convolution as an explicit sparse matrix ``C`` acting on one flattened image.

    ``C[(o·H_out + p)·W_out + q, (c·H + h)·W + v] = w[o, c, i, j]`` where
    ``h = p·s_h - p_h + i·d_h`` and ``v = q·s_w - p_w + j·d_w`` (taps that land in the
    padding are dropped), so ``C @ x[n].ravel() == conv2d(x, w)[n].ravel()`` and
    ``C.T @ y[n].ravel() == conv_transpose2d(y, w)[n].ravel()``.

    w: (C_out, C_in, kH, kW); input_size: ``(H, W)``; returns a CSR matrix of shape
    (C_out·H_out·W_out, C_in·H·W): ``scipy.sparse`` for NumPy ``w``, ``cupyx.scipy.sparse``
    for CuPy ``w``. Lesson: ``lessons/03-conv-as-matrix.md``.
    """
    fn = "conv2d_matrix"
    check_array(fn, "w", w, 4, "(C_out, C_in, kH, kW)")
    h, wd = pair(fn, "input_size", input_size, minimum=1)
    c_out, c_in, kh, kw = w.shape
    _, stride, padding, dilation = conv_geometry(fn, (kh, kw), stride, padding, dilation)
    ho, wo = checked_conv_output(fn, (h, wd), (kh, kw), stride, padding, dilation)
    ### BEGIN SOLUTION A1
    xp = get_array_module(w)
    # One index grid per axis of (C_out, C_in, kH, kW, H_out, W_out), broadcast together.
    o, c, i, j, p, q = xp.ix_(*(xp.arange(s) for s in (c_out, c_in, kh, kw, ho, wo)))
    rows_in = p * stride[0] - padding[0] + i * dilation[0]
    cols_in = q * stride[1] - padding[1] + j * dilation[1]
    shape6 = (c_out, c_in, kh, kw, ho, wo)
    valid = xp.broadcast_to((rows_in >= 0) & (rows_in < h) & (cols_in >= 0) & (cols_in < wd), shape6)
    row = xp.broadcast_to((o * ho + p) * wo + q, shape6)[valid]
    col = xp.broadcast_to((c * h + rows_in) * wd + cols_in, shape6)[valid]
    data = xp.broadcast_to(w[:, :, :, :, None, None], shape6)[valid]
    sparse = _sparse_module(xp)
    return sparse.coo_matrix((data, (row, col)), shape=(c_out * ho * wo, c_in * h * wd)).tocsr()
    ### END SOLUTION A1


def _sparse_module(xp):
    if xp.__name__ == "cupy":
        import cupyx.scipy.sparse as sparse
    else:
        import scipy.sparse as sparse
    return sparse
