"""Unit 08, hidden tests: the write-it exercise on shapes the public tests do not use."""

import pytest


@pytest.mark.exercise("08.1")
@pytest.mark.points(1)
def test_crop_and_concat_no_crop(check, data):
    """equal sizes: nothing to crop; a batch of three"""
    check("crop_and_concat", skip=data.uniform((3, 2, 5, 7), seed=821),
          up=data.uniform((3, 4, 5, 7), seed=822))


@pytest.mark.exercise("08.1")
@pytest.mark.points(1)
def test_crop_and_concat_tall_and_wide_margins(check, data):
    """margins of 1 in height and 5 in width, one channel each"""
    check("crop_and_concat", skip=data.distinct((1, 1, 4, 15), seed=823),
          up=data.distinct((1, 1, 3, 10), seed=824))
    check("crop_and_concat", skip=data.distinct((2, 2, 7, 3), seed=825),
          up=data.distinct((2, 1, 2, 2), seed=826))
