"""Tier agreement for the dense CRF: the reference tier (array ops: ``functional.softmax``,
the lattice filtered with scatter-adds and gathers, the path CuPy arrays take) and the fast
tier (the fused Numba update, the Numba lattice filter) give the same forward ``Q`` and the
same gradients (unary and both compat weights) on random cases.

Cases: both normalisations, with and without ``exclude_self``, zero compat weights (the
fast tier then falls back to the kernel-by-kernel loop with Numba filters), ``n_iter`` 0, 1
and 5, float64 and float32, one image small enough for the serial Numba drivers and one
above ``PARALLEL_MIN_SIZE`` for the threaded ones; ``save_history`` both ways. Tolerances,
relative to the largest value: 1e-10 (float64) and 1e-3 (float32: five iterations with a
compat of 10 amplify rounding; each tier's float32 gradients differ from the float64 ones
by up to 3e-4 on these cases, and a wrong formula differs by O(1)).
"""

from __future__ import annotations

import numpy as np
import pytest

from minisegnet.crf import mean_field_forward, mean_field_gradients

from ._util import random_case

CASES = [  # (h, w, L), params
    ((9, 11, 3), {}),
    ((8, 10, 4), dict(n_iter=1, normalization="none", exclude_self=True, compat_gaussian=0.3,
                      compat_bilateral=0.05)),
    ((10, 9, 3), dict(exclude_self=True, sxy_bilateral=5.0, srgb=20.0)),
    ((7, 12, 2), dict(compat_gaussian=0.0)),
    ((9, 9, 3), dict(compat_bilateral=0.0, normalization="none", compat_gaussian=0.2)),
    ((6, 8, 3), dict(n_iter=0)),
    ((60, 70, 8), dict(save_history=True)),   # 33 600 values: the threaded drivers
    ((60, 70, 8), dict(compat_gaussian=-1.0, normalization="none", exclude_self=True,
                       compat_bilateral=0.02, n_iter=3)),
]


def _forward_and_gradients(unary, image, dq, params):
    q, cache = mean_field_forward(unary, image, method="lattice", **params)
    grads = mean_field_gradients(dq, cache)
    return q, grads.unary, np.array([grads.compat_gaussian, grads.compat_bilateral])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape, params", CASES)
def test_reference_and_fast_tiers_agree(shape, params, dtype, on_both_tiers):
    rng = np.random.default_rng(hash((shape, len(params))) % (1 << 32))
    h, w, n_labels = shape
    unary, image = random_case(rng, h, w, n_labels, dtype, spread=3.0)
    dq = rng.standard_normal(unary.shape).astype(dtype)
    reference, fast = on_both_tiers(_forward_and_gradients, unary, image, dq, params)
    rtol = 1e-10 if dtype == np.float64 else 1e-3
    for name, r, f in zip(("Q", "dunary", "dcompat"), reference, fast):
        assert f.dtype == r.dtype and f.shape == r.shape, name
        scale = max(float(np.abs(r).max()), 1e-3)
        err = float(np.abs(f - r).max()) / scale
        assert err < rtol, (name, err)
    if params.get("n_iter", 5) > 0 and all(params.get(k, 1) != 0 for k in ("compat_gaussian",
                                                                            "compat_bilateral")):
        assert np.abs(reference[2]).max() > 1e-3  # the compat gradients were really compared
