"""Unit 09, hidden tests: the write-it exercises on sizes the public tests do not use."""

import pytest


@pytest.mark.exercise("09.2")
@pytest.mark.points(1)
def test_mean_field_step_more_labels(check, data):
    """12 pixels, 5 labels, a strong weight"""
    check("mean_field_step", unary=data.uniform((12, 5), seed=951, low=0.0, high=5.0),
          features=data.uniform((12, 5), seed=952, low=0.0, high=1.0), w=4.0,
          q_scores=data.uniform((12, 5), seed=953, low=-3.0, high=3.0))


@pytest.mark.exercise("09.2")
@pytest.mark.points(1)
def test_mean_field_step_tiny_cases(check, data):
    """one pixel (no other pixel: no message), and two labels on two pixels"""
    check("mean_field_step", unary=data.uniform((1, 3), seed=954), features=data.uniform((1, 2), seed=955),
          w=7.0)
    check("mean_field_step", unary=data.uniform((2, 2), seed=956), features=data.uniform((2, 2), seed=957),
          w=0.5, q_scores=data.uniform((2, 2), seed=958))


@pytest.mark.exercise("09.4")
@pytest.mark.points(1)
def test_unary_gradient_many_labels(check, data):
    """6 labels on a 3x7 image, one label only on a 2x2 image"""
    check("unary_gradient", scores=data.uniform((6, 3, 7), seed=961, low=-4.0, high=4.0),
          dq=data.uniform((6, 3, 7), seed=962))
    check("unary_gradient", scores=data.uniform((1, 2, 2), seed=963), dq=data.uniform((1, 2, 2), seed=964))
