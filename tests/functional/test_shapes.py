"""Tests of the shape arithmetic: ``F.conv_output_size``, ``F.conv_transpose_output_size``
and ``F.receptive_field``.

Independent references: brute-force counting in ``tests/reference.py`` (window positions
along an axis; the span of a transposed conv's scatter), the shapes of the naive
conv loops, and a brute-force receptive-field computation that follows the input
positions feeding an output position back through every layer.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from minisegnet import functional as F

try:  # `python -m pytest` from the repository root
    from tests import reference as R
except ImportError:  # plain `pytest`: tests/ itself is on sys.path
    import reference as R


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


# ------------------------------------------------------------------ conv_output_size
def test_conv_output_size_vs_brute_force_counting():
    """Every (n, k, s, p, d) in a small grid: the formula equals counting window positions."""
    for n, k, s, p, d in itertools.product(
        range(1, 11), range(1, 5), range(1, 4), range(0, 3), range(1, 4)
    ):
        expected = R.conv_out_len(n, k, s, p, d)
        if expected < 1:
            continue  # the error cases: test_conv_output_size_every_non_positive_case_raises
        got = F.conv_output_size(n, k, stride=s, padding=p, dilation=d)
        assert _is_int(got), type(got)
        assert got == expected, (n, k, s, p, d)


def test_conv_output_size_matches_naive_conv_output_shape():
    """The pair form gives the (H_out, W_out) of the naive conv loop's result."""
    x = np.zeros((1, 1, 9, 7))
    w = np.zeros((1, 1, 3, 2))
    for stride, padding, dilation in [(1, 0, 1), ((2, 1), (1, 0), (1, 3)), (3, 2, (2, 2))]:
        y = R.conv2d_naive(x, w, None, stride, padding, dilation)
        got = F.conv_output_size((9, 7), (3, 2), stride=stride, padding=padding, dilation=dilation)
        assert isinstance(got, tuple) and len(got) == 2
        assert all(_is_int(v) for v in got)
        assert got == y.shape[2:]


def test_conv_output_size_well_known_values():
    """Textbook cases: 'same' 3x3 conv, stride-2 halving, 7x7/2 stem of ResNet, dilation."""
    assert F.conv_output_size(32, 3, padding=1) == 32
    assert F.conv_output_size(32, 3, stride=2, padding=1) == 16
    assert F.conv_output_size(224, 7, stride=2, padding=3) == 112
    assert F.conv_output_size(5, 3, dilation=2) == 1  # effective kernel 5
    assert F.conv_output_size(4, 3) == 2  # the lecture's 4x4 -> 2x2
    assert F.conv_output_size((4, 4), 3) == (2, 2)


def test_conv_output_size_int_and_pair_mixing():
    """An int input size gives an int; a pair gives a tuple; parameters may mix int/pair."""
    assert _is_int(F.conv_output_size(7, 3))
    assert F.conv_output_size((7, 9), 3) == (5, 7)
    assert F.conv_output_size((7, 9), (3, 1)) == (5, 9)
    assert F.conv_output_size((7, 9), 3, stride=(1, 2), padding=(0, 1), dilation=(2, 1)) == (3, 5)


def test_conv_output_size_every_non_positive_case_raises():
    """Each grid point whose brute-force window count is 0 is a ValueError."""
    for n, k, s, p, d in itertools.product(
        range(1, 11), range(1, 5), range(1, 4), range(0, 3), range(1, 4)
    ):
        if R.conv_out_len(n, k, s, p, d) < 1:
            with pytest.raises(ValueError):
                F.conv_output_size(n, k, s, p, d)


def test_conv_transpose_output_size_every_non_positive_case_raises():
    """Each grid point whose brute-force output length is <= 0 is a ValueError."""
    for n, k, s, p, d in itertools.product(
        range(1, 8), range(1, 5), range(1, 4), range(0, 3), range(1, 4)
    ):
        for op in range(max(s, d)):
            if R.conv_transpose_out_len(n, k, s, p, op, d) < 1:
                with pytest.raises(ValueError):
                    F.conv_transpose_output_size(n, k, s, p, op, d)


@pytest.mark.parametrize(
    "args, kwargs",
    [((2, 3), {}), ((5, 3), {"dilation": 3}), ((1, 2), {}), (((4, 2), 3), {})],
)
def test_conv_output_size_non_positive_is_value_error(args, kwargs):
    with pytest.raises(ValueError):
        F.conv_output_size(*args, **kwargs)


def test_conv_output_size_bad_parameters():
    with pytest.raises(ValueError, match="stride"):
        F.conv_output_size(8, 3, stride=0)
    with pytest.raises(ValueError, match="padding"):
        F.conv_output_size(8, 3, padding=-1)
    with pytest.raises(ValueError, match="dilation"):
        F.conv_output_size(8, 3, dilation=0)
    with pytest.raises(TypeError, match="stride"):
        F.conv_output_size(8, 3, stride=1.5)


# ------------------------------------------------------------------ conv_transpose_output_size
def test_conv_transpose_output_size_vs_brute_force():
    """The formula equals the span of the scatter, cropped by padding, plus output_padding."""
    for n, k, s, p, d in itertools.product(
        range(1, 8), range(1, 5), range(1, 4), range(0, 3), range(1, 4)
    ):
        for op in range(max(s, d)):
            expected = R.conv_transpose_out_len(n, k, s, p, op, d)
            if expected < 1:
                continue  # error cases: tested in ..._every_non_positive_case_raises
            got = F.conv_transpose_output_size(
                n, k, stride=s, padding=p, output_padding=op, dilation=d
            )
            assert _is_int(got), type(got)
            assert got == expected, (n, k, s, p, op, d)


