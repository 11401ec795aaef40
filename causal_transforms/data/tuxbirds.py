"""TuxBirds: real bird cutouts composited onto real background photos, with exact masks.

:func:`composite_bird` makes one image and its object mask; :func:`sample_set` makes the small
real-photo set that ``causal-transforms augment`` uses by default (water birds on water, land
birds on land). A Waterbirds-style benchmark builds on the same compositing.

Sampling the random parameters (:func:`sample_composite_params`) is separate from applying
them (:func:`render_composite`), so a composite can be replayed and checked exactly.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import cv2
import numpy as np

from causal_transforms.data.photos import (
    Background,
    BirdCutout,
    Habitat,
    load_backgrounds,
    load_bird_cutouts,
)

__all__ = [
    "BIRD_SCALE_RANGE",
    "CROP_SCALE_RANGE",
    "CompositeParams",
    "Sample",
    "composite_bird",
    "render_composite",
    "sample_composite_params",
    "sample_set",
    "scale_bird",
]

#: The bird's longer side, as a fraction of the canvas side.
BIRD_SCALE_RANGE: tuple[float, float] = (0.55, 0.85)
#: The side of the square background crop, as a fraction of the background's short side.
CROP_SCALE_RANGE: tuple[float, float] = (0.6, 1.0)
_MIN_SIZE = 8


@dataclass(frozen=True)
class CompositeParams:
    """The random choices behind one composite.

    Args:
        crop_top: Top row of the square background crop.
        crop_left: Left column of the square background crop.
        crop_side: Side of the square crop, in background pixels.
        bird_height: Height of the scaled bird on the canvas.
        bird_width: Width of the scaled bird on the canvas.
        flip: Whether the bird is mirrored left-right.
        top: Top row of the bird on the canvas.
        left: Left column of the bird on the canvas.

    Example:
        >>> CompositeParams(0, 0, 10, 5, 4, False, 1, 2).bird_height
        5
    """

    crop_top: int
    crop_left: int
    crop_side: int
    bird_height: int
    bird_width: int
    flip: bool
    top: int
    left: int


@dataclass(frozen=True, eq=False)
class Sample:
    """One composited image of the sample set.

    Args:
        name: File-name-safe identifier, e.g. ``"00_pelican_on_ocean_waves"``.
        image: ``(size, size, 3)`` uint8 RGB.
        mask: ``(size, size)`` uint8, 1 = bird (causal), 0 = background.
        label: The bird's class, ``"water"`` or ``"land"``.
        habitat: The background's habitat, ``"water"`` or ``"land"``.
        bird: The bird cutout's name.
        background: The background photo's name.

    Example:
        >>> import numpy as np
        >>> image, mask = np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8)
        >>> s = Sample("x", image, mask, "land", "land", "hen", "rocks")
        >>> s.label == s.habitat
        True
    """

    name: str
    image: np.ndarray
    mask: np.ndarray
    label: Habitat
    habitat: Habitat
    bird: str = ""
    background: str = ""


def _check_size(size: object) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or int(size) < _MIN_SIZE:
        raise ValueError(f"size: expected an integer >= {_MIN_SIZE}, got {size!r}")
    return int(size)


def _check_rgb(background_rgb: object) -> np.ndarray:
    if (
        not isinstance(background_rgb, np.ndarray)
        or background_rgb.ndim != 3
        or background_rgb.shape[2] != 3
        or background_rgb.dtype != np.uint8
        or min(background_rgb.shape[:2]) < 1
    ):
        got = (
            f"shape {background_rgb.shape}, dtype {background_rgb.dtype}"
            if isinstance(background_rgb, np.ndarray)
            else type(background_rgb).__name__
        )
        raise ValueError(f"background_rgb: expected a non-empty (H, W, 3) uint8 array, got {got}")
    return background_rgb


def _check_rgba(rgba: object, name: str = "bird") -> np.ndarray:
    if not isinstance(rgba, np.ndarray) or rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
        got = f"shape {rgba.shape}, dtype {rgba.dtype}" if isinstance(rgba, np.ndarray) else type(rgba).__name__
        raise ValueError(f"{name}: expected an (h, w, 4) uint8 RGBA array, got {got}")
    if min(rgba.shape[:2]) < 1:
        raise ValueError(f"{name}: expected a non-empty cutout, got shape {rgba.shape}")
    return rgba


def sample_composite_params(
    bird_shape: tuple[int, int],
    background_shape: tuple[int, int],
    size: int,
    rng: np.random.Generator,
) -> CompositeParams:
    """Draw the crop, scale, flip and position of one composite.

    Args:
        bird_shape: ``(h, w)`` of the cutout.
        background_shape: ``(H, W)`` of the background photo.
        size: Side of the square canvas.
        rng: The random generator (advanced by this call).

    Returns:
        The parameters; the bird's longer side is 55-85 % of ``size`` and it lies fully inside.

    Example:
        >>> p = sample_composite_params((50, 100), (300, 400), 64, np.random.default_rng(0))
        >>> 35 <= max(p.bird_height, p.bird_width) <= 55 and p.top + p.bird_height <= 64
        True
    """
    size = _check_size(size)
    bh, bw = (int(v) for v in bird_shape[:2])
    h, w = (int(v) for v in background_shape[:2])
    if min(bh, bw, h, w) < 1:
        raise ValueError(f"bird_shape/background_shape: expected positive sizes, got {bird_shape}, {background_shape}")
    short = min(h, w)
    lo = max(1, math.ceil(CROP_SCALE_RANGE[0] * short))
    crop_side = int(rng.integers(lo, short + 1))
    crop_top = int(rng.integers(0, h - crop_side + 1))
    crop_left = int(rng.integers(0, w - crop_side + 1))
    longer = max(1, min(size, round(float(rng.uniform(*BIRD_SCALE_RANGE)) * size)))
    if bh >= bw:
        height, width = longer, max(1, round(longer * bw / bh))
    else:
        height, width = max(1, round(longer * bh / bw)), longer
    flip = bool(rng.integers(0, 2))
    top = int(rng.integers(0, size - height + 1))
    left = int(rng.integers(0, size - width + 1))
    return CompositeParams(crop_top, crop_left, crop_side, height, width, flip, top, left)


def scale_bird(rgba: np.ndarray, height: int, width: int, flip: bool = False) -> np.ndarray:
    """Resize an RGBA cutout with premultiplied alpha (no dark fringes), optionally mirrored.

    Args:
        rgba: ``(h, w, 4)`` uint8 RGBA.
        height: Output height.
        width: Output width.
        flip: Mirror left-right.

    Returns:
        ``(height, width, 4)`` uint8 RGBA.

    Example:
        >>> scale_bird(np.full((4, 6, 4), 200, np.uint8), 2, 3).shape
        (2, 3, 4)
    """
    rgba = _check_rgba(rgba, "rgba")
    if height < 1 or width < 1:
        raise ValueError(f"height/width: expected positive integers, got {height}, {width}")
    alpha = rgba[..., 3].astype(np.float32) / 255.0
    premultiplied = rgba[..., :3].astype(np.float32) * alpha[..., None]
    shrink = height <= rgba.shape[0] and width <= rgba.shape[1]
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    prem = cv2.resize(premultiplied, (width, height), interpolation=interp).reshape(height, width, 3)
    a = np.clip(cv2.resize(alpha, (width, height), interpolation=interp).reshape(height, width), 0.0, 1.0)
    rgb = np.where(a[..., None] > 1e-6, prem / np.maximum(a[..., None], 1e-6), 0.0)
    out = np.empty((height, width, 4), np.uint8)
    out[..., :3] = np.clip(np.rint(rgb), 0, 255)
    out[..., 3] = np.clip(np.rint(a * 255.0), 0, 255)
    return np.ascontiguousarray(out[:, ::-1]) if flip else out


def _background_crop(background_rgb: np.ndarray, size: int, p: CompositeParams) -> np.ndarray:
    crop = background_rgb[p.crop_top : p.crop_top + p.crop_side, p.crop_left : p.crop_left + p.crop_side]
    if crop.shape[0] != p.crop_side or crop.shape[1] != p.crop_side:
        raise ValueError(
            f"params: the crop {p.crop_side}px at ({p.crop_top}, {p.crop_left}) does not fit a background of "
            f"shape {background_rgb.shape[:2]}"
        )
    interp = cv2.INTER_AREA if p.crop_side >= size else cv2.INTER_CUBIC
    return cv2.resize(np.ascontiguousarray(crop), (size, size), interpolation=interp)


def render_composite(
    bird: BirdCutout | np.ndarray,
    background_rgb: np.ndarray,
    size: int,
    params: CompositeParams,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply drawn parameters: crop and resize the background, scale, flip and paste the bird.

    The bird is alpha-blended; where the mask is 1 (``alpha > 127``) the image holds the
    scaled bird's own RGB exactly, and where the scaled alpha is 0 it holds the background
    crop exactly.

    Args:
        bird: A cutout or its ``(h, w, 4)`` uint8 RGBA array.
        background_rgb: ``(H, W, 3)`` uint8 RGB photo.
        size: Side of the square canvas.
        params: From :func:`sample_composite_params`.

    Returns:
        ``(image, mask)``: ``(size, size, 3)`` uint8 RGB and ``(size, size)`` uint8 (1 = bird).

    Example:
        >>> rgba = np.zeros((10, 10, 4), np.uint8); rgba[2:8, 2:8] = 255
        >>> p = CompositeParams(0, 0, 20, 10, 10, False, 3, 3)
        >>> img, mask = render_composite(rgba, np.zeros((20, 20, 3), np.uint8), 16, p)
        >>> int(mask.sum()), int(img[mask == 1].min())
        (36, 255)
    """
    size = _check_size(size)
    rgba = _check_rgba(bird.rgba if isinstance(bird, BirdCutout) else bird)
    canvas = _background_crop(_check_rgb(background_rgb), size, params)
    if not (0 <= params.top <= size - params.bird_height and 0 <= params.left <= size - params.bird_width):
        raise ValueError(f"params: the bird does not fit fully inside a {size}px canvas: {params}")
    scaled = scale_bird(rgba, params.bird_height, params.bird_width, params.flip)
    rows = slice(params.top, params.top + params.bird_height)
    cols = slice(params.left, params.left + params.bird_width)
    alpha = scaled[..., 3:].astype(np.float32) / 255.0
    region = canvas[rows, cols].astype(np.float32)
    blended = np.clip(np.rint(alpha * scaled[..., :3] + (1.0 - alpha) * region), 0, 255).astype(np.uint8)
    bird_mask = scaled[..., 3] > 127
    blended[bird_mask] = scaled[..., :3][bird_mask]
    image = canvas.copy()
    image[rows, cols] = blended
    mask = np.zeros((size, size), np.uint8)
    mask[rows, cols] = bird_mask
    return image, mask


