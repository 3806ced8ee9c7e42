"""Size arithmetic for convolutions: one place for every output-size formula.

Lesson: ``lessons/03-conv-as-matrix.md`` (output sizes) and ``lessons/06-dilated-conv.md``
(receptive fields).
"""

from __future__ import annotations

from .._checks import pair

__all__ = ["conv_output_size", "conv_transpose_output_size", "receptive_field"]


def conv_out(n, kernel_size, stride, padding, dilation):
    """One axis: ``floor((n + 2p - d(k-1) - 1) / s) + 1`` (no checks; may be non-positive)."""
    return (n + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


def conv_transpose_out(n, kernel_size, stride, padding, output_padding, dilation):
    """One axis: ``(n-1)s - 2p + d(k-1) + output_padding + 1`` (no checks)."""
    return (n - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1


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
