"""Tests of ``minisegnet.backend``: array-module dispatch and device moves.

The GPU round trips run only where CuPy and a GPU are usable; everything else is checked
with NumPy against the contract in API.md.
"""

from __future__ import annotations

import numpy as np
import pytest

from minisegnet import backend

needs_gpu = pytest.mark.skipif(not backend.gpu_available(), reason="needs CuPy and a GPU")


def test_gpu_available_returns_a_bool_and_never_raises():
    a = backend.gpu_available()
    b = backend.gpu_available()
    assert isinstance(a, bool)
    assert a == b


def test_get_array_module_numpy():
    x = np.zeros(3)
    assert backend.get_array_module(x) is np
    assert backend.get_array_module(x, np.ones((2, 2))) is np


def test_get_array_module_skips_none():
    """Optional inputs (a bias that is None) do not change the answer."""
    assert backend.get_array_module(None, np.zeros(2)) is np
    assert backend.get_array_module(np.zeros(2), None) is np
    assert backend.get_array_module(None) is np


def test_to_numpy_of_numpy_keeps_values_and_dtype():
    for dtype in (np.float32, np.float64, np.int64):
        x = np.arange(6, dtype=dtype).reshape(2, 3)
        y = backend.to_numpy(x)
        assert isinstance(y, np.ndarray)
        assert y.dtype == dtype
        np.testing.assert_array_equal(y, x)


def test_to_device_cpu_is_numpy():
    x = np.linspace(0, 1, 5, dtype=np.float32)
    y = backend.to_device(x, "cpu")
    assert isinstance(y, np.ndarray) and y.dtype == np.float32
    np.testing.assert_array_equal(y, x)
    assert backend.device_of(y) == "cpu"


@pytest.mark.parametrize("name", ["tpu", "cuda", "", "gpu0"])
def test_to_device_unknown_name_is_value_error(name):
    with pytest.raises(ValueError, match="device"):
        backend.to_device(np.zeros(2), name)


def test_device_of_numpy_is_cpu():
    assert backend.device_of(np.zeros((2, 2))) == "cpu"


@needs_gpu
def test_gpu_round_trip_keeps_values_and_dtype():
    for dtype in (np.float32, np.float64):
        x = np.random.default_rng(0).standard_normal((3, 4)).astype(dtype)
        g = backend.to_device(x, "gpu")
        assert type(g).__module__.split(".")[0] == "cupy"
        assert backend.device_of(g) == "gpu"
        assert backend.get_array_module(g).__name__ == "cupy"
        assert backend.get_array_module(None, g).__name__ == "cupy"
        assert g.dtype == dtype
        back = backend.to_numpy(g)
        assert isinstance(back, np.ndarray)
        np.testing.assert_array_equal(back, x)
        np.testing.assert_array_equal(backend.to_device(g, "cpu"), x)


@needs_gpu
def test_get_array_module_mixed_numpy_cupy_is_type_error():
    g = backend.to_device(np.zeros(2), "gpu")
    with pytest.raises(TypeError):
        backend.get_array_module(np.zeros(2), g)


def test_impl_setting_defaults_nests_and_restores():
    before = backend.get_impl()
    assert before in backend.IMPLS
    with backend.use_impl("reference"):
        assert backend.get_impl() == "reference"
        assert backend.fast_tier(np, "json") is None
        with backend.use_impl("fast"):
            assert backend.fast_tier(np, "json", worthwhile=False) is not None
        assert backend.get_impl() == "reference"
    assert backend.get_impl() == before


def test_fast_tier_rules():
    import json

    with backend.use_impl("auto"):
        assert backend.fast_tier(np, "json") is json
        assert backend.fast_tier(np, "json", worthwhile=False) is None
        assert backend.fast_tier(object(), "json", cpu_only=True) is None  # not NumPy: CuPy
        assert backend.fast_tier(object(), "json") is json
    with backend.use_impl("fast"):
        assert backend.fast_tier(object(), "json", cpu_only=True) is None


def test_a_fast_tier_that_is_not_shipped_means_the_reference_tier():
    """The student edition leaves out the fast tier of graded functions: ops fall back."""
    with backend.use_impl("fast"):
        assert backend.fast_tier(np, "minisegnet._no_such_fast_tier") is None


def test_impl_rejects_unknown_names():
    with pytest.raises(ValueError, match="impl must be one of 'auto', 'reference', 'fast'"):
        backend.set_impl("numba")
    with pytest.raises(ValueError, match="got 'quick'"):
        with backend.use_impl("quick"):
            pass
