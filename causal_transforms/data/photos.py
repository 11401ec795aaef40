"""A catalogue of openly licensed real photos from Debian packages: bird cutouts and backgrounds.

The birds are real photographs cut out with an alpha channel (``tuxpaint-stamps-default``,
alpha > 127 = object), split into water birds and land birds. The backgrounds are landscape
photos split by habitat (water or land). Files are fetched on first use with
:func:`~causal_transforms.data.debian.fetch_debian_files` into the cache (never vendored);
``causal-transforms fetch-data`` fills the cache ahead of time. See ``DATA.md``.

Nothing is read or downloaded at import time.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from causal_transforms.data.debian import fetch_debian_files, is_fetched

__all__ = [
    "BACKGROUND_SOURCES",
    "BIRD_DIR",
    "BIRD_PACKAGE",
    "BIRD_SOURCES",
    "EXCLUDED_BIRDS",
    "HABITATS",
    "LAND_BIRDS",
    "LICENCES",
    "MAX_SHORT_SIDE",
    "WATER_BIRDS",
    "Background",
    "BirdCutout",
    "Habitat",
    "PhotoSource",
    "catalogue_patterns",
    "fetch_catalogue",
    "load_backgrounds",
    "load_bird_cutouts",
    "missing_packages",
]

Habitat = Literal["water", "land"]
HABITATS: tuple[str, ...] = ("water", "land")

BIRD_PACKAGE = "tuxpaint-stamps-default"
BIRD_DIR = "usr/share/tuxpaint/stamps/animals/birds"

WATER_BIRDS: tuple[str, ...] = (
    "duck",
    "drake",
    "gander",
    "heron_greatblue",
    "heron_greatblue_flying",
    "little-penguin",
    "magellanic_penguin",
    "penguin",
    "pelican",
    "pink_flamingo",
    "seagull",
    "silver-gull",
)
LAND_BIRDS: tuple[str, ...] = (
    "adelaide-rosella",
    "blackbird",
    "chicken_profile",
    "crow",
    "cuckoo",
    "guineafowl",
    "helmeted_guineafowl",
    "hen",
    "lark",
    "magpie",
    "nandou",
    "ostrich",
    "owl",
    "peacock",
    "pigeon",
    "quetzal",
    "rainbow-lorikeet",
    "rooster",
    "tucan",
    "turkey",
    "vulture",
)
#: Stamps of the same folder left out on purpose, with the reason (``cartoon/`` is drawings).
EXCLUDED_BIRDS: dict[str, str] = {
    "albino_peahen": "its alpha channel includes grass",
    "crowned_crane": "ambiguous habitat",
}

#: Licence of each source package (Debian ``copyright`` files).
LICENCES: dict[str, str] = {
    "tuxpaint-stamps-default": "GPL-2",
    "tuxpaint-data": "GPL-2+",
    "mate-backgrounds": "GPL-2+",
    "plasma-workspace-wallpapers": "LGPL-3",
}

#: Backgrounds are downscaled on load so their short side is at most this many pixels.
MAX_SHORT_SIDE = 512


@dataclass(frozen=True)
class PhotoSource:
    """One photo of the catalogue: what it is and where it lives in which Debian package.

    Args:
        name: Short name, e.g. ``"ocean_waves"``.
        habitat: ``"water"`` or ``"land"``.
        package: The Debian package that ships it.
        path: Its path inside the package.

    Example:
        >>> BACKGROUND_SOURCES[0].package
        'tuxpaint-data'
    """

    name: str
    habitat: Habitat
    package: str
    path: str

    @property
    def licence(self) -> str:
        """The licence of the package the photo comes from."""
        return LICENCES[self.package]


def _tuxpaint_template(name: str, habitat: Habitat) -> PhotoSource:
    return PhotoSource(name, habitat, "tuxpaint-data", f"usr/share/tuxpaint/templates/{name}.jpg")


def _mate(name: str, habitat: Habitat) -> PhotoSource:
    return PhotoSource(name, habitat, "mate-backgrounds", f"usr/share/backgrounds/mate/nature/{name}.jpg")


def _plasma(name: str, habitat: Habitat) -> PhotoSource:
    # Every other size in the package is a symbolic link to 2560x1600.jpg.
    return PhotoSource(
        name,
        habitat,
        "plasma-workspace-wallpapers",
        f"usr/share/wallpapers/{name}/contents/images/2560x1600.jpg",
    )


BIRD_SOURCES: tuple[PhotoSource, ...] = tuple(
    PhotoSource(name, habitat, BIRD_PACKAGE, f"{BIRD_DIR}/{name}.png")
    for habitat, names in (("water", WATER_BIRDS), ("land", LAND_BIRDS))
    for name in names
)

BACKGROUND_SOURCES: tuple[PhotoSource, ...] = (
    *(_tuxpaint_template(n, "water") for n in ("ocean_waves", "ocean_splash")),
    *(
        _tuxpaint_template(n, "land")
        for n in (
            "cliff",
            "corn_maze",
            "redwoods_above",
            "trees_above",
            "rocks",
            "mossy_log",
            "mudstone",
            "sheep",
            "burnt_bark",
        )
    ),
    _mate("Storm", "water"),
    *(_mate(n, "land") for n in ("GreenMeadow", "Dune", "Garden")),
    *(_plasma(n, "water") for n in ("DarkestHour", "summer_1am", "EveningGlow")),
    *(_plasma(n, "land") for n in ("Path", "OneStandsOut", "FallenLeaf")),
)


@dataclass(frozen=True, eq=False)
class BirdCutout:
    """A real bird photo cut out by its alpha channel.

    Args:
        name: The stamp's name, e.g. ``"pelican"``.
        habitat: ``"water"`` or ``"land"`` (the label of a TuxBirds sample).
        rgba: ``(h, w, 4)`` uint8 RGBA cropped to the bounding box of ``alpha > 0``.
        package: The Debian package it comes from.
        path: Its path inside the package.

    Example:
        >>> import numpy as np
        >>> bird = BirdCutout("dot", "land", np.full((2, 2, 4), 255, np.uint8), BIRD_PACKAGE, "x.png")
        >>> int(bird.mask.sum())
        4
    """

    name: str
    habitat: Habitat
    rgba: np.ndarray
    package: str = BIRD_PACKAGE
    path: str = ""

    @property
    def mask(self) -> np.ndarray:
        """``(h, w)`` uint8 object mask: 1 where ``alpha > 127``, else 0."""
        return (self.rgba[..., 3] > 127).astype(np.uint8)


@dataclass(frozen=True, eq=False)
class Background:
    """A real background photo.

    Args:
        name: Short name, e.g. ``"ocean_waves"``.
        habitat: ``"water"`` or ``"land"``.
        package: The Debian package it comes from.
        rgb: ``(h, w, 3)`` uint8 RGB, short side at most :data:`MAX_SHORT_SIDE` by default.
        path: Its path inside the package.

    Example:
        >>> import numpy as np
        >>> Background("grey", "land", "none", np.zeros((4, 4, 3), np.uint8)).rgb.shape
        (4, 4, 3)
    """

    name: str
    habitat: Habitat
    package: str
    rgb: np.ndarray
    path: str = ""


def _check_habitat(habitat: object) -> None:
    if habitat is not None and habitat not in HABITATS:
        raise ValueError(f"habitat: expected None, 'water' or 'land', got {habitat!r}")


def catalogue_patterns(sources: Sequence[PhotoSource] | None = None) -> dict[str, list[str]]:
    """Return the files to fetch from each Debian package for ``sources`` (all photos by default).

    Args:
        sources: Photos of the catalogue; birds and backgrounds when ``None``.

    Returns:
        ``{package: [paths inside the package]}``.

    Example:
        >>> sorted(catalogue_patterns())[0]
        'mate-backgrounds'
    """
    chosen = (*BIRD_SOURCES, *BACKGROUND_SOURCES) if sources is None else tuple(sources)
    out: dict[str, list[str]] = {}
    for src in chosen:
        out.setdefault(src.package, []).append(src.path)
    return {pkg: sorted(set(paths)) for pkg, paths in sorted(out.items())}


def missing_packages(*, cache: str | os.PathLike[str] | None = None) -> list[str]:
    """Return the catalogue's packages whose files are not yet in the cache (no network).

    Args:
        cache: The cache root; the default cache by default.

    Returns:
        Sorted package names; empty when everything is there.

    Example:
        >>> missing_packages(cache="/tmp/empty-ct-cache")[0]
        'mate-backgrounds'
    """
    return [pkg for pkg, paths in catalogue_patterns().items() if not is_fetched(pkg, paths, cache=cache)]


def fetch_catalogue(*, cache: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """Fetch every file of the catalogue into the cache (a no-op when it is already there).

    Args:
        cache: The cache root; the default cache by default.

    Returns:
        ``{package: folder}`` where each package's files were extracted.

    Raises:
        RuntimeError: A package could not be fetched (see
            :func:`~causal_transforms.data.debian.fetch_debian_files`).

    Example:
        >>> folders = fetch_catalogue()  # doctest: +SKIP
        >>> sorted(folders)  # doctest: +SKIP
        ['mate-backgrounds', 'plasma-workspace-wallpapers', 'tuxpaint-data', 'tuxpaint-stamps-default']
    """
    return {pkg: fetch_debian_files(pkg, paths, cache=cache) for pkg, paths in catalogue_patterns().items()}


def _fetch_for(sources: Sequence[PhotoSource], cache: str | os.PathLike[str] | None) -> dict[str, Path]:
    return {pkg: fetch_debian_files(pkg, paths, cache=cache) for pkg, paths in catalogue_patterns(sources).items()}


def _imread(path: Path, flags: int) -> np.ndarray:
    image = cv2.imread(str(path), flags)
    if image is None:
        raise RuntimeError(
            f"could not read {path}; the cached file may be damaged: delete {path.parent} "
            "and run `causal-transforms fetch-data` again"
        )
    return image


def load_bird_cutouts(
    habitat: Habitat | None = None, *, cache: str | os.PathLike[str] | None = None
) -> list[BirdCutout]:
    """Load the bird cutouts (fetching them into the cache on first use).

    Args:
        habitat: ``"water"`` (12 birds), ``"land"`` (21 birds) or ``None`` for all 33.
        cache: The cache root; the default cache by default.

    Returns:
        Cutouts in catalogue order, each cropped to the bounding box of its alpha.

    Raises:
        ValueError: Unknown habitat.
        RuntimeError: The package could not be fetched or a file could not be read.

    Example:
        >>> birds = load_bird_cutouts("water")  # doctest: +SKIP
        >>> len(birds), birds[0].rgba.shape[-1]  # doctest: +SKIP
        (12, 4)
    """
    _check_habitat(habitat)
    sources = [s for s in BIRD_SOURCES if habitat is None or s.habitat == habitat]
    folders = _fetch_for(sources, cache)
    birds = []
    for src in sources:
        path = folders[src.package] / src.path
        image = _imread(path, cv2.IMREAD_UNCHANGED)
        if image.ndim != 3 or image.shape[2] != 4 or image.dtype != np.uint8:
            raise RuntimeError(f"{path}: expected an 8-bit RGBA PNG, got shape {image.shape}, dtype {image.dtype}")
        rgba = cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
        rows = np.flatnonzero(rgba[..., 3].any(axis=1))
        cols = np.flatnonzero(rgba[..., 3].any(axis=0))
        if rows.size == 0:
            raise RuntimeError(f"{path}: the alpha channel is empty, expected a cut-out object")
        rgba = np.ascontiguousarray(rgba[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
        birds.append(BirdCutout(src.name, src.habitat, rgba, src.package, src.path))
    return birds


def load_backgrounds(
    habitat: Habitat | None = None,
    *,
    cache: str | os.PathLike[str] | None = None,
    max_short_side: int | None = MAX_SHORT_SIDE,
) -> list[Background]:
    """Load the background photos (fetching them into the cache on first use).

    Args:
        habitat: ``"water"``, ``"land"`` or ``None`` for all.
        cache: The cache root; the default cache by default.
        max_short_side: Downscale (``cv2.INTER_AREA``) so the short side is at most this;
            ``None`` keeps the full size.

    Returns:
        Backgrounds in catalogue order.

    Raises:
        ValueError: Unknown habitat or a bad ``max_short_side``.
        RuntimeError: A package could not be fetched or a file could not be read.

    Example:
        >>> water = load_backgrounds("water")  # doctest: +SKIP
        >>> min(min(b.rgb.shape[:2]) for b in water) <= 512  # doctest: +SKIP
        True
    """
    _check_habitat(habitat)
    if max_short_side is not None and (
        isinstance(max_short_side, bool) or not isinstance(max_short_side, int) or max_short_side < 1
    ):
        raise ValueError(f"max_short_side: expected None or a positive integer, got {max_short_side!r}")
    sources = [s for s in BACKGROUND_SOURCES if habitat is None or s.habitat == habitat]
    folders = _fetch_for(sources, cache)
    out = []
    for src in sources:
        bgr = _imread(folders[src.package] / src.path, cv2.IMREAD_COLOR)
        h, w = bgr.shape[:2]
        if max_short_side is not None and min(h, w) > max_short_side:
            scale = max_short_side / min(h, w)
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
        out.append(Background(src.name, src.habitat, src.package, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), src.path))
    return out
