"""Generator backends: callables that turn images and keep-maps into new full-canvas content.

Backends know no host library; they are created by name through :mod:`causal_transforms.registry`.
"""

from causal_transforms.backends.base import Resampler

__all__ = ["Resampler"]
