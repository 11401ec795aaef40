"""TuxBirds compositing: exact masks, alignment, determinism, and the balanced sample set."""

from __future__ import annotations

import numpy as np
import pytest

from causal_transforms.data.photos import load_backgrounds, load_bird_cutouts
from causal_transforms.data.tuxbirds import (
    BIRD_SCALE_RANGE,
    composite_bird,
    render_composite,
    sample_composite_params,
    sample_set,
    scale_bird,
)


def _synthetic_bird(h: int = 40, w: int = 60) -> np.ndarray:
    rng = np.random.default_rng(1)
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[..., :3] = rng.integers(0, 256, (h, w, 3))
    yy, xx = np.mgrid[:h, :w]
    inside = ((yy - h / 2) / (h / 2)) ** 2 + ((xx - w / 2) / (w / 2)) ** 2 <= 1.0
    rgba[..., 3] = np.where(inside, 255, 0)
    rgba[..., 3][inside & (np.abs(xx - w / 2) > 0.4 * w)] = 100  # a soft rim
    return rgba


def _background(h: int = 120, w: int = 200) -> np.ndarray:
    return np.random.default_rng(2).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _check_alignment(rgba: np.ndarray, background: np.ndarray, size: int, seed: int) -> float:
    image, mask = composite_bird(rgba, background, size, np.random.default_rng(seed))
    params = sample_composite_params(rgba.shape[:2], background.shape[:2], size, np.random.default_rng(seed))
    assert image.shape == (size, size, 3) and image.dtype == np.uint8
    assert mask.shape == (size, size) and mask.dtype == np.uint8
    assert set(np.unique(mask)) <= {0, 1}
    # The bird's longer side is 55-85 % of the canvas, and it lies fully inside.
    longer = max(params.bird_height, params.bird_width)
    assert BIRD_SCALE_RANGE[0] * size - 1 <= longer <= BIRD_SCALE_RANGE[1] * size + 1
    assert params.top + params.bird_height <= size and params.left + params.bird_width <= size
    # Replaying the parameters gives the same composite.
    again, again_mask = render_composite(rgba, background, size, params)
    np.testing.assert_array_equal(again, image)
    np.testing.assert_array_equal(again_mask, mask)
    # Inside the mask: exactly the scaled (and flipped) bird's own pixels.
    scaled = scale_bird(rgba, params.bird_height, params.bird_width, params.flip)
    canvas_rgb = np.zeros((size, size, 3), np.uint8)
    canvas_alpha = np.zeros((size, size), np.uint8)
    rows = slice(params.top, params.top + params.bird_height)
    cols = slice(params.left, params.left + params.bird_width)
    canvas_rgb[rows, cols] = scaled[..., :3]
    canvas_alpha[rows, cols] = scaled[..., 3]
    np.testing.assert_array_equal(mask, (canvas_alpha > 127).astype(np.uint8))
    np.testing.assert_array_equal(image[mask == 1], canvas_rgb[mask == 1])
    # Where the bird is fully transparent: exactly the background crop (a transparent bird shows it).
    crop, _ = render_composite(np.zeros_like(rgba), background, size, params)
    np.testing.assert_array_equal(image[canvas_alpha == 0], crop[canvas_alpha == 0])
    return float(mask.mean())


@pytest.mark.parametrize("seed", range(6))
def test_composite_synthetic_alignment(seed):
    area = _check_alignment(_synthetic_bird(), _background(), 64, seed)
    assert 0.05 < area < 0.8


def test_composite_flip_happens_both_ways():
    flips = {sample_composite_params((40, 60), (120, 200), 64, np.random.default_rng(s)).flip for s in range(20)}
    assert flips == {True, False}


def test_composite_is_deterministic():
    bird, bg = _synthetic_bird(), _background()
    a = composite_bird(bird, bg, 48, np.random.default_rng(7))
    b = composite_bird(bird, bg, 48, np.random.default_rng(7))
    c = composite_bird(bird, bg, 48, np.random.default_rng(8))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_composite_rejects_bad_inputs():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="background_rgb"):
        composite_bird(_synthetic_bird(), np.zeros((10, 10), np.uint8), 32, rng)
    with pytest.raises(ValueError, match="background_rgb"):
        composite_bird(_synthetic_bird(), np.zeros((10, 10, 3), np.float32), 32, rng)
    with pytest.raises(ValueError, match="bird"):
        composite_bird(np.zeros((10, 10, 3), np.uint8), _background(), 32, rng)
    with pytest.raises(ValueError, match="size"):
        composite_bird(_synthetic_bird(), _background(), 4, rng)


def test_real_birds_alignment(photo_cache):
    birds = load_bird_cutouts()
    backgrounds = load_backgrounds()
    areas = []
    for i, bird in enumerate(birds[::4]):
        background = backgrounds[i % len(backgrounds)].rgb
        areas.append(_check_alignment(bird.rgba, background, 128, i))
    # Real cutouts fill 18-60 % of their bounding box, so the mask covers a few to ~40 % of the canvas.
    assert all(0.02 < a < 0.8 for a in areas)


def test_sample_set(photo_cache):
    samples = sample_set(6, size=64, seed=0)
    assert len(samples) == 6
    assert [s.label for s in samples] == ["water", "land"] * 3
    assert all(s.label == s.habitat for s in samples)
    assert len({s.name for s in samples}) == 6
    assert len({s.bird for s in samples}) == 6
    water_birds = {b.name for b in load_bird_cutouts("water")}
    for s in samples:
        assert s.image.shape == (64, 64, 3) and s.image.dtype == np.uint8
        assert s.mask.shape == (64, 64) and s.mask.dtype == np.uint8
        assert 0 < s.mask.mean() < 1
        assert (s.bird in water_birds) == (s.label == "water")
        assert s.name.endswith(f"_{s.bird}_on_{s.background}")


def test_sample_set_is_deterministic_and_prefix_stable(photo_cache):
    a, b = sample_set(4, size=32, seed=3), sample_set(4, size=32, seed=3)
    longer = sample_set(7, size=32, seed=3)
    other = sample_set(4, size=32, seed=4)
    for x, y, z in zip(a, b, longer, strict=False):
        assert x.name == y.name == z.name
        np.testing.assert_array_equal(x.image, y.image)
        np.testing.assert_array_equal(x.image, z.image)
        np.testing.assert_array_equal(x.mask, z.mask)
    assert [s.name for s in a] != [s.name for s in other]
    assert sum(s.label == "water" for s in longer) == 4  # odd n: one extra water sample


def test_sample_set_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n:"):
        sample_set(0)
    with pytest.raises(ValueError, match="seed"):
        sample_set(2, seed=-1)
    with pytest.raises(ValueError, match="size"):
        sample_set(2, size=2)
