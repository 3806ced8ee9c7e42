"""The built-in data sets: deterministic from a seed, splits disjoint, labels consistent
with the pixels, panoptic maps consistent with the labels; the dataset container."""

import numpy as np
import pytest

from minisegnet import data
from minisegnet.data import CONTEXT_CLASSES, SHAPES_CLASSES

SIZE = 48


@pytest.fixture(scope="module")
def context():
    return data.make_context(12, "train", seed=3, size=SIZE)


@pytest.fixture(scope="module")
def shapes():
    return data.make_shapes(12, "train", seed=3, size=SIZE)


@pytest.mark.parametrize("make", [data.make_context, data.make_shapes])
def test_same_seed_same_pixels_and_sample_independent_of_n(make):
    a = make(3, "train", seed=7, size=SIZE)
    b = make(5, "train", seed=7, size=SIZE)
    np.testing.assert_array_equal(a.images, b.images[:3])
    np.testing.assert_array_equal(a.labels, b.labels[:3])
    np.testing.assert_array_equal(a.panoptic, b.panoptic[:3])


@pytest.mark.parametrize("make", [data.make_context, data.make_shapes])
def test_seeds_and_splits_differ(make):
    a = make(3, "train", seed=7, size=SIZE)
    assert not np.array_equal(a.images, make(3, "train", seed=8, size=SIZE).images)
    assert not np.array_equal(a.images, make(3, "val", seed=7, size=SIZE).images)


def test_dtypes_shapes_and_class_table(context, shapes):
    for ds, classes in ((context, CONTEXT_CLASSES), (shapes, SHAPES_CLASSES)):
        n = len(ds)
        assert ds.images.shape == (n, SIZE, SIZE, 3) and ds.images.dtype == np.uint8
        assert ds.labels.shape == (n, SIZE, SIZE) and ds.labels.dtype == np.uint8
        assert ds.panoptic.shape == (n, SIZE, SIZE, 2)
        assert ds.class_names == classes and ds.num_classes == len(classes)
        assert sorted(ds.things + ds.stuff) == list(range(len(classes)))
        assert ds.labels.max() < len(classes)          # no ignore pixels in the raw data
        assert ds.palette.shape == (len(classes), 3)


def test_panoptic_consistent_with_labels(context, shapes):
    for ds in (context, shapes):
        np.testing.assert_array_equal(ds.panoptic[..., 0], ds.labels)
        things = np.isin(ds.labels, ds.things)
        assert (ds.panoptic[..., 1][~things] == 0).all()      # stuff: instance 0
        assert (ds.panoptic[..., 1][things] > 0).all()        # things: an instance id
        for pan in ds.panoptic:                               # one category per instance
            for k in np.unique(pan[..., 1][pan[..., 1] > 0]):
                assert len(np.unique(pan[..., 0][pan[..., 1] == k])) == 1


def test_context_class_is_decided_by_the_ground(context):
    water, road, boat, car = (CONTEXT_CLASSES.index(c) for c in ("water", "road", "boat", "car"))
    for lab in context.labels:
        present = set(np.unique(lab).tolist())
        assert (water in present) != (road in present)        # one ground per image
        assert boat in present or car in present              # at least one vehicle
        if water in present:
            assert car not in present
        else:
            assert boat not in present


def test_context_vehicles_look_the_same_on_water_and_road():
    ds = data.make_context(40, "train", seed=0, size=SIZE)
    boat = ds.images[ds.labels == CONTEXT_CLASSES.index("boat")].astype(float)
    car = ds.images[ds.labels == CONTEXT_CLASSES.index("car")].astype(float)
    # the same paint distribution: channel means within a few grey levels of each other
    assert np.abs(boat.mean(0) - car.mean(0)).max() < 20
    assert np.abs(boat.std(0) - car.std(0)).max() < 15


def _mean_colour(ds, name, classes):
    return ds.images[ds.labels == classes.index(name)].astype(float).mean(0)


