"""Unit 05, hidden tests: the write-it exercises on cases the public tests do not use."""

import numpy as np
import pytest


def pool_indices(a, k, stride, padding=0):
    """Max pooling with PyTorch's flat argmax indices, by loops (as in the public tests)."""
    n, c, h, w = a.shape
    h_out, w_out = (h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1
    values = np.full((n, c, h_out, w_out), -np.inf)
    indices = np.zeros((n, c, h_out, w_out), dtype=np.int64)
    for b in range(n):
        for ch in range(c):
            for p in range(h_out):
                for q in range(w_out):
                    for i in range(max(p * stride - padding, 0), min(p * stride - padding + k, h)):
                        for j in range(max(q * stride - padding, 0), min(q * stride - padding + k, w)):
                            if a[b, ch, i, j] > values[b, ch, p, q]:
                                values[b, ch, p, q], indices[b, ch, p, q] = a[b, ch, i, j], i * w + j
    return values, indices


@pytest.mark.exercise("05.1")
@pytest.mark.points(1)
def test_max_unpool_loop_overlapping_windows(check, data):
    """kernel 3, stride 2, padding 1 on 9x7: one pixel wins several windows (same value)"""
    values, indices = pool_indices(data.distinct((2, 2, 9, 7), seed=561), 3, 2, 1)
    assert len(np.unique(indices[0, 0])) < indices[0, 0].size     # the case has repeats
    check("max_unpool_loop", x=values, indices=indices, output_size=(9, 7))


@pytest.mark.exercise("05.1")
@pytest.mark.points(1)
def test_max_unpool_loop_negative_values_tall_plane(check, data):
    """negative values (zeros stay zeros) on a tall 8x3 plane, float32 values"""
    _, indices = pool_indices(data.distinct((3, 1, 8, 3), seed=562), 2, 2)
    x = (data.uniform((3, 1, 4, 1), seed=563) - 2.0).astype(np.float32)
    check("max_unpool_loop", x=x, indices=indices, output_size=(8, 3))


@pytest.mark.exercise("05.3")
@pytest.mark.points(1)
def test_bilinear_loop_shrinking(check, data):
    """shrinking 7x6 -> 3x4, and a single output row, both conventions"""
    for align_corners in (False, True):
        check("bilinear_upsample_loop", x=data.uniform((1, 3, 7, 6), seed=571), size=(3, 4),
              align_corners=align_corners)
        check("bilinear_upsample_loop", x=data.uniform((2, 1, 5, 4), seed=572), size=(1, 9),
              align_corners=align_corners)


@pytest.mark.exercise("05.3")
@pytest.mark.points(1)
def test_bilinear_loop_same_size_and_large_factor(check, data):
    """the same size (the identity) and a factor of 5 from a single column, both conventions"""
    for align_corners in (False, True):
        check("bilinear_upsample_loop", x=data.uniform((1, 2, 4, 5), seed=573), size=(4, 5),
              align_corners=align_corners)
        check("bilinear_upsample_loop", x=data.uniform((1, 1, 3, 1), seed=574), size=(15, 5),
              align_corners=align_corners)
