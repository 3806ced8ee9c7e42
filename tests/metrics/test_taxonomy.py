"""Tests of label remapping into a unified taxonomy and of the harmonic mean across data sets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from minisegnet import backend
from minisegnet import metrics as M


def _np(a):
    return backend.to_numpy(a)


def test_remap_with_a_dict(to_dev):
    """Source classes 0 road, 1 sidewalk, 2 person, 3 rider, 4 sky -> unified 0 ground,
    1 human, 2 sky: road and sidewalk merge, person and rider merge, class 5 is unmapped."""
    mapping = {0: 0, 1: 0, 2: 1, 3: 1, 4: 2}
    label_map = np.array([[0, 1, 2, 3], [4, 5, 255, 2]], dtype=np.uint8)
    out = M.remap_labels(to_dev(label_map), mapping)
    np.testing.assert_array_equal(_np(out), [[0, 0, 1, 1], [2, 255, 255, 1]])
    assert out.dtype == np.uint8 and backend.device_of(out) == backend.device_of(to_dev(label_map))
    out = M.remap_labels(to_dev(label_map), mapping, ignore_index=-1)
    np.testing.assert_array_equal(_np(out), [[0, 0, 1, 1], [2, -1, -1, 1]])
    assert out.dtype == np.int64  # -1 does not fit in uint8


def test_remap_with_a_table_and_odd_labels(to_dev):
    lut = np.array([3, 3, 0, 255, 1])  # 3 -> ignore explicitly
    label_map = np.array([[-2, 0, 1, 2], [3, 4, 5, 1000]], dtype=np.int32)
    out = M.remap_labels(to_dev(label_map), lut)
    np.testing.assert_array_equal(_np(out), [[255, 3, 3, 0], [255, 1, 255, 255]])
    assert out.dtype == np.int32
    np.testing.assert_array_equal(_np(M.remap_labels(to_dev(label_map), [3, 3])),
                                  [[255, 3, 3, 255], [255, 255, 255, 255]])
    np.testing.assert_array_equal(_np(M.remap_labels(to_dev(label_map), {})), np.full((2, 4), 255))


def test_remap_matches_a_loop(to_dev):
    rng = np.random.default_rng(0)
    mapping = {int(s): int(t) for s, t in zip(rng.choice(40, 25, replace=False), rng.integers(0, 12, 25))}
    label_map = rng.integers(-5, 50, (3, 17, 19))
    out = _np(M.remap_labels(to_dev(label_map), mapping))
    expected = np.vectorize(lambda v: mapping.get(int(v), 255))(label_map)
    np.testing.assert_array_equal(out, expected)


def test_remap_then_score_in_the_unified_taxonomy():
    """Two data sets with different class lists, both scored in one taxonomy."""
    a_names = ["road", "car", "person"]
    b_names = ["vehicle", "road", "pedestrian", "tree"]
    unified = ["road", "vehicle", "person"]
    a_map = M.mapping_from_names(a_names, unified, aliases={"car": "vehicle"})
    b_map = M.mapping_from_names(b_names, unified, aliases={"pedestrian": "person"})
    assert a_map == {0: 0, 1: 1, 2: 2} and b_map == {0: 1, 1: 0, 2: 2}  # "tree" left out
    target_b = np.array([0, 1, 2, 3, 1])
    pred = np.array([1, 0, 2, 0, 0])  # a model that predicts unified classes
    cm = M.confusion_matrix(pred, M.remap_labels(target_b, b_map), 3)
    assert M.mean_iou(cm) == 1.0  # the tree pixel is ignored, not counted wrong


def test_bad_mappings():
    with pytest.raises(ValueError, match=r"remap_labels: mapping's source labels must be in \[0,"):
        M.remap_labels(np.zeros(3, int), {-1: 0})
    with pytest.raises(TypeError, match="mapping must map int labels to int labels"):
        M.remap_labels(np.zeros(3, int), {0: 1.5})
    with pytest.raises(TypeError, match="mapping must be a dict or a 1-D integer array"):
        M.remap_labels(np.zeros(3, int), np.zeros((2, 2), int))
    with pytest.raises(TypeError, match="mapping must be a dict or a 1-D integer array"):
        M.remap_labels(np.zeros(3, int), np.array([0.5, 1.0]))
    with pytest.raises(TypeError, match="remap_labels: label_map must hold integer labels"):
        M.remap_labels(np.zeros(3), {0: 1})
    with pytest.raises(TypeError, match="remap_labels: ignore_index must be an int"):
        M.remap_labels(np.zeros(3, int), {0: 1}, ignore_index=None)
    with pytest.raises(ValueError, match="alias 'car' -> 'auto' names no class"):
        M.mapping_from_names(["car"], ["vehicle"], aliases={"car": "auto"})
    np.testing.assert_array_equal(M.mapping_lut({1: 4}, size=4), [255, 4, 255, 255])


def test_harmonic_mean():
    assert M.harmonic_mean([0.5, 0.25]) == pytest.approx(2 / (2 + 4))
    by_name = {"cityscapes": 0.6, "ade20k": 0.3, "voc": 0.6}
    assert M.harmonic_mean(by_name) == pytest.approx(3 / (1 / 0.6 * 2 + 1 / 0.3))
    assert M.harmonic_mean([0.7]) == pytest.approx(0.7)
    assert M.harmonic_mean([0.9, 0.0, 0.8]) == 0.0
    assert M.harmonic_mean(np.array([0.4, 0.4])) == pytest.approx(0.4)
    scores = [0.2, 0.5, 0.9]
    assert M.harmonic_mean(scores) <= np.mean(scores)  # dragged down by the worst
    with pytest.raises(ValueError, match="harmonic_mean: scores must not be empty"):
        M.harmonic_mean({})
    with pytest.raises(ValueError, match="finite and >= 0"):
        M.harmonic_mean([0.5, -0.1])
    with pytest.raises(ValueError, match="finite and >= 0"):
        M.harmonic_mean([0.5, math.nan])
    with pytest.raises(TypeError, match="scores must be numbers"):
        M.harmonic_mean(["0.5"])


def test_metrics_imports_stay_light():
    """``minisegnet.metrics`` imports neither matplotlib nor CuPy, and only ``backend`` and
    ``_checks`` of the package (it stands beside ``functional``, never above it)."""
    import pathlib
    import subprocess
    import sys

    code = ("import sys, minisegnet.metrics; "
            "assert 'matplotlib' not in sys.modules and 'cupy' not in sys.modules, 'heavy import'")
    subprocess.run([sys.executable, "-c", code], check=True)
    package = pathlib.Path(M.__file__).parent
    for path in package.glob("*.py"):
        for line in path.read_text().splitlines():
            if line.lstrip().startswith(("from ..", "import minisegnet")):
                assert line.split()[1] in ("..backend", ".._checks"), f"{path.name}: {line}"
