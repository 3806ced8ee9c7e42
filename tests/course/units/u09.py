"""Unit 09 (dense CRF): classic wrong answers and independent computations.

Read by ``tests/course/test_units.py``. ``MISTAKES``: ``(exercise id, what the mistake is,
the exercise cell's replacement source)``; each must lose points in the public check of its
exercise. ``INDEPENDENT``: answer name -> a function computing the instructor's answer
another way. ``REFERENCE``: write-it answer name -> a function that raises unless the
instructor's function agrees with the library (``minisegnet.crf``).
"""

import itertools

import numpy as np

from minisegnet import crf
from minisegnet.crf.exact import gaussian_block
from minisegnet.crf.viz import load_photo

_STEP = '''
def mean_field_step(unary, kernel, Q, w):
    n, n_labels = unary.shape
    new = np.zeros((n, n_labels))
    for i in range(n):
        scores = np.zeros(n_labels)
        for l in range(n_labels):
            message = 0.0
            for j in range(n):
                if j != i:
                    message += w * kernel[i, j] * (1.0 - Q[j, l])
            scores[l] = -unary[i, l] - message
        e = np.exp(scores - scores.max())
        new[i] = e / e.sum()
    return new
'''


def _step(old, new):
    assert old in _STEP, old
    return _STEP.replace(old, new)


_GRADIENT = '''
def unary_gradient(q, dq):
    return -q * (dq - (q * dq).sum(axis=0, keepdims=True))
'''

MISTAKES = [
    ("09.2", "the pixel's own kernel entry kept (j = i not skipped)",
     _step("if j != i:", "if True:")),
    ("09.2", "the message added instead of subtracted",
     _step("-unary[i, l] - message", "-unary[i, l] + message")),
    ("09.2", "Q_j(l) instead of 1 - Q_j(l)", _step("(1.0 - Q[j, l])", "Q[j, l]")),
    ("09.2", "no normalisation over the labels", _step("new[i] = e / e.sum()", "new[i] = e")),
    ("09.2", "normalised over the pixels instead of the labels", '''
def mean_field_step(unary, kernel, Q, w):
    n, n_labels = unary.shape
    scores = np.zeros((n, n_labels))
    for i in range(n):
        for l in range(n_labels):
            message = sum(w * kernel[i, j] * (1.0 - Q[j, l]) for j in range(n) if j != i)
            scores[i, l] = -unary[i, l] - message
    e = np.exp(scores)
    return e / e.sum(axis=0, keepdims=True)
'''),
    ("09.4", "the sign of a = -U forgotten", _GRADIENT.replace("return -q", "return q")),
    ("09.4", "the <q, dq> term left out", _GRADIENT.replace(" - (q * dq).sum(axis=0, keepdims=True)", "")),
    ("09.4", "<q, dq> summed over the wrong axis",
     _GRADIENT.replace("sum(axis=0, keepdims=True)", "sum(axis=-1, keepdims=True)")),
    ("09.1", "the CRF taken to paint pixel (0, 2) red", "pixel_02 = 0\nn_minimisers = 1\n"),
    ("09.3", "pixels counted instead of pairs", "entries = 300 * 451\npair_growth = 4\n"),
]


def _toy_energies(w):
    """The energies of the 64 labellings of the notebook's 2x3 toy, by a plain double loop
    over the pairs with the kernel written out (no pairwise_features, no gaussian_block)."""
    red, blue = (200, 40, 40), (40, 60, 200)
    colours = [red, red, blue, red, red, blue]
    p_red = [0.90, 0.80, 0.15, 0.85, 0.40, 0.10]
    out = []
    for labels in itertools.product([0, 1], repeat=6):
        energy = sum(-np.log(p if x == 0 else 1 - p) for p, x in zip(p_red, labels))
        for i in range(6):
            for j in range(i + 1, 6):
                if labels[i] != labels[j]:
                    dy, dx = i // 3 - j // 3, i % 3 - j % 3
                    dc = sum((a - b) ** 2 for a, b in zip(colours[i], colours[j]))
                    energy += w * np.exp(-(dy * dy + dx * dx) / (2 * 3.0 ** 2) - dc / (2 * 30.0 ** 2))
        out.append((energy, labels))
    return out


def _map_pixel_02():
    return min(_toy_energies(3.0))[1][2]


def _n_minimisers():
    energies = np.array([e for e, _ in _toy_energies(3.0)])
    return int(np.isclose(energies, energies.min()).sum())


def _pair_growth():
    """The kernel matrices of a 64-pixel and a 256-pixel image, counted."""
    photo = load_photo("chelsea")
    small = gaussian_block(crf.pairwise_features(photo[:8, :8].copy(), 3.0), slice(0, 64))
    large = gaussian_block(crf.pairwise_features(photo[:16, :16].copy(), 3.0), slice(0, 256))
    return large.size // small.size


INDEPENDENT = {
    "pixel_02": _map_pixel_02,
    "n_minimisers": _n_minimisers,
    "entries": lambda: int(np.prod(load_photo("chelsea").shape[:2])) ** 2,
    "pair_growth": _pair_growth,
}


def _check_step(mean_field_step):
    """One step from softmax(-U) is one iteration of crf.mean_field_forward (exact kernel,
    no normalisation, self excluded, appearance kernel only)."""
    rng = np.random.default_rng(9)
    image = (rng.random((3, 4, 3)) * 255).astype(np.uint8)
    unary = rng.random((3, 3, 4)) * 2
    q1, _ = crf.mean_field_forward(unary, image, n_iter=1, compat_gaussian=0.0, sxy_bilateral=2.0,
                                   srgb=50.0, compat_bilateral=1.7, method="exact",
                                   normalization="none", exclude_self=True)
    kernel = gaussian_block(crf.pairwise_features(image, 2.0, 50.0), slice(0, 12))
    u = unary.reshape(3, -1).T
    q0 = np.exp(-u) / np.exp(-u).sum(axis=1, keepdims=True)
    assert np.allclose(mean_field_step(u, kernel, q0, 1.7), q1.reshape(3, -1).T)


def _check_gradient(unary_gradient):
    """unary_gradient is crf.mean_field_backward with both kernel weights zero."""
    rng = np.random.default_rng(10)
    image = (rng.random((4, 5, 3)) * 255).astype(np.uint8)
    unary, dq = rng.standard_normal((3, 4, 5)), rng.standard_normal((3, 4, 5))
    q, cache = crf.mean_field_forward(unary, image, n_iter=2, method="exact",
                                      compat_gaussian=0.0, compat_bilateral=0.0)
    assert np.allclose(unary_gradient(q, dq), crf.mean_field_backward(dq, cache))


REFERENCE = {"mean_field_step": _check_step, "unary_gradient": _check_gradient}
