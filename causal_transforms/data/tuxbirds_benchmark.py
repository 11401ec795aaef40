"""TuxBirds: a Waterbirds-style spurious-correlation benchmark from real photos.

Label = water bird (1) vs land bird (0); place = water (1) vs land (0) background; group =
``2 * label + place``. In training, the background's habitat matches the bird's with
probability ``correlation`` (0.95 by default); the test set is balanced over the four groups.
Test images use only the held-out test background photos of
:mod:`causal_transforms.data.splits` (never seen in training, nor by the shipped GAN); with
``hold_out_birds`` the test birds are held out too. Two ImageNet-9-style test sets measure
the background gap: every test bird once more on a random *other* test photo of its own
habitat (``same``) and on a random test photo of any habitat (``random``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from causal_transforms.data.photos import BirdCutout, load_bird_cutouts
from causal_transforms.data.splits import background_split
from causal_transforms.data.tuxbirds import composite_bird

__all__ = ["GroupSet", "TuxBirds", "build_tuxbirds"]

_HABITAT_CODE = {"land": 0, "water": 1}


@dataclass(frozen=True, eq=False)
class GroupSet:
    """Images with masks, labels and places, as arrays.

    Args:
        images: ``(N, S, S, 3)`` uint8 RGB.
        masks: ``(N, S, S)`` uint8, 1 = bird.
        labels: ``(N,)`` int64, 1 = water bird.
        places: ``(N,)`` int64, 1 = water background.
        birds: The bird of each image.
        backgrounds: The background photo of each image.

    Example:
        >>> s = GroupSet(np.zeros((2, 8, 8, 3), np.uint8), np.zeros((2, 8, 8), np.uint8),
        ...              np.array([1, 0]), np.array([1, 1]), ("duck", "hen"), ("Storm", "Storm"))
        >>> s.groups.tolist(), len(s)
        ([3, 1], 2)
    """

    images: np.ndarray
    masks: np.ndarray
    labels: np.ndarray
    places: np.ndarray
    birds: tuple[str, ...]
    backgrounds: tuple[str, ...]

    @property
    def groups(self) -> np.ndarray:
        """``2 * label + place``: 0 land bird/land, 1 land bird/water, 2 water bird/land, 3 water/water."""
        return self.labels * 2 + self.places

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass(frozen=True, eq=False)
class TuxBirds:
    """The benchmark's splits.

    Args:
        train: Correlated training set.
        test: Balanced test set (held-out background photos).
        test_same: Each test bird on another test photo of its own habitat.
        test_random: Each test bird on a test photo of a random habitat.
        correlation: P(place == label) in training.

    Example:
        >>> data = build_tuxbirds(n_train=40, n_test=8, size=32)  # doctest: +SKIP
        >>> len(data.train), len(data.test)  # doctest: +SKIP
        (40, 8)
    """

    train: GroupSet
    test: GroupSet
    test_same: GroupSet
    test_random: GroupSet
    correlation: float


def _split_birds(birds: list[BirdCutout], hold_out: bool) -> tuple[list[BirdCutout], list[BirdCutout]]:
    if not hold_out:
        return birds, birds
    cut = max(1, round(len(birds) * 2 / 3))
    return birds[:cut], birds[cut:]


def _compose(items: list[tuple[BirdCutout, object]], size: int, rng: np.random.Generator) -> GroupSet:
    images = np.empty((len(items), size, size, 3), np.uint8)
    masks = np.empty((len(items), size, size), np.uint8)
    for i, (bird, background) in enumerate(items):
        images[i], masks[i] = composite_bird(bird, background.rgb, size, rng)
    return GroupSet(
        images,
        masks,
        np.array([_HABITAT_CODE[b.habitat] for b, _ in items], np.int64),
        np.array([_HABITAT_CODE[bg.habitat] for _, bg in items], np.int64),
        tuple(b.name for b, _ in items),
        tuple(bg.name for _, bg in items),
    )


def build_tuxbirds(
    n_train: int = 4800,
    n_test: int = 1200,
    size: int = 64,
    correlation: float = 0.95,
    seed: int = 0,
    hold_out_birds: bool = False,
    *,
    cache: str | os.PathLike[str] | None = None,
) -> TuxBirds:
    """Build TuxBirds from the cached real photos (``causal-transforms fetch-data`` fills the cache).

    Args:
        n_train: Training images (half water birds, half land birds).
        n_test: Test images, a quarter per group (rounded down to a multiple of 4).
        size: Side of the square images.
        correlation: P(background habitat == bird habitat) in training, in [0, 1].
        seed: Everything random derives from it.
        hold_out_birds: Use two thirds of each class's birds for training, the rest for test.
        cache: The photo cache root.

    Returns:
        The :class:`TuxBirds` splits.

    Raises:
        ValueError: Bad sizes or a correlation outside [0, 1].

    Example:
        >>> data = build_tuxbirds(n_train=40, n_test=8, size=32)  # doctest: +SKIP
        >>> data.test.groups.tolist().count(0)  # doctest: +SKIP
        2
    """
    for name, value, minimum in (("n_train", n_train, 2), ("n_test", n_test, 4), ("size", size, 8)):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    if not isinstance(correlation, (int, float)) or not 0.0 <= float(correlation) <= 1.0:
        raise ValueError(f"correlation: expected a probability in [0, 1], got {correlation!r}")
    rng = np.random.default_rng(seed)
    birds = {h: load_bird_cutouts(h, cache=cache) for h in ("water", "land")}
    split_birds = {h: _split_birds(b, hold_out_birds) for h, b in birds.items()}
    train_bg = {h: background_split("train", h, cache=cache) for h in ("water", "land")}
    test_bg = {h: background_split("test", h, cache=cache) for h in ("water", "land")}
    other = {"water": "land", "land": "water"}

    def pick(seq):
        return seq[int(rng.integers(len(seq)))]

    train_items = []
    for i in range(n_train):
        label = "water" if i % 2 == 0 else "land"
        place = label if rng.random() < correlation else other[label]
        train_items.append((pick(split_birds[label][0]), pick(train_bg[place])))
    order = rng.permutation(n_train)
    train_items = [train_items[i] for i in order]

    test_items, same_items, random_items = [], [], []
    per_group = n_test // 4
    for label in ("land", "water"):
        for place in ("land", "water"):
            for _ in range(per_group):
                bird = pick(split_birds[label][1])
                background = pick(test_bg[place])
                test_items.append((bird, background))
                own = [b for b in test_bg[label] if b.name != background.name] or test_bg[label]
                same_items.append((bird, pick(own)))
                random_items.append((bird, pick(test_bg[pick(("land", "water"))])))
    return TuxBirds(
        train=_compose(train_items, size, rng),
        test=_compose(test_items, size, rng),
        test_same=_compose(same_items, size, rng),
        test_random=_compose(random_items, size, rng),
        correlation=float(correlation),
    )
