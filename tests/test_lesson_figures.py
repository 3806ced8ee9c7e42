"""The lessons' figures: every figure a lesson embeds exists and is drawn by the generator
(``lessons/figures/make_figures.py``), every unit embeds at least two, and the generator
reproduces the committed PNGs (the figures that train nothing are redrawn here and compared
pixel by pixel, within a tolerance for anti-aliasing differences between library versions)."""

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = ROOT / "lessons"
FIGURES = LESSONS / "figures"
EMBED = re.compile(r"!\[[^\]]*\]\((figures/[^)\s]+)\)")


def _generator():
    spec = importlib.util.spec_from_file_location("make_figures", FIGURES / "make_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _embedded():
    """{lesson file name: [figure paths relative to lessons/]}"""
    return {path.name: EMBED.findall(path.read_text(encoding="utf-8"))
            for path in sorted(LESSONS.glob("[0-9][0-9]-*.md"))}


def test_every_unit_embeds_at_least_two_figures_that_exist():
    embedded = _embedded()
    units = {name[:2] for name in embedded}
    assert units == {f"{k:02d}" for k in range(1, 13)}
    for unit in sorted(units):
        figures = [f for name, found in embedded.items() if name.startswith(unit) for f in found]
        assert len(set(figures)) >= 2, f"unit {unit} embeds {len(set(figures))} figure(s)"
    for name, found in embedded.items():
        for rel in found:
            assert (LESSONS / rel).is_file(), f"{name} embeds {rel}, which does not exist"


def test_every_figure_is_embedded_and_drawn_by_the_generator():
    registered = set(_generator().FIGURES)
    embedded = {Path(rel).stem for found in _embedded().values() for rel in found}
    on_disk = {path.stem for path in FIGURES.glob("*.png")}
    assert embedded <= registered, f"embedded but not generated: {sorted(embedded - registered)}"
    assert on_disk <= embedded, f"PNG files no lesson embeds: {sorted(on_disk - embedded)}"
    assert registered <= on_disk, f"generated but not committed: {sorted(registered - on_disk)}"


def _read_png(path):
    from matplotlib.image import imread

    image = imread(str(path))
    return image[..., :3] if image.ndim == 3 else image


def _blocks(image, size=8):
    h, w = (s - s % size for s in image.shape[:2])
    image = image[:h, :w]
    return image.reshape(h // size, size, w // size, size, -1).mean(axis=(1, 3))


def _cheap():
    return [name for name, (_, cheap) in _generator().FIGURES.items() if cheap]


@pytest.mark.parametrize("name", _cheap())
def test_the_generator_reproduces_the_committed_figure(name, tmp_path):
    """Redraw one figure that trains nothing; same size, and the same pixels up to
    anti-aliasing: mean difference under 1 %, no 8×8 block off by more than 10 %."""
    pytest.importorskip("skimage")          # two figures draw scikit-image's photographs
    generator = _generator()
    fresh = _read_png(generator.render(name, tmp_path))
    committed = _read_png(FIGURES / f"{name}.png")
    assert fresh.shape == committed.shape
    diff = np.abs(fresh.astype(np.float64) - committed.astype(np.float64))
    assert diff.mean() < 0.01, f"{name}: mean pixel difference {diff.mean():.4f}"
    assert _blocks(diff).max() < 0.10, f"{name}: an 8×8 block differs by {_blocks(diff).max():.3f}"


def test_the_same_figure_is_drawn_twice_identically(tmp_path):
    """Determinism: fixed seeds, one thread, no timestamp in the PNG."""
    generator = _generator()
    a = generator.render("07-bins", tmp_path / "a").read_bytes()
    b = generator.render("07-bins", tmp_path / "b").read_bytes()
    assert a == b
    assert b"Software" not in a
