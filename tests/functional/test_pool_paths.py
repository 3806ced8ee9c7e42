"""The two max-pool implementations agree: the Numba kernel (CPU) and the vectorised
offset scan (the path CuPy arrays take). Both must match the naive loop reference, so a
GPU-only bug in the vectorised path is caught on the CPU too."""

import numpy as np
import pytest

from minisegnet.functional import pooling
from tests.reference_resample import max_pool2d_naive

CASES = [  # kernel, stride, padding: overlapping, strided, padded, non-square
    ((3, 3), (1, 1), (1, 1)),
    ((3, 3), (2, 2), (1, 1)),
    ((2, 2), (2, 2), (0, 0)),
    ((3, 2), (1, 2), (1, 1)),
    ((2, 3), (3, 1), (0, 1)),
]


@pytest.mark.parametrize("kernel, stride, padding", CASES)
@pytest.mark.parametrize("path", ["_max_pool_numba", "_max_pool_vectorised"])
def test_max_pool_paths_match_naive_reference(kernel, stride, padding, path):
    rng = np.random.default_rng(7)
    x = rng.integers(-3, 4, size=(2, 3, 9, 8)).astype(np.float64)  # many ties on purpose
    out = tuple(
        (x.shape[2 + a] + 2 * padding[a] - kernel[a]) // stride[a] + 1 for a in (0, 1))
    y, indices = getattr(pooling, path)(x, kernel, stride, padding, out)
    y_ref, indices_ref = max_pool2d_naive(x, kernel, stride, padding)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(indices, indices_ref)
