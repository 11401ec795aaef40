"""Openly licensed real data that works offline: a Debian-package photo catalogue and TuxBirds.

Nothing is read or downloaded at import time; files are fetched into the cache
(:func:`cache_dir`) on first use, or ahead of time with ``causal-transforms fetch-data``.

Example:
    >>> from causal_transforms.data import WATER_BIRDS, LAND_BIRDS
    >>> len(WATER_BIRDS), len(LAND_BIRDS)
    (12, 21)
"""

from causal_transforms.data.cache import cache_dir
from causal_transforms.data.debian import debian_provenance, fetch_debian_files, is_fetched
from causal_transforms.data.photos import (
    BACKGROUND_SOURCES,
    BIRD_SOURCES,
    LAND_BIRDS,
    LICENCES,
    WATER_BIRDS,
    Background,
    BirdCutout,
    PhotoSource,
    catalogue_patterns,
    fetch_catalogue,
    load_backgrounds,
    load_bird_cutouts,
    missing_packages,
)
from causal_transforms.data.tuxbirds import (
    CompositeParams,
    Sample,
    composite_bird,
    render_composite,
    sample_composite_params,
    sample_set,
)

__all__ = [
    "BACKGROUND_SOURCES",
    "BIRD_SOURCES",
    "LAND_BIRDS",
    "LICENCES",
    "WATER_BIRDS",
    "Background",
    "BirdCutout",
    "CompositeParams",
    "PhotoSource",
    "Sample",
    "cache_dir",
    "catalogue_patterns",
    "composite_bird",
    "debian_provenance",
    "fetch_catalogue",
    "fetch_debian_files",
    "is_fetched",
    "load_backgrounds",
    "load_bird_cutouts",
    "missing_packages",
    "render_composite",
    "sample_composite_params",
    "sample_set",
]
