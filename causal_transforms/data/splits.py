"""Which background photos are for training and which are held out for testing.

The robustness benchmark tests on background photos that no model saw in training, and the
shipped GAN is trained only on the training photos, so it cannot leak test backgrounds into
the benchmark's training images. The split is fixed here, once, for every user of the data.
"""

from __future__ import annotations

import os
from typing import Literal

import numpy as np

from causal_transforms.data.photos import Background, Habitat, load_backgrounds

__all__ = ["GAN_TRAIN_FRACTION", "TEST_BACKGROUNDS", "Split", "background_split", "gan_holdout_strip"]

Split = Literal["train", "test"]

#: Held-out test photos per habitat: 2 of 6 water photos, 4 of 15 land photos.
TEST_BACKGROUNDS: dict[str, tuple[str, ...]] = {
    "water": ("ocean_splash", "EveningGlow"),
    "land": ("rocks", "Garden", "Path", "sheep"),
}

#: The shipped GAN trains on the left part of each training photo; the right strip is held out
#: as the "real" side of its two-sample quality test.
GAN_TRAIN_FRACTION = 0.75


def background_split(
    split: Split,
    habitat: Habitat | None = None,
    *,
    cache: str | os.PathLike[str] | None = None,
    max_short_side: int | None = 512,
) -> list[Background]:
    """Load the training or the held-out test background photos.

    Args:
        split: ``"train"`` or ``"test"``.
        habitat: ``"water"``, ``"land"`` or ``None`` for both.
        cache: The cache root (default cache when ``None``).
        max_short_side: Downscale so the short side is at most this.

    Returns:
        The photos of that split, in catalogue order.

    Raises:
        ValueError: Unknown split.

    Example:
        >>> names = {b.name for b in background_split("test")}
        >>> sorted(names) == sorted(TEST_BACKGROUNDS["water"] + TEST_BACKGROUNDS["land"])
        True
    """
    if split not in ("train", "test"):
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
    held_out = {name for names in TEST_BACKGROUNDS.values() for name in names}
    photos = load_backgrounds(habitat, cache=cache, max_short_side=max_short_side)
    return [b for b in photos if (b.name in held_out) == (split == "test")]


def gan_holdout_strip(background: Background, train: bool) -> np.ndarray:
    """The part of a training photo the GAN trains on (``train=True``) or never sees.

    Args:
        background: A training background.
        train: Left ``GAN_TRAIN_FRACTION`` of the width if True, the rest if False.

    Returns:
        An RGB uint8 array (a view of ``background.rgb``).

    Example:
        >>> import numpy as np
        >>> b = Background("x", "land", "pkg", np.zeros((10, 100, 3), np.uint8), "p")
        >>> gan_holdout_strip(b, True).shape, gan_holdout_strip(b, False).shape
        ((10, 75, 3), (10, 25, 3))
    """
    cut = round(background.rgb.shape[1] * GAN_TRAIN_FRACTION)
    return background.rgb[:, :cut] if train else background.rgb[:, cut:]