def composite_bird(
    bird: BirdCutout | np.ndarray,
    background_rgb: np.ndarray,
    size: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Composite a bird onto a random square crop of a background photo.

    The crop is resized to ``size``; the bird is scaled so its longer side is 55-85 % of the
    canvas, mirrored with probability 1/2 and placed at a random position fully inside.

    Args:
        bird: A cutout or its ``(h, w, 4)`` uint8 RGBA array.
        background_rgb: ``(H, W, 3)`` uint8 RGB photo.
        size: Side of the square canvas (at least 8).
        rng: The random generator; the same state gives the same composite.

    Returns:
        ``(image, mask)``: ``(size, size, 3)`` uint8 RGB and ``(size, size)`` uint8 with
        1 = bird (``alpha > 127``), 0 = background.

    Raises:
        ValueError: Bad shapes or dtypes, or ``size`` below 8.

    Example:
        >>> rgba = np.full((30, 20, 4), 255, np.uint8)
        >>> img, mask = composite_bird(rgba, np.zeros((50, 80, 3), np.uint8), 32, np.random.default_rng(0))
        >>> img.shape, mask.shape, bool(0.1 < mask.mean() < 0.6)
        ((32, 32, 3), (32, 32), True)
    """
    rgba = _check_rgba(bird.rgba if isinstance(bird, BirdCutout) else bird)
    background_rgb = _check_rgb(background_rgb)
    params = sample_composite_params(rgba.shape[:2], background_rgb.shape[:2], size, rng)
    return render_composite(rgba, background_rgb, size, params)


def _order(n_items: int, count: int, rng: np.random.Generator) -> list[int]:
    """``count`` indices: distinct while possible, then a fresh permutation, and so on."""
    out: list[int] = []
    while len(out) < count:
        out.extend(int(i) for i in rng.permutation(n_items))
    return out[:count]


def sample_set(
    n: int = 12,
    size: int = 256,
    seed: int = 0,
    *,
    cache: str | os.PathLike[str] | None = None,
) -> list[Sample]:
    """Build a small real-photo set: water birds on water backgrounds and land birds on land ones.

    Samples alternate water, land, water, ... (one extra water sample when ``n`` is odd).
    Birds and backgrounds are distinct within a habitat until the catalogue runs out. The set
    depends only on ``n``, ``size`` and ``seed`` (and the cached photos), and the first samples
    of a larger set equal those of a smaller one with the same ``size`` and ``seed``.

    Args:
        n: Number of samples.
        size: Side of each square image (at least 8).
        seed: Non-negative seed.
        cache: The cache root; the default cache by default. Photos are fetched on first use.

    Returns:
        ``n`` samples named ``"<index>_<bird>_on_<background>"``.

    Raises:
        ValueError: Bad ``n``, ``size`` or ``seed``.
        RuntimeError: The photos could not be fetched.

    Example:
        >>> samples = sample_set(4, size=64)  # doctest: +SKIP
        >>> [s.label for s in samples]  # doctest: +SKIP
        ['water', 'land', 'water', 'land']
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n: expected a positive integer, got {n!r}")
    size = _check_size(size)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    n, seed = int(n), int(seed)
    birds: dict[str, list[BirdCutout]] = {h: load_bird_cutouts(h, cache=cache) for h in ("water", "land")}
    backgrounds: dict[str, list[Background]] = {h: load_backgrounds(h, cache=cache) for h in ("water", "land")}
    counts = {"water": (n + 1) // 2, "land": n // 2}
    # One random stream per choice, so the first samples stay the same when ``n`` grows.
    bird_order = {
        h: _order(len(birds[h]), counts[h], np.random.default_rng([seed, 0, k])) for k, h in enumerate(counts)
    }
    bg_order = {
        h: _order(len(backgrounds[h]), counts[h], np.random.default_rng([seed, 1, k])) for k, h in enumerate(counts)
    }
    width = max(2, len(str(n - 1)))
    samples = []
    for i in range(n):
        habitat: Habitat = "water" if i % 2 == 0 else "land"
        j = i // 2
        bird = birds[habitat][bird_order[habitat][j]]
        background = backgrounds[habitat][bg_order[habitat][j]]
        image, mask = composite_bird(bird, background.rgb, size, np.random.default_rng([seed, 2, i]))
        name = f"{i:0{width}d}_{bird.name}_on_{background.name}"
        samples.append(Sample(name, image, mask, bird.habitat, background.habitat, bird.name, background.name))
    return samples
