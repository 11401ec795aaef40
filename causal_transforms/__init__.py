"""causal_transforms: causal data augmentation for Albumentations and Kornia.

Keep the causal pixels (the object) exactly and resample only the non-causal content
(background, context) with a generator: a classical resampler, an inpainter or a GAN.

Importing the package is cheap: it loads no plugin, no model and no host library. The
public names below are resolved on first use.

Example:
    >>> import causal_transforms as ct
    >>> "spectral" in ct.list_resamplers()
    True

"""

from __future__ import annotations

from typing import TYPE_CHECKING

from causal_transforms._lazy import lazy_attributes

__version__ = "0.1.0"

__all__ = [
    "RoleSpec",
    "Resampler",
    "ResamplerSpec",
    "__version__",
    "apply_resample",
    "composite",
    "create_resampler",
    "feather_keep",
    "get_resampler",
    "list_resamplers",
    "register_resampler",
    "resampler_specs",
]

_LAZY = {
    "RoleSpec": "causal_transforms.core.roles",
    "composite": "causal_transforms.core.composite",
    "feather_keep": "causal_transforms.core.feather",
    "Resampler": "causal_transforms.backends.base",
    "ResamplerSpec": "causal_transforms.registry",
    "create_resampler": "causal_transforms.registry",
    "get_resampler": "causal_transforms.registry",
    "list_resamplers": "causal_transforms.registry",
    "register_resampler": "causal_transforms.registry",
    "resampler_specs": "causal_transforms.registry",
    "apply_resample": "causal_transforms.engine",
}

if TYPE_CHECKING:  # pragma: no cover
    from causal_transforms.backends.base import Resampler
    from causal_transforms.core.composite import composite
    from causal_transforms.core.feather import feather_keep
    from causal_transforms.core.roles import RoleSpec
    from causal_transforms.engine import apply_resample
    from causal_transforms.registry import (
        ResamplerSpec,
        create_resampler,
        get_resampler,
        list_resamplers,
        register_resampler,
        resampler_specs,
    )


__getattr__, __dir__ = lazy_attributes(__name__, globals(), _LAZY)
