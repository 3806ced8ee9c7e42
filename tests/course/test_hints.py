"""Hints fire on the condition they describe (issue 16): ``harness.hint_text`` and the
conditional hints of the assignments' public tests, on arrays that show one mistake each."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from minisegnet.course.harness import compare, hint_text

ROOT = Path(__file__).resolve().parents[2]


def _public(assignment, name):
    path = ROOT / "assignments" / assignment / "tests" / "public" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_hints_{assignment}_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _message(got, want, hint):
    with pytest.raises(AssertionError) as failure:
        compare(got, want, "probe", hint)
    return str(failure.value)


def test_plain_strings_always_show_and_conditions_only_when_true():
    got, want = {"y": np.zeros(2)}, {"y": np.ones(2)}
    assert hint_text("always", got, want) == "\nHint: always"
    fired = hint_text(["base", (lambda g, w: True, "yes"), (lambda g, w: False, "no")], got, want)
    assert fired == "\nHint: base\nHint: yes"
    assert hint_text([(lambda g, w: g["missing"], "broken condition")], got, want) == ""
    assert hint_text(None, got, want) == ""


def test_nan_where_nan_is_expected_passes():
    compare({"v": np.array([1.0, np.nan])}, {"v": np.array([1.0, np.nan])})


def test_confusion_hints_name_the_mistake_the_matrix_shows():
    tests = _public("a3", "test_confusion")
    rng = np.random.default_rng(0)
    want = rng.integers(0, 9, (4, 4))
    np.fill_diagonal(want, 20)
    want[0, 3] = 7          # not symmetric, so its transpose differs
    transposed = _message({"cm": want.T.copy()}, {"cm": want}, tests.CONFUSION)
    assert "transpose of the expected" in transposed and "more pixels" not in transposed
    extra = want.copy()
    extra[2, 1] += 5
    counted = _message({"cm": extra}, {"cm": want}, tests.CONFUSION)
    assert "more pixels" in counted and "transpose" not in counted


def test_uint8_hint_fires_only_when_codes_wrapped():
    tests = _public("a3", "test_confusion")
    hint = tests.CONFUSION + [(tests._counts_lost_to_wrapping, "uint8 labels must not overflow")]
    want = np.zeros((19, 19), dtype=np.int64)
    want[18, 18], want[1, 1] = 3, 4
    wrapped = np.zeros_like(want)
    wrapped[1, 1] = 4
    code = (18 * 19 + 18) % 256
    wrapped[code // 19, code % 19] = 3
    assert "overflow" in _message({"cm": wrapped}, {"cm": want}, hint)
    shifted = want.copy()
    shifted[1, 1], shifted[1, 2] = 3, 1
    assert "overflow" not in _message({"cm": shifted}, {"cm": want}, hint)


def test_the_size_hint_of_conv2d_fires_only_on_a_wrong_size():
    tests = _public("a1", "test_conv2d")
    want = {"y": np.ones((1, 3, 4, 3))}
    wrong_size = _message({"y": np.ones((1, 3, 3, 3))}, want, tests.SIZE)
    assert "H_out = floor" in wrong_size and "check im2col first" not in wrong_size
    wrong_values = _message({"y": np.zeros((1, 3, 4, 3))}, want, tests.SIZE)
    assert "check im2col first" in wrong_values and "H_out = floor" not in wrong_values
