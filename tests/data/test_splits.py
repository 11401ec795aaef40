from causal_transforms.data.photos import BACKGROUND_SOURCES
from causal_transforms.data.splits import TEST_BACKGROUNDS, background_split, gan_holdout_strip


def test_split_names_exist_and_partition_the_catalogue(photo_cache):
    known = {s.name for s in BACKGROUND_SOURCES}
    held_out = {n for names in TEST_BACKGROUNDS.values() for n in names}
    assert held_out <= known
    train = background_split("train")
    test = background_split("test")
    assert {b.name for b in test} == held_out
    assert not {b.name for b in train} & held_out
    assert len(train) + len(test) == len(known)
    for habitat in ("water", "land"):
        assert any(b.habitat == habitat for b in train) and any(b.habitat == habitat for b in test)
        assert all(b.habitat == habitat for b in background_split("test", habitat))


def test_gan_strips_are_disjoint(photo_cache):
    b = background_split("train")[0]
    left, right = gan_holdout_strip(b, True), gan_holdout_strip(b, False)
    assert left.shape[1] + right.shape[1] == b.rgb.shape[1]
    assert left.shape[1] > 2 * right.shape[1]
