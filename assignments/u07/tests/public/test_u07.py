"""Unit 07, public tests of the notebook's exercises (what ``check`` runs)."""

import pytest

EDGES = ("bin i of b over n pixels is [floor(i*n/b), ceil((i+1)*n/b)): the end is rounded UP, "
         "so bins overlap when b does not divide n")


@pytest.mark.exercise("07.1")
@pytest.mark.points(1)
def test_adaptive_loop_three_bins(check, data):
    """13x13 -> 3x3 (the 3x3 level of the pyramid)"""
    check("adaptive_avg_pool_loop", x=data.uniform((1, 2, 13, 13), seed=701), output_size=(3, 3),
          hint=EDGES + "; every output is the mean of its window")


@pytest.mark.exercise("07.1")
@pytest.mark.points(1)
def test_adaptive_loop_six_bins(check, data):
    """13x13 -> 6x6: five rows and five columns belong to two bins"""
    check("adaptive_avg_pool_loop", x=data.uniform((2, 1, 13, 13), seed=702), output_size=(6, 6),
          hint=EDGES + " (floor((i+1)*n/b) for the end loses the shared row)")


@pytest.mark.exercise("07.1")
@pytest.mark.points(1)
def test_adaptive_loop_non_square(check, data):
    """two images, three channels, 10x7 -> 4x3"""
    check("adaptive_avg_pool_loop", x=data.uniform((2, 3, 10, 7), seed=703), output_size=(4, 3),
          hint="rows use H and b_H = output_size[0], columns W and b_W = output_size[1]; " + EDGES)


@pytest.mark.exercise("07.2")
@pytest.mark.points(1)
def test_bin_three_of_six(check):
    """(start, end) of bin 3 of 6 on 13 pixels"""
    check("number", name="bin3", secret=True,
          hint="a pair (start, end), end exclusive: " + EDGES)


@pytest.mark.exercise("07.2")
@pytest.mark.points(1)
def test_shared_rows(check):
    """rows of 13 that belong to two of 6 bins"""
    check("number", name="shared_rows", secret=True,
          hint="list the six bins; bin i ends at ceil((i+1)*13/6) and bin i+1 starts at "
               "floor((i+1)*13/6)")


@pytest.mark.exercise("07.3")
@pytest.mark.points(1)
def test_channels_with_reduction(check):
    """channels out of the PPM with the reduction"""
    check("number", name="with_dr", secret=True,
          hint="C + N * C/N: the identity branch comes first and is concatenated with the levels")


@pytest.mark.exercise("07.3")
@pytest.mark.points(1)
def test_channels_without_reduction(check):
    """channels out of the PPM without the reduction"""
    check("number", name="without_dr", secret=True,
          hint="without the reduction each of the N = 4 levels keeps all C channels, plus "
               "the input's C")


@pytest.mark.exercise("07.4")
@pytest.mark.points(1)
def test_poly_halfway(check):
    """the poly rate halfway through, against the linear decay"""
    check("choice", name="answer_07_4", options="abc", secret=True)


@pytest.mark.exercise("07.5")
@pytest.mark.points(1)
def test_baseline_mistake(check):
    """the FCN baseline's most frequent mistake"""
    check("choice", name="answer_07_5", options="abcd", secret=True)
