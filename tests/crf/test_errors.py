"""Bad input is a clear ValueError/TypeError raised before any work (API.md, Conventions)."""

from __future__ import annotations

import numpy as np
import pytest

from minisegnet.crf import mean_field_backward, mean_field_forward, meanfield, unary_from_probabilities

U = np.zeros((3, 4, 5))
IMG = np.zeros((4, 5, 3), dtype=np.uint8)


@pytest.mark.parametrize("unary, image, kwargs, error, words", [
    (U, np.zeros((4, 5), np.uint8), {}, ValueError, ["image", "3 dims", "(4, 5)"]),
    (U, np.zeros((4, 5, 4), np.uint8), {}, ValueError, ["image", "(H, W, 3)", "(4, 5, 4)"]),
    (U, np.zeros((4, 5, 3), np.float64), {}, TypeError, ["image", "uint8", "float64"]),
    (U, np.zeros((4, 5, 3), np.int64), {}, TypeError, ["image", "uint8", "int64"]),
    (U, [[[0, 0, 0]]], {}, TypeError, ["image", "array", "list"]),
    (U, np.zeros((5, 4, 3), np.uint8), {}, ValueError, ["unary", "match", "(3, 4, 5)", "(5, 4, 3)"]),
    (np.zeros((4, 5)), IMG, {}, ValueError, ["unary", "3 dims", "(L, H, W)", "(4, 5)"]),
    (np.zeros((3, 4, 5), np.int64), IMG, {}, TypeError, ["unary", "float32 or float64", "int64"]),
    (np.zeros((1, 4, 5)), IMG, {}, ValueError, ["unary", "at least 2 labels", "(1, 4, 5)"]),
    (np.full((3, 4, 5), np.nan), IMG, {}, ValueError, ["unary", "finite", "NaN"]),
    (np.full((3, 4, 5), np.inf), IMG, {}, ValueError, ["unary", "finite", "inf"]),
    (U, IMG, dict(n_iter=-1), ValueError, ["n_iter", ">= 0", "-1"]),
    (U, IMG, dict(n_iter=2.0), TypeError, ["n_iter", "int", "2.0"]),
    (U, IMG, dict(sxy_gaussian=0.0), ValueError, ["sxy_gaussian", "> 0", "0.0"]),
    (U, IMG, dict(sxy_bilateral=-80), ValueError, ["sxy_bilateral", "> 0", "-80"]),
    (U, IMG, dict(srgb=0), ValueError, ["srgb", "> 0", "0"]),
    (U, IMG, dict(srgb=float("nan")), TypeError, ["srgb", "finite", "nan"]),
    (U, IMG, dict(compat_bilateral="10"), TypeError, ["compat_bilateral", "real number", "'10'"]),
    (U, IMG, dict(compat_gaussian=float("inf")), TypeError, ["compat_gaussian", "finite", "inf"]),
    (U, IMG, dict(method="permutohedral"), ValueError, ["method", "'exact'", "'lattice'", "'auto'"]),
    (U, IMG, dict(normalization="paper"), ValueError, ["normalization", "'symmetric'", "'none'"]),
    (U, IMG, dict(exclude_self=1), TypeError, ["exclude_self", "bool"]),
    (U, IMG, dict(save_history="yes"), TypeError, ["save_history", "bool", "'yes'"]),
])
def test_bad_input_is_refused_with_a_clear_message(unary, image, kwargs, error, words):
    with pytest.raises(error) as info:
        mean_field_forward(unary, image, **kwargs)
    message = str(info.value)
    assert message.startswith("mean_field_forward:"), message
    for word in words:
        assert word in message, (word, message)


def test_errors_come_before_any_work(monkeypatch):
    """No kernel is built when an argument is bad (the last-checked one included)."""
    def fail(*args, **kwargs):
        raise AssertionError("work started before the checks")

    monkeypatch.setattr(meanfield, "_build_kernels", fail)
    monkeypatch.setattr(meanfield, "_iterate", fail)
    with pytest.raises(ValueError, match="finite"):
        mean_field_forward(np.full((3, 4, 5), np.nan), IMG)


def test_exact_method_refuses_large_images():
    big = np.zeros((2, 300, 300))
    with pytest.raises(ValueError, match="method='exact'.*lattice"):
        mean_field_forward(big, np.zeros((300, 300, 3), np.uint8), method="exact")


def test_backward_checks_its_arguments():
    q, cache = mean_field_forward(U, IMG, method="exact")
    with pytest.raises(TypeError, match="cache must be the cache returned by mean_field_forward"):
        mean_field_backward(q, {"kind": "mean_field"})
    with pytest.raises(ValueError, match=r"dQ must have shape \(3, 4, 5\), got \(3, 5, 4\)"):
        mean_field_backward(np.zeros((3, 5, 4)), cache)
    with pytest.raises(TypeError, match="dQ must be float64.*float32"):
        mean_field_backward(q.astype(np.float32), cache)
    with pytest.raises(ValueError, match="dQ must be finite"):
        mean_field_backward(np.full_like(q, np.inf), cache)


def test_mixing_devices_is_a_type_error():
    class FakeCupy(np.ndarray):  # looks like a CuPy array to backend.is_cupy_array
        pass

    FakeCupy.__module__ = "cupy._core.core"
    fake = U.view(FakeCupy)
    with pytest.raises(TypeError, match="NumPy and CuPy arrays mixed"):
        mean_field_forward(fake, IMG)


@pytest.mark.parametrize("prob, kwargs, words", [
    (np.full((1, 2, 2), 1.0), {}, ["prob", "L >= 2"]),
    (np.array([[0.5, np.nan], [0.5, 0.5]]), {}, ["prob", "finite"]),
    (np.full((2, 2, 2), 0.5), dict(scale=1.5), ["scale", "(0, 1]"]),
    (np.full((2, 2, 2), 0.5), dict(clip=0), ["clip", "(0, 1]"]),
    (np.array([[0.0, 1.0], [1.0, 0.0]]), dict(clip=None), ["zeros", "clip is None"]),
])
def test_unary_from_probabilities_refuses_bad_input(prob, kwargs, words):
    with pytest.raises(ValueError) as info:
        unary_from_probabilities(prob, **kwargs)
    for word in words:
        assert word in str(info.value)
    with pytest.raises(TypeError, match="float32 or float64"):
        unary_from_probabilities(np.ones((2, 3, 3), dtype=np.int64))
