"""Size arithmetic for convolutions, pooling and resizing: one place for every output-size
formula and for the checks that an output size makes sense.

The public helpers (``conv_output_size``, ``conv_transpose_output_size``,
``receptive_field``) take ints or pairs and answer in kind; the others are the ops' own:
they take the name of the calling function (``fn``) so that an error names it.

Lesson: ``lessons/03-conv-as-matrix.md`` (output sizes) and ``lessons/06-dilated-conv.md``
(receptive fields).
"""

from __future__ import annotations

import math
import numbers

from .._checks import pair

__all__ = ["conv_output_size", "conv_transpose_output_size", "receptive_field"]


def conv_out(n, kernel_size, stride, padding, dilation):
    """One axis: ``floor((n + 2p - d(k-1) - 1) / s) + 1`` (no checks; may be non-positive)."""
    return (n + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


def conv_transpose_out(n, kernel_size, stride, padding, output_padding, dilation):
    """One axis: ``(n-1)s - 2p + d(k-1) + output_padding + 1`` (no checks)."""
    return (n - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1


def window(start: int, count: int, step: int) -> slice:
    """The ``count`` positions ``start, start+step, ...`` as a slice."""
    return slice(start, start + step * (count - 1) + 1, step)


def conv_geometry(fn, kernel_size, stride, padding, dilation):
    """The four size arguments of a convolution as checked ``(h, w)`` pairs."""
    return (
        pair(fn, "kernel_size", kernel_size, minimum=1),
        pair(fn, "stride", stride, minimum=1),
        pair(fn, "padding", padding, minimum=0),
        pair(fn, "dilation", dilation, minimum=1),
    )


def checked_conv_output(fn, input_hw, kernel, stride, padding, dilation):
    """``(H_out, W_out)`` of a convolution; a ``ValueError`` naming ``fn`` if not positive."""
    out = tuple(conv_out(input_hw[a], kernel[a], stride[a], padding[a], dilation[a]) for a in (0, 1))
    if min(out) < 1:
        raise ValueError(
            f"{fn}: output size would be {out}: the dilated kernel "
            f"{tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))} does not fit the "
            f"padded input {tuple(s + 2 * p for s, p in zip(input_hw, padding))}"
        )
    return out


def _check_output_padding(fn, output_padding, stride, dilation):
    op = pair(fn, "output_padding", output_padding, minimum=0)
    for axis in (0, 1):
        if op[axis] >= stride[axis] and op[axis] >= dilation[axis]:
            raise ValueError(
                f"{fn}: output_padding must be smaller than stride or dilation, got "
                f"output_padding={op}, stride={stride}, dilation={dilation}")
    return op


def checked_conv_transpose_output(fn, input_hw, kernel, stride, padding, output_padding, dilation):
    """``(H_out, W_out)`` of a transposed convolution, ``output_padding`` checked first
    (smaller than ``stride`` or ``dilation`` on each axis, as PyTorch); a ``ValueError``
    naming ``fn`` if the size is not positive."""
    output_padding = _check_output_padding(fn, output_padding, stride, dilation)
    out_size = tuple(
        conv_transpose_out(input_hw[a], kernel[a], stride[a], padding[a], output_padding[a],
                           dilation[a]) for a in (0, 1))
    if min(out_size) < 1:
        raise ValueError(f"{fn}: output size would be {out_size}: padding {padding} is too large "
                         f"for input {tuple(input_hw)} and kernel {kernel}")
    return out_size


def pool_geometry(fn, input_hw, kernel_size, stride, padding):
    """Checked ``(kernel, stride, padding, (H_out, W_out))`` of a max pooling (stride defaults to
    the kernel; padding at most half the kernel, as PyTorch)."""
    kernel = pair(fn, "kernel_size", kernel_size, minimum=1)
    stride = kernel if stride is None else pair(fn, "stride", stride, minimum=1)
    padding = pair(fn, "padding", padding, minimum=0)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{fn}: padding must be at most half the kernel size (kernel_size="
                         f"{kernel}), got padding={padding}")
    out = tuple(conv_out(input_hw[a], kernel[a], stride[a], padding[a], 1) for a in (0, 1))
    if min(out) < 1:
        raise ValueError(f"{fn}: output size would be {out}: kernel {kernel} does not fit input "
                         f"{tuple(input_hw)} with padding {padding}")
    return kernel, stride, padding, out


def unpool_output_size(fn, x_shape, kernel, stride, padding, output_size):
    """Output ``(H_out, W_out)`` of a max unpooling: ``(H-1)·s - 2p + k`` or a checked
    ``output_size`` (``(H, W)`` or ``(N, C, H, W)``) within one stride of it, as PyTorch."""
    n, c, h, w = x_shape
    default = ((h - 1) * stride[0] - 2 * padding[0] + kernel[0],
               (w - 1) * stride[1] - 2 * padding[1] + kernel[1])
    if output_size is None:
        size = default
    else:
        size = tuple(output_size)
        if len(size) == 4:
            if size[:2] != (n, c):
                raise ValueError(f"{fn}: output_size {size} does not match x's (N, C) = {(n, c)}")
            size = size[2:]
        size = pair(fn, "output_size", size, minimum=1)
        for axis in (0, 1):  # PyTorch's rule: within one stride of the default size
            if not default[axis] - stride[axis] < size[axis] < default[axis] + stride[axis]:
                raise ValueError(
                    f"{fn}: output_size {size} must be within one stride {stride} of the default "
                    f"size {default} (the sizes a pooling with these parameters comes from)")
    if min(size) < 1:
        raise ValueError(f"{fn}: output size would be {size}; give output_size explicitly")
    return size


def resize_output_size(fn, in_hw, size, scale_factor):
    """``((H_out, W_out), scales)`` of a resize given exactly one of ``size`` and ``scale_factor``
    (output ``floor(in·s)``; ``scales`` is ``(None, None)`` when ``size`` was given)."""
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{fn}: give exactly one of size and scale_factor, got size={size!r}, "
                         f"scale_factor={scale_factor!r}")
    if size is not None:
        return pair(fn, "size", size, minimum=1), (None, None)
    scales = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * 2
    if len(scales) != 2 or not all(
            isinstance(s, numbers.Real) and not isinstance(s, bool) and math.isfinite(s) and s > 0
            for s in scales):
        raise ValueError(f"{fn}: scale_factor must be a finite positive number or a pair of them, "
                         f"got {scale_factor!r}")
    out = tuple(math.floor(n * float(s)) for n, s in zip(in_hw, scales))
    if min(out) < 1:
        raise ValueError(f"{fn}: output size floor(in * scale_factor) = {out} must be positive")
    return out, tuple(float(s) for s in scales)


def _out(fn, input_size, formula, **params):
    """Apply a per-axis ``formula`` to an int or an ``(h, w)`` pair, answering in kind.

    A non-positive result means the layer does not fit its input: a ``ValueError``.
    """
    scalar = not isinstance(input_size, (tuple, list))
    size = pair(fn, "input_size", input_size, minimum=1)
    per_axis = {name: pair(fn, name, value, minimum=low) for name, (value, low) in params.items()}
    result = tuple(formula(size[a], **{k: v[a] for k, v in per_axis.items()}) for a in (0, 1))
    if min(result) < 1:
        shown = result[0] if scalar else result
        raise ValueError(f"{fn}: output size would be {shown} (non-positive) for input_size "
                         f"{input_size!r} and {', '.join(f'{k}={v[0]!r}' for k, v in params.items())}")
    return result[0] if scalar else result


def conv_output_size(input_size, kernel_size, stride=1, padding=0, dilation=1):
    """Output size of a convolution: ``floor((in + 2p - d(k-1) - 1) / s) + 1``.

    ``input_size`` an int gives an int, an ``(H, W)`` pair gives a pair. A kernel that does
    not fit (a non-positive result) is a ``ValueError``.
    """
    return _out(
        "conv_output_size", input_size, conv_out,
        kernel_size=(kernel_size, 1), stride=(stride, 1), padding=(padding, 0),
        dilation=(dilation, 1),
    )


def conv_transpose_output_size(input_size, kernel_size, stride=1, padding=0, output_padding=0,
                               dilation=1):
    """Output size of a transposed convolution: ``(in-1)s - 2p + d(k-1) + output_padding + 1``.

    It inverts ``conv_output_size``: the floor there makes ``stride`` input sizes map to one
    output size, and ``output_padding`` (``< stride`` or ``< dilation``) picks which.
    """
    return _out(
        "conv_transpose_output_size", input_size, conv_transpose_out,
        kernel_size=(kernel_size, 1), stride=(stride, 1), padding=(padding, 0),
        output_padding=(output_padding, 0), dilation=(dilation, 1),
    )


def receptive_field(layers) -> tuple[int, int]:
    """Receptive field and effective stride of a stack of ``(kernel, stride, dilation)`` layers.

    Recurrence, from the input up: ``r ← r + (k-1)·d·j`` and ``j ← j·s``, starting from
    ``r = 1, j = 1`` (``j`` is the distance in input pixels between neighbouring outputs).
    ``L`` stacked 3×3 convs give ``1 + 2L``; 3×3 convs with dilations 1, 2, 4, … give
    ``2^(L+1) - 1`` (Yu & Koltun's exponential growth).

    Returns ``(receptive_field, effective_stride)``.
    """
    field, jump = 1, 1
    for index, layer in enumerate(layers):
        if len(layer) != 3:
            raise ValueError(
                f"receptive_field: layers[{index}] must be (kernel, stride, dilation), got {layer!r}"
            )
        kernel, stride, dilation = (
            pair("receptive_field", f"layers[{index}]", v, minimum=1)[0] for v in layer
        )
        field += (kernel - 1) * dilation * jump
        jump *= stride
    return field, jump
