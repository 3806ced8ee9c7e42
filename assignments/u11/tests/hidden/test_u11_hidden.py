"""Unit 11, hidden tests: the write-it exercise on inputs the public tests do not use."""

import numpy as np
import pytest


@pytest.mark.exercise("11.1")
@pytest.mark.points(1)
def test_remap_a_batch_of_maps(check, data):
    """a (3, 4, 6) batch, the Parks -> universal mapping, a few ignored pixels"""
    labels = data.integers((3, 4, 6), seed=1111, low=0, high=7, dtype=np.uint8)
    labels[1, 2, :] = 255
    check("remap_loop", labels=labels, sources=np.arange(7),
          targets=np.array([0, 1, 1, 2, 4, 5, 3]))


@pytest.mark.exercise("11.1")
@pytest.mark.points(1)
def test_remap_chains_and_empty_mappings(check, data):
    """a chain 3 -> 2 -> 1 -> 0 on int64 labels, and an empty mapping"""
    check("remap_loop", labels=data.integers((8, 3), seed=1112, low=0, high=5),
          sources=np.array([3, 2, 1]), targets=np.array([2, 1, 0]))
    check("remap_loop", labels=data.integers((2, 5), seed=1113, low=0, high=4),
          sources=np.zeros(0, dtype=np.int64), targets=np.zeros(0, dtype=np.int64))
