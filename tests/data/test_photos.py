"""The photo catalogue: constants, and loading the cached real photos (no downloads)."""

from __future__ import annotations

import numpy as np
import pytest

from causal_transforms.data.photos import (
    BACKGROUND_SOURCES,
    BIRD_SOURCES,
    EXCLUDED_BIRDS,
    LAND_BIRDS,
    LICENCES,
    MAX_SHORT_SIDE,
    WATER_BIRDS,
    catalogue_patterns,
    load_backgrounds,
    load_bird_cutouts,
)


def test_catalogue_counts():
    assert len(WATER_BIRDS) == 12
    assert len(LAND_BIRDS) == 21
    assert not set(WATER_BIRDS) & set(LAND_BIRDS)
    assert not set(EXCLUDED_BIRDS) & (set(WATER_BIRDS) | set(LAND_BIRDS))
    assert len(BIRD_SOURCES) == 33
    assert all("cartoon" not in s.path for s in BIRD_SOURCES)
    by_habitat = {h: [b for b in BACKGROUND_SOURCES if b.habitat == h] for h in ("water", "land")}
    assert len(by_habitat["water"]) == 6
    assert len(by_habitat["land"]) == 15
    assert len({(b.package, b.path) for b in BACKGROUND_SOURCES}) == len(BACKGROUND_SOURCES)


def test_every_source_has_a_licence():
    for src in (*BIRD_SOURCES, *BACKGROUND_SOURCES):
        assert src.package in LICENCES
        assert src.licence == LICENCES[src.package]
    assert LICENCES["plasma-workspace-wallpapers"] == "LGPL-3"
    assert LICENCES["tuxpaint-stamps-default"] == "GPL-2"


def test_catalogue_patterns_cover_all_packages():
    patterns = catalogue_patterns()
    assert set(patterns) == set(LICENCES)
    assert len(patterns["tuxpaint-stamps-default"]) == 33


def test_unknown_habitat_is_rejected():
    with pytest.raises(ValueError, match="habitat"):
        load_bird_cutouts("air")
    with pytest.raises(ValueError, match="habitat"):
        load_backgrounds("air")
    with pytest.raises(ValueError, match="max_short_side"):
        load_backgrounds(max_short_side=0)


def test_bird_cutouts(photo_cache):
    water, land = load_bird_cutouts("water"), load_bird_cutouts("land")
    assert [b.name for b in water] == list(WATER_BIRDS)
    assert [b.name for b in land] == list(LAND_BIRDS)
    assert len(load_bird_cutouts()) == 33
    for bird in (*water, *land):
        rgba = bird.rgba
        assert rgba.dtype == np.uint8 and rgba.ndim == 3 and rgba.shape[2] == 4
        alpha = rgba[..., 3]
        # Cropped to the alpha bounding box: every border row/column touches the object.
        assert alpha[0].any() and alpha[-1].any() and alpha[:, 0].any() and alpha[:, -1].any()
        # A real cutout: transparent background and a solid object.
        assert (alpha == 0).any()
        assert 0.1 < bird.mask.mean() < 0.9
        assert set(np.unique(bird.mask)) <= {0, 1}
        assert bird.package == "tuxpaint-stamps-default"


def test_backgrounds(photo_cache):
    for habitat in ("water", "land"):
        backgrounds = load_backgrounds(habitat)
        assert backgrounds
        for bg in backgrounds:
            assert bg.habitat == habitat
            assert bg.rgb.dtype == np.uint8 and bg.rgb.ndim == 3 and bg.rgb.shape[2] == 3
            assert min(bg.rgb.shape[:2]) <= MAX_SHORT_SIDE
            assert bg.rgb.std() > 5  # a photo, not a flat fill
            assert bg.package in LICENCES


def test_backgrounds_full_size(photo_cache):
    storm = [b for b in load_backgrounds("water", max_short_side=None) if b.name == "Storm"]
    assert storm and min(storm[0].rgb.shape[:2]) > MAX_SHORT_SIDE
