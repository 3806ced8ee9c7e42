"""Unit 07, hidden tests: the write-it exercise on cases the public tests do not use."""

import pytest


@pytest.mark.exercise("07.1")
@pytest.mark.points(1)
def test_adaptive_loop_more_bins_than_pixels(check, data):
    """more bins than pixels (pixels repeat): 5x3 -> 7x4"""
    check("adaptive_avg_pool_loop", x=data.uniform((1, 2, 5, 3), seed=761), output_size=(7, 4))


@pytest.mark.exercise("07.1")
@pytest.mark.points(1)
def test_adaptive_loop_global_and_identity(check, data):
    """one bin (global average) and as many bins as pixels (the identity)"""
    check("adaptive_avg_pool_loop", x=data.uniform((2, 2, 9, 6), seed=762), output_size=(1, 1))
    check("adaptive_avg_pool_loop", x=data.uniform((1, 3, 4, 7), seed=763), output_size=(4, 7))
