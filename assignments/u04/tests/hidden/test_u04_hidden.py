"""Unit 04, hidden tests: the scatter loop on parameters the public tests do not use."""

import pytest

CASES = {  # (input shape, weight shape, stride, padding, output_padding)
    "fcn-style-and-no-overlap": [((2, 1, 3, 5), (1, 2, 4, 4), 2, 1, 0),
                                 ((1, 2, 4, 3), (2, 1, 2, 2), 2, 0, 0)],
    "stride-one-and-wide": [((1, 2, 5, 4), (2, 3, 3, 3), 1, 1, 0),
                            ((1, 1, 2, 3), (1, 1, 3, 3), 3, 0, 2),
                            ((1, 3, 1, 1), (3, 2, 3, 3), 2, 1, 1)],
}


@pytest.mark.exercise("04.1")
@pytest.mark.points(1)
@pytest.mark.parametrize("case", sorted(CASES))
def test_scatter_other_parameters(check, data, case):
    """other strides, kernels, paddings; non-square inputs; a 1x1 input"""
    for number, (x_shape, w_shape, stride, padding, output_padding) in enumerate(CASES[case]):
        check("conv_transpose_scatter", x=data.uniform(x_shape, seed=410 + number),
              w=data.uniform(w_shape, seed=420 + number), stride=stride, padding=padding,
              output_padding=output_padding)