def test_conv_transpose_output_size_inverts_conv_output_size():
    """conv_output_size(conv_transpose_output_size(n)) == n whenever output_padding < stride."""
    for n, k, s, p, d in itertools.product(
        range(1, 7), range(1, 4), range(1, 4), range(0, 2), range(1, 3)
    ):
        for op in range(s):
            if R.conv_transpose_out_len(n, k, s, p, op, d) < 1:
                continue
            m = F.conv_transpose_output_size(
                n, k, stride=s, padding=p, output_padding=op, dilation=d
            )
            assert F.conv_output_size(m, k, stride=s, padding=p, dilation=d) == n


def test_conv_transpose_output_size_pairs_and_known_values():
    assert F.conv_transpose_output_size(2, 3, stride=2, padding=1, output_padding=1) == 4  # lecture
    assert F.conv_transpose_output_size(2, 3, stride=2) == 5
    assert F.conv_transpose_output_size(16, 4, stride=2, padding=1) == 32  # DCGAN / FCN upsampling
    got = F.conv_transpose_output_size(
        (2, 3), (3, 2), stride=(2, 1), padding=(1, 0), output_padding=(1, 0)
    )
    assert got == (4, 4) and isinstance(got, tuple)
    x = np.zeros((1, 1, 3, 2))
    w = np.zeros((1, 1, 2, 3))
    y = R.conv_transpose2d_naive(x, w, None, (2, 3), (1, 0), (1, 2), (1, 2))
    assert (
        F.conv_transpose_output_size((3, 2), (2, 3), (2, 3), (1, 0), (1, 2), (1, 2)) == y.shape[2:]
    )


def test_conv_transpose_output_size_non_positive_is_value_error():
    with pytest.raises(ValueError):
        F.conv_transpose_output_size(1, 1, padding=1)  # 0 - 2 + 0 + 0 + 1 = -1
    with pytest.raises(ValueError):
        F.conv_transpose_output_size((3, 1), (3, 1), padding=(0, 1))  # W: 0 - 2 + 0 + 1 = -1


def test_conv_transpose_output_size_output_padding_below_dilation():
    """output_padding smaller than dilation (though not than stride) is allowed (PyTorch)."""
    assert F.conv_transpose_output_size(4, 3, stride=1, dilation=2, output_padding=1) == 9


# ------------------------------------------------------------------ receptive_field
def _receptive_field_brute(layers):
    """Follow the input positions feeding output 0 and output 1 back through each layer
    (no padding: position i of a layer reads i*s + t*d, t < k, of the layer below)."""

    def support(pos):
        cur = {pos}
        for k, s, d in reversed(layers):
            cur = {i * s + t * d for i in cur for t in range(k)}
        return cur

    s0, s1 = support(0), support(1)
    return max(s0) - min(s0) + 1, min(s1) - min(s0)


@pytest.mark.parametrize("L", [1, 2, 3, 5, 10])
def test_receptive_field_of_stacked_3x3_convs_is_1_plus_2L(L):
    rf, stride = F.receptive_field([(3, 1, 1)] * L)
    assert (rf, stride) == (1 + 2 * L, 1)
    assert _is_int(rf) and _is_int(stride)


@pytest.mark.parametrize("i", range(0, 7))
def test_receptive_field_yu_koltun_exponential_growth(i):
    """Yu & Koltun (2016): 3x3 convs with dilations 1, 2, 4, ..., 2^i have a receptive field
    of 2^(i+2) - 1 (3, 7, 15, 31, ...): exponential growth with linear depth."""
    layers = [(3, 1, 2**j) for j in range(i + 1)]
    rf, stride = F.receptive_field(layers)
    assert rf == 2 ** (i + 2) - 1
    assert stride == 1
    assert (rf, stride) == _receptive_field_brute(layers)


@pytest.mark.parametrize(
    "layers",
    [
        [(7, 2, 1), (3, 2, 1), (3, 1, 1), (3, 1, 1)],  # a ResNet-like stem
        [(3, 1, 1), (2, 2, 1), (3, 1, 1), (2, 2, 1), (3, 1, 1)],  # conv/pool/conv/pool/conv
        [(3, 2, 2), (1, 1, 1), (5, 3, 1), (3, 1, 3)],
        [(1, 1, 1)],
        [(4, 4, 1), (4, 4, 1), (4, 4, 1)],  # patchify (non-overlapping windows)
    ],
)
def test_receptive_field_vs_brute_force(layers):
    """Receptive field and effective stride (the product of strides) vs tracing positions."""
    rf, stride = F.receptive_field(layers)
    assert (rf, stride) == _receptive_field_brute(layers)
    assert stride == int(np.prod([s for _, s, _ in layers]))


def test_receptive_field_vgg16_conv5():
    """VGG-16 up to conv5_3 (13 3x3 convs, 4 2x2/2 pools before conv5): 196, stride 16."""
    c, pool = (3, 1, 1), (2, 2, 1)
    layers = [c, c, pool, c, c, pool, c, c, c, pool, c, c, c, pool, c, c, c]
    assert F.receptive_field(layers) == (196, 16)


def test_receptive_field_bad_layer():
    with pytest.raises(ValueError):
        F.receptive_field([(3, 0, 1)])