def test_stuff_pixels_look_like_their_class(context, shapes):
    for ds, classes in ((context, CONTEXT_CLASSES), (shapes, SHAPES_CLASSES)):
        r, g, b = _mean_colour(ds, "water", classes)
        assert b > r + 40 and b > g                            # water is blue
        r, g, b = _mean_colour(ds, "road", classes)
        assert max(r, g, b) - min(r, g, b) < 15 and max(r, g, b) < 140   # dark grey
        r, g, b = _mean_colour(ds, "sky", classes)
        assert b > 180 and b > r                               # light blue
    r, g, b = _mean_colour(shapes, "grass", SHAPES_CLASSES)
    assert g > r + 30 and g > b + 30                           # green


def test_vehicles_differ_from_their_ground(context):
    water = _mean_colour(context, "water", CONTEXT_CLASSES)
    boat = _mean_colour(context, "boat", CONTEXT_CLASSES)
    assert boat[0] > water[0] + 60                             # paint is warm, water is blue


def test_shapes_has_several_instances_and_categories(shapes):
    counts = [len(np.unique(p[..., 1])) - 1 for p in shapes.panoptic]
    assert max(counts) >= 3
    present = set(np.unique(shapes.labels).tolist())
    assert set(shapes.things) <= present


def test_bad_arguments():
    with pytest.raises(ValueError, match="split"):
        data.make_context(2, "training")
    with pytest.raises(ValueError, match="n must be"):
        data.make_shapes(0)
    with pytest.raises(ValueError, match="size"):
        data.make_context(2, size=16)
    with pytest.raises(ValueError, match="name"):
        data.load_dataset("cityscapes")


def test_batches_normalise_and_keep_order(context):
    batches = list(context.batches(5))
    assert [len(y) for _, y in batches] == [5, 5, 2]
    x, y = batches[0]
    assert x.dtype == np.float32 and x.shape == (5, 3, SIZE, SIZE)
    assert y.dtype == np.int64 and y.shape == (5, SIZE, SIZE)
    np.testing.assert_array_equal(y, context.labels[:5])
    np.testing.assert_array_equal(data.denormalize(x), context.images[:5])
    assert abs(float(x.mean())) < 1.5
    assert [len(y) for _, y in context.batches(5, drop_last=True)] == [5, 5]


def test_shuffled_batches_need_rng_and_are_reproducible(context):
    with pytest.raises(ValueError, match="rng"):
        next(context.batches(4, shuffle=True))
    a = [y for _, y in context.batches(4, np.random.default_rng(1), shuffle=True)]
    b = [y for _, y in context.batches(4, np.random.default_rng(1), shuffle=True)]
    for ya, yb in zip(a, b):
        np.testing.assert_array_equal(ya, yb)
    assert sorted(np.concatenate(a).reshape(len(context), -1).sum(1)) == \
        sorted(context.labels.reshape(len(context), -1).sum(1))


def test_colorize():
    palette = np.array([[1, 2, 3], [4, 5, 6]], np.uint8)
    out = data.colorize(np.array([[0, 1], [255, 1]]), palette)
    np.testing.assert_array_equal(out[0, 0], [1, 2, 3])
    np.testing.assert_array_equal(out[1, 1], [4, 5, 6])
    np.testing.assert_array_equal(out[1, 0], [255, 255, 255])


def test_context_puts_vehicle_pixels_out_of_the_baselines_reach():
    """The point of the data set: at its default 160 pixels a good share of the vehicle
    pixels lie farther from any water, road or sky than MiniPSPNet's FCN baseline can see
    (half its 47-pixel receptive field plus the ×8 upsampling: 31 pixels), while every image
    still shows its ground."""
    from scipy import ndimage

    ds = data.make_context(20, "val", seed=0)
    assert ds.image_size == (160, 160)
    things = np.isin(ds.labels, ds.things)
    depth = np.concatenate([ndimage.distance_transform_edt(m)[m] for m in things])
    assert (depth > 31).mean() > 0.15
    ground = np.isin(ds.labels, [CONTEXT_CLASSES.index("water"), CONTEXT_CLASSES.index("road")])
    assert ground.mean(axis=(1, 2)).min() > 0.05
