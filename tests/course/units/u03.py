"""Unit 03 (convolution as a matrix): classic wrong answers and independent computations.

Read by ``tests/course/test_units.py``. ``MISTAKES``: ``(exercise id, what the mistake is,
the exercise cell's replacement source)``; each must lose points in the public check of its
exercise. ``INDEPENDENT``: answer name -> a function computing the instructor's answer
another way (a library call or a loop, never the notebook's own formula).
"""

import numpy as np

from minisegnet import functional as F

MISTAKES = [
    ("03.1", "kernel flipped (a true convolution, not the cross-correlation)", '''
def conv1d_matrix(w, n, padding=0, stride=1):
    w = np.asarray(w, dtype=float)[::-1]
    k = len(w)
    n_out = (n + 2 * padding - k) // stride + 1
    matrix = np.zeros((n_out, n))
    for row in range(n_out):
        for tap in range(k):
            column = row * stride - padding + tap
            if 0 <= column < n:
                matrix[row, column] = w[tap]
    return matrix
'''),
    ("03.1", "off by one: the + 1 of the output size forgotten", '''
def conv1d_matrix(w, n, padding=0, stride=1):
    w = np.asarray(w, dtype=float)
    k = len(w)
    n_out = (n + 2 * padding - k) // stride
    matrix = np.zeros((n_out, n))
    for row in range(n_out):
        for tap in range(k):
            column = row * stride - padding + tap
            if 0 <= column < n:
                matrix[row, column] = w[tap]
    return matrix
'''),
    ("03.1", "columns for the padding: the matrix acts on the padded signal", '''
def conv1d_matrix(w, n, padding=0, stride=1):
    w = np.asarray(w, dtype=float)
    k = len(w)
    n_out = (n + 2 * padding - k) // stride + 1
    matrix = np.zeros((n_out, n + 2 * padding))
    for row in range(n_out):
        for tap in range(k):
            matrix[row, row * stride + tap] = w[tap]
    return matrix
'''),
    ("03.2", "the padding counted as taps (3 taps for every output)", "nnz_stride2 = 81\n"),
    ("03.3", "transposed index: output (p, q) in column q * H_out + p", '''
def im2col_loop(x, k, stride=1, padding=0, dilation=1):
    n, c, h, w = x.shape
    h_out = F.conv_output_size(h, k, stride, padding, dilation)
    w_out = F.conv_output_size(w, k, stride, padding, dilation)
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    cols = np.zeros((n, c * k * k, h_out * w_out))
    for p in range(h_out):
        for q in range(w_out):
            patch = xp[:, :, p * stride:p * stride + dilation * (k - 1) + 1:dilation,
                       q * stride:q * stride + dilation * (k - 1) + 1:dilation]
            cols[:, :, q * h_out + p] = patch.reshape(n, -1)
    return cols
'''),
    ("03.3", "dilation ignored: the patch is read contiguously", '''
def im2col_loop(x, k, stride=1, padding=0, dilation=1):
    n, c, h, w = x.shape
    h_out = F.conv_output_size(h, k, stride, padding, dilation)
    w_out = F.conv_output_size(w, k, stride, padding, dilation)
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    cols = np.zeros((n, c * k * k, h_out * w_out))
    for p in range(h_out):
        for q in range(w_out):
            patch = xp[:, :, p * stride:p * stride + k, q * stride:q * stride + k]
            cols[:, :, p * w_out + q] = patch.reshape(n, -1)
    return cols
'''),
    ("03.3", "rows ordered kernel position first, channel last", '''
def im2col_loop(x, k, stride=1, padding=0, dilation=1):
    n, c, h, w = x.shape
    h_out = F.conv_output_size(h, k, stride, padding, dilation)
    w_out = F.conv_output_size(w, k, stride, padding, dilation)
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    cols = np.zeros((n, c * k * k, h_out * w_out))
    for p in range(h_out):
        for q in range(w_out):
            patch = xp[:, :, p * stride:p * stride + dilation * (k - 1) + 1:dilation,
                       q * stride:q * stride + dilation * (k - 1) + 1:dilation]
            cols[:, :, p * w_out + q] = patch.transpose(0, 2, 3, 1).reshape(n, -1)
    return cols
'''),
    ("03.4", "off by one: the + 1 of the size formula forgotten", '''
after_conv = ((321 + 6 - 7) // 2, (481 + 6 - 7) // 2)
after_pool = ((after_conv[0] + 2 - 3) // 2, (after_conv[1] + 2 - 3) // 2)
aspp_padding = 3 * (5 - 1) // 2
'''),
    ("03.4", "'same' padding without the dilation: (k - 1) / 2", '''
after_conv = F.conv_output_size((321, 481), 7, stride=2, padding=3)
after_pool = F.conv_output_size(after_conv, 3, stride=2, padding=1)
aspp_padding = (5 - 1) // 2
'''),
    ("03.5", "C taken for symmetric", 'answer_03_5 = "a"\n'),
]


def _nnz_stride2():
    """Non-zeros of the library's sparse C for a kernel without zeros."""
    C = F.conv2d_matrix(np.ones((1, 1, 3, 3)), (6, 6), stride=2, padding=1)
    return int(np.count_nonzero(C.toarray() if hasattr(C, "toarray") else C))


def _stem():
    """(H, W) after the 7x7/2 convolution and the 3x3/2 max pool, from the ops' outputs."""
    y, _ = F.conv2d_forward(np.zeros((1, 1, 321, 481)), np.zeros((1, 1, 7, 7)), stride=2,
                            padding=3)
    z = F.max_pool2d_forward(y, 3, stride=2, padding=1)
    z = z[0] if isinstance(z, tuple) else z
    return tuple(y.shape[-2:]), tuple(z.shape[-2:])


def _same_padding():
    """The padding a 5x5 convolution with dilation 3 needs to keep a 13x13 input's size."""
    x = np.zeros((1, 1, 13, 13))
    for padding in range(20):
        y, _ = F.conv2d_forward(x, np.zeros((1, 1, 5, 5)), padding=padding, dilation=3)
        if y.shape == x.shape:
            return padding
    return None


def _symmetric_kernels():
    """Which option of 03.5 holds: try C against C^T for random kernels of each kind."""
    rng = np.random.default_rng(5)
    kinds = {"a": lambda w: w, "b": lambda w: w + w[::-1, ::-1], "c": lambda w: w + w.T}
    holds = {}
    for option, make in kinds.items():
        w = make(rng.standard_normal((3, 3)))
        C = F.conv2d_matrix(w[None, None], (5, 5), padding=1)
        C = C.toarray() if hasattr(C, "toarray") else np.asarray(C)
        holds[option] = bool(np.allclose(C, C.T))
    found = [option for option, ok in holds.items() if ok and option != "a"]
    return "a" if holds["a"] else (found[0] if len(found) == 1 else "d")


INDEPENDENT = {
    "nnz_stride2": _nnz_stride2,
    "after_conv": lambda: _stem()[0],
    "after_pool": lambda: _stem()[1],
    "aspp_padding": _same_padding,
    "answer_03_5": _symmetric_kernels,
}
