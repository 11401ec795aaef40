import numpy as np
import pytest

from causal_transforms.data.splits import TEST_BACKGROUNDS
from causal_transforms.data.tuxbirds_benchmark import build_tuxbirds

HELD_OUT = {n for names in TEST_BACKGROUNDS.values() for n in names}
WATER_TEST = set(TEST_BACKGROUNDS["water"])


@pytest.fixture(scope="module")
def data(photo_cache):
    return build_tuxbirds(n_train=400, n_test=80, size=32, correlation=0.9, seed=1)


def test_group_counts_and_correlation(data):
    assert len(data.train) == 400 and len(data.test) == 80
    assert np.bincount(data.train.labels).tolist() == [200, 200]
    assert np.bincount(data.test.groups, minlength=4).tolist() == [20, 20, 20, 20]
    agree = (data.train.labels == data.train.places).mean()
    assert 0.85 <= agree <= 0.95  # 0.9 +- sampling noise over 400 draws
    assert set(np.unique(data.train.groups)) == {0, 1, 2, 3}


def test_no_test_photo_in_training(data):
    assert not set(data.train.backgrounds) & HELD_OUT
    for s in (data.test, data.test_same, data.test_random):
        assert set(s.backgrounds) <= HELD_OUT
        places = np.array([1 if b in WATER_TEST else 0 for b in s.backgrounds])
        assert np.array_equal(places, s.places)


def test_background_gap_sets(data):
    assert np.array_equal(data.test_same.labels, data.test.labels)
    assert np.array_equal(data.test_same.places, data.test_same.labels), "same = the bird's own habitat"
    assert set(np.unique(data.test_random.places)) == {0, 1}
    moved = np.mean([a != b for a, b in zip(data.test.backgrounds, data.test_same.backgrounds)])
    assert moved > 0.5


def test_masks_are_aligned_birds(data):
    for s in (data.train, data.test):
        area = s.masks.reshape(len(s), -1).mean(axis=1)
        assert (area > 0.01).all() and (area < 0.8).all()
        assert s.images.dtype == np.uint8 and s.masks.dtype == np.uint8
        assert set(np.unique(s.masks)) <= {0, 1}


def test_same_seed_same_data_and_held_out_birds(photo_cache):
    a = build_tuxbirds(n_train=20, n_test=8, size=16, seed=3)
    b = build_tuxbirds(n_train=20, n_test=8, size=16, seed=3)
    assert np.array_equal(a.train.images, b.train.images) and np.array_equal(a.test.masks, b.test.masks)
    c = build_tuxbirds(n_train=60, n_test=40, size=16, seed=3, hold_out_birds=True)
    assert not set(c.train.birds) & set(c.test.birds)


@pytest.mark.parametrize(("kwargs", "name"), [({"correlation": 1.5}, "correlation"), ({"n_test": 2}, "n_test")])
def test_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        build_tuxbirds(**kwargs)
