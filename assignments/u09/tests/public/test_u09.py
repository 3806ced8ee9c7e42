"""Unit 09, public tests of the notebook's exercises (what ``check`` runs)."""

import pytest

UPDATE = ("scores_i(l) = -unary[i, l] - w * sum_{j != i} kernel[i, j] * (1 - Q[j, l]), then a "
          "softmax of the scores over the labels")


@pytest.mark.exercise("09.1")
@pytest.mark.points(1)
def test_map_pixel_02(check):
    """the MAP label of pixel (0, 2) with w = 3"""
    check("number", name="pixel_02", secret=True)


@pytest.mark.exercise("09.1")
@pytest.mark.points(1)
def test_number_of_minimisers(check):
    """how many labellings share the lowest energy with w = 3"""
    check("number", name="n_minimisers", secret=True,
          hint="list the energies of the candidates you think of: all pixels red, the MAP of w = 1, ...")


@pytest.mark.exercise("09.2")
@pytest.mark.points(1)
def test_mean_field_step_six_pixels(check, data):
    """6 pixels, 2 labels, from Q = softmax(-unary): the kernel's diagonal is 1"""
    check("mean_field_step", unary=data.uniform((6, 2), seed=921, low=0.1, high=2.0),
          features=data.uniform((6, 3), seed=922, low=0.0, high=1.5), w=1.0,
          hint="the message sums over the OTHER pixels j != i: the kernel's diagonal "
               "k(f_i, f_i) = 1 must be left out. " + UPDATE)


@pytest.mark.exercise("09.2")
@pytest.mark.points(1)
def test_mean_field_step_three_labels(check, data):
    """7 pixels, 3 labels, weight 2.5, Q not the softmax of the unary"""
    check("mean_field_step", unary=data.uniform((7, 3), seed=923, low=0.0, high=3.0),
          features=data.uniform((7, 4), seed=924, low=0.0, high=2.0), w=2.5,
          q_scores=data.uniform((7, 3), seed=925, low=-2.0, high=2.0),
          hint="the message is SUBTRACTED from -unary (it penalises the labels the neighbours do "
               "not take) and uses 1 - Q_j(l); the softmax runs over the labels of one pixel. " + UPDATE)


@pytest.mark.exercise("09.2")
@pytest.mark.points(1)
def test_mean_field_step_without_pairwise_terms(check, data):
    """w = 0: the update is the softmax of -unary"""
    check("mean_field_step", unary=data.uniform((5, 4), seed=926, low=0.0, high=4.0),
          features=data.uniform((5, 2), seed=927), w=0.0,
          hint="each row of the result is a distribution over the labels: exp(-unary[i]) "
               "divided by its sum over the labels")


@pytest.mark.exercise("09.3")
@pytest.mark.points(1)
def test_entries_of_one_message_pass(check):
    """the kernel entries of one exact pass over the full photograph"""
    check("number", name="entries", secret=True,
          hint="N = H * W pixels of the full photograph (big.shape), N * N entries")


@pytest.mark.exercise("09.3")
@pytest.mark.points(1)
def test_growth_of_the_pairs(check):
    """the growth of the pair count from 32x32 to 64x64"""
    check("number", name="pair_growth", secret=True, hint="4 times the pixels")


@pytest.mark.exercise("09.4")
@pytest.mark.points(1)
def test_unary_gradient_three_labels(check, data):
    """3 labels on a 4x5 image"""
    check("unary_gradient", scores=data.uniform((3, 4, 5), seed=941, low=-2.0, high=2.0),
          dq=data.uniform((3, 4, 5), seed=942),
          hint="da = q * (dq - sum over the labels of q * dq), and dU = -da (a = -U)")


@pytest.mark.exercise("09.4")
@pytest.mark.points(1)
def test_unary_gradient_sums_over_labels(check, data):
    """2 labels on a 1x6 image: the inner sum runs over the labels (axis 0)"""
    check("unary_gradient", scores=data.uniform((2, 1, 6), seed=943, low=-3.0, high=3.0),
          dq=data.uniform((2, 1, 6), seed=944),
          hint="<q, dq> is a sum over the LABEL axis 0, one value per pixel (keepdims=True)")
