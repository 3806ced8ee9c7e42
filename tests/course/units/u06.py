"""Unit 06's exercises for the generic driver (``tests/course/test_units.py``).

``MISTAKES``: classic wrong answers, each an exercise cell's replacement source, that must
lose points in the public check. ``INDEPENDENT``: for every compute/predict answer, the
value computed another way (the library, a network run, a measured footprint), to compare
with the instructor's.
"""

import numpy as np

from minisegnet import functional as F
from minisegnet import nn

_LOOP = '''def dilated_conv_by_definition(image, k, l):
    r = k.shape[0] // 2
    H, W = image.shape
    out = np.zeros((H, W))
    for p0 in range(H):
        for p1 in range(W):
            for t0 in range(-r, r + 1):
                for t1 in range(-r, r + 1):
                    s0, s1 = {s0}, {s1}
                    if {inside}:
                        out[p0, p1] += image[s0, s1] * k[t0 + r, t1 + r]
    return out
'''
_RIGHT = dict(s0="p0 - l * t0", s1="p1 - l * t1", inside="0 <= s0 < H and 0 <= s1 < W")

MISTAKES = [
    ("06.1", "cross-correlation instead of the definition (filter not flipped)",
     _LOOP.format(**dict(_RIGHT, s0="p0 + l * t0", s1="p1 + l * t1"))),
    ("06.1", "the rate ignored (taps one pixel apart)",
     _LOOP.format(**dict(_RIGHT, s0="p0 - t0", s1="p1 - t1"))),
    ("06.1", "rows and columns of the filter swapped",
     _LOOP.format(**_RIGHT).replace("k[t0 + r, t1 + r]", "k[t1 + r, t0 + r]")),
    ("06.1", "negative positions wrap around instead of reading zero",
     _LOOP.format(**dict(_RIGHT, inside="s0 < H and s1 < W"))),
    ("06.2", "dilations added without the factor 2", "rf_1248 = 1 + 1 + 2 + 4 + 8\nplain_layers = 8\n"),
    ("06.3", "receptive field of the stride-8 map taken as 8 times smaller",
     "os16_side = 8\nos16_field = 187 // 2\n"),
    ("06.5", "rate instead of 2 * rate + 1", "largest_branch = 36\nfull_taps_24 = (17 / 65)\n"),
]


def _footprint(dilations, size):
    """Input pixels that reach the centre output of a stack of all-ones 3x3 convolutions."""
    layers = [nn.Conv2d(1, 1, 3, padding=d, dilation=d, bias=False) for d in dilations]
    net = nn.Sequential(*layers).to(dtype=np.float64)
    for conv in layers:
        conv.weight.data[...] = 1.0
    y = net(np.zeros((1, 1, size, size)))
    dy = np.zeros_like(y)
    dy[0, 0, size // 2, size // 2] = 1.0
    return net.backward(dy)[0, 0] > 0


def _width(mask):
    rows = np.flatnonzero(mask.any(axis=1))
    return int(rows[-1] - rows[0] + 1)


def _plain_layers():
    """Grow a plain stack until its measured footprint is as wide as rates 1, 2, 4, 8's."""
    target = _width(_footprint([1, 2, 4, 8], 65))
    depth = 1
    while _width(_footprint([1] * depth, 65)) < target:
        depth += 1
    return depth


def _os16():
    """Run the output-stride-16 backbone of the notebook; side of the last map, and the
    receptive field measured as the footprint of the centre output."""
    stages = [[(2, 1), (1, 1)]] * 4 + [[(1, 1), (1, 2)]]          # (stride, dilation)
    convs = [nn.Conv2d(1, 1, 3, stride=s, padding=d, dilation=d, bias=False)
             for stage in stages for s, d in stage]
    net = nn.Sequential(*convs).to(dtype=np.float64)
    side = net(np.zeros((1, 1, 128, 128))).shape[-1]
    for conv in convs:
        conv.weight.data[...] = 1.0
    y = net(np.zeros((1, 1, 512, 512)))
    dy = np.zeros_like(y)
    dy[0, 0, y.shape[2] // 2, y.shape[3] // 2] = 1.0
    return side, _width(net.backward(dy)[0, 0] > 0)


def _holes_option():
    options = {"a": [1, 2, 5], "b": [1, 3, 6], "c": [2, 3, 4], "d": [1, 2, 4]}
    with_holes = []
    for letter, rates in options.items():
        mask = _footprint(rates, 45)
        if mask.sum() < _width(mask) ** 2:
            with_holes.append(letter)
    (answer,) = with_holes
    return answer


def _full_taps(rate, m=65):
    count, _ = F.conv2d_forward(np.ones((1, 1, m, m)), np.ones((1, 1, 3, 3)), padding=rate,
                                dilation=rate)
    return float((count == 9).mean())


INDEPENDENT = {
    "rf_1248": lambda: _width(_footprint([1, 2, 4, 8], 65)),
    "plain_layers": _plain_layers,
    "os16_side": lambda: _os16()[0],
    "os16_field": lambda: _os16()[1],
    "answer_06_4": _holes_option,
    "largest_branch": lambda: max(F.receptive_field([(3, 1, b[0].dilation[0])])[0]
                                  for b in list(nn.ASPP(4, 4, rates=(12, 24, 36)).branches)[1:4]),
    "full_taps_24": lambda: _full_taps(24),
}
