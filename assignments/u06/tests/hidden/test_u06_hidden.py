"""Unit 06, hidden tests: the write-it exercise on cases the public tests do not use."""

import pytest


@pytest.mark.exercise("06.1")
@pytest.mark.points(1)
def test_definition_rate_beyond_the_image(check, data):
    """a rate larger than the image (only the centre tap is inside) and a 1x1 filter"""
    check("dilated_conv_by_definition", image=data.uniform((4, 5), seed=661),
          k=data.distinct((3, 3), seed=662), rate=6)
    check("dilated_conv_by_definition", image=data.uniform((3, 7), seed=663),
          k=data.distinct((1, 1), seed=664), rate=2)


@pytest.mark.exercise("06.1")
@pytest.mark.points(1)
def test_definition_thin_images(check, data):
    """a one-row image and a one-column image, rate 2"""
    check("dilated_conv_by_definition", image=data.uniform((1, 12), seed=665),
          k=data.distinct((3, 3), seed=666), rate=2)
    check("dilated_conv_by_definition", image=data.uniform((10, 1), seed=667),
          k=data.distinct((5, 5), seed=668), rate=2)
