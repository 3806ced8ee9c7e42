"""PSPNet's augmentation keeps image and labels aligned and pads labels with ignore."""

import numpy as np
import pytest
from scipy import ndimage

from minisegnet import data
from minisegnet.data.augment import _sample_bilinear, _source_grid

PALETTE = np.array([[200, 30, 30], [30, 200, 30], [30, 30, 200], [220, 220, 40]], np.uint8)


def _blocky(rng, size=40):
    """A label map of a few rectangles and an image that is exactly its palette colour."""
    label = np.zeros((size, size), np.uint8)
    for c in (1, 2, 3):
        y, x = rng.integers(0, size - 10, 2)
        h, w = rng.integers(6, 20, 2)
        label[y:y + h, x:x + w] = c
    return PALETTE[label], label


@pytest.mark.parametrize("seed", range(6))
def test_nearest_image_equals_palette_of_warped_labels(seed):
    """With nearest-neighbour resampling for the image too, every labelled output pixel has
    exactly its class colour and every padded pixel is ignore + fill: one geometry for both."""
    rng = np.random.default_rng(seed)
    image, label = _blocky(rng)
    aug = data.Augment(blur=0.0, image_order=0, fill=127)
    out, out_label = aug(image, label, np.random.default_rng(100 + seed))
    valid = out_label != 255
    np.testing.assert_array_equal(out[valid], PALETTE[out_label[valid]])
    assert (out[~valid] == 127).all()


@pytest.mark.parametrize("seed", range(4))
def test_bilinear_image_matches_labels_away_from_edges(seed):
    rng = np.random.default_rng(seed)
    image, label = _blocky(rng)
    aug = data.Augment(blur=0.0)
    out, out_label = aug(image, label, np.random.default_rng(seed))
    # pixels whose 5×5 neighbourhood has one label (counting beyond the output's border as
    # padding): interpolation mixes nothing there
    flat = (ndimage.maximum_filter(out_label, 5, mode="constant", cval=255)
            == ndimage.minimum_filter(out_label, 5, mode="constant", cval=255)) & (out_label != 255)
    assert flat.sum() > 100
    diff = np.abs(out[flat].astype(int) - PALETTE[out_label[flat]].astype(int))
    assert diff.max() <= 1


def test_mirror_only_flips_both():
    image, label = _blocky(np.random.default_rng(0))
    aug = data.Augment(mirror=True, scale=(1, 1), rotation=0, blur=0)
    seen = set()
    for k in range(8):
        out, out_label = aug(image, label, np.random.default_rng(k))
        if np.array_equal(out_label, label):
            np.testing.assert_array_equal(out, image)
            seen.add("same")
        else:
            np.testing.assert_array_equal(out_label, label[:, ::-1])
            np.testing.assert_array_equal(out, image[:, ::-1])
            seen.add("flipped")
    assert seen == {"same", "flipped"}


def test_shrinking_pads_labels_with_ignore_and_image_with_fill():
    image, label = _blocky(np.random.default_rng(1))
    aug = data.Augment(mirror=False, scale=(0.5, 0.5), rotation=0, blur=0, fill=127)
    out, out_label = aug(image, label, np.random.default_rng(0))
    padded = out_label == 255
    assert 0.6 < padded.mean() < 0.85           # about 3/4 of the canvas is padding
    assert (out[padded] == 127).all()
    assert set(np.unique(out_label)) <= {0, 1, 2, 3, 255}


def test_panoptic_maps_move_with_the_labels():
    ds = data.make_shapes(2, "train", seed=0, size=48)
    aug = data.PSPNET_AUGMENT
    for i in range(2):
        out, lab, pan = aug(ds.images[i], ds.labels[i], np.random.default_rng(i), ds.panoptic[i])
        assert out.shape == ds.images[i].shape and out.dtype == np.uint8
        np.testing.assert_array_equal(pan[..., 0], lab)
        assert (pan[..., 1][lab == 255] == 0).all()


def test_same_rng_same_result_and_blur_only_touches_the_image():
    image, label = _blocky(np.random.default_rng(2))
    a = data.Augment(blur=1.0)(image, label, np.random.default_rng(5))
    b = data.Augment(blur=1.0)(image, label, np.random.default_rng(5))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    c = data.Augment(blur=0.0)(image, label, np.random.default_rng(5))
    np.testing.assert_array_equal(a[1], c[1])                 # labels: never blurred


def test_bilinear_sampler_matches_scipy():
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 255, (20, 24, 3)).astype(np.float32)
    matrix, offset, _ = data.Augment().sample(rng, (20, 24))
    grid = _source_grid((20, 24), matrix, offset)
    ours = _sample_bilinear(a, grid, 7.0)
    ref = np.stack([ndimage.map_coordinates(np.pad(a[..., c], 1, constant_values=7.0),
                                            [grid[0] + 1, grid[1] + 1], order=1, mode="nearest")
                    for c in range(3)], axis=-1)
    outside = (grid[0] < -0.5) | (grid[0] >= 19.5) | (grid[1] < -0.5) | (grid[1] >= 23.5)
    ref[outside] = 7.0                       # beyond half a pixel: padding, as the labels
    assert outside.any()
    np.testing.assert_allclose(ours, ref, atol=1e-3)


def test_bad_arguments():
    with pytest.raises(ValueError, match="scale"):
        data.Augment(scale=(2, 1))
    image, label = _blocky(np.random.default_rng(0))
    with pytest.raises(ValueError, match="label"):
        data.PSPNET_AUGMENT(image, label[:10], np.random.default_rng(0))
    with pytest.raises(ValueError, match="rng"):
        data.PSPNET_AUGMENT(image, label, None)


def test_augmented_batches():
    ds = data.make_context(6, "train", seed=0, size=48)
    x, y = next(ds.batches(4, np.random.default_rng(0), shuffle=True, augment=data.PSPNET_AUGMENT))
    assert x.shape == (4, 3, 48, 48) and y.shape == (4, 48, 48)
    assert set(np.unique(y)) <= set(range(ds.num_classes)) | {255}
