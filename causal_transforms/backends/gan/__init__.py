"""The ``gan`` backend: a small fully convolutional background generator, its weights and resampler.

Submodules are imported on first use (no torch model is built at import):

* :mod:`~causal_transforms.backends.gan.model`: :class:`BackgroundGenerator`, :class:`GeneratorConfig`;
* :mod:`~causal_transforms.backends.gan.weights`: :data:`PRETRAINED`, :func:`load_generator`;
* :mod:`~causal_transforms.backends.gan.resampler`: :class:`GANResampler`.

Example:
    >>> from causal_transforms.backends import gan
    >>> gan.GeneratorConfig().style_dim
    64
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from causal_transforms._lazy import lazy_attributes

__all__ = [
    "PRETRAINED",
    "BackgroundGenerator",
    "GANResampler",
    "GANWeights",
    "GeneratorConfig",
    "load_generator",
    "save_generator",
]

_LAZY = {
    "BackgroundGenerator": "causal_transforms.backends.gan.model",
    "GeneratorConfig": "causal_transforms.backends.gan.model",
    "GANWeights": "causal_transforms.backends.gan.weights",
    "PRETRAINED": "causal_transforms.backends.gan.weights",
    "load_generator": "causal_transforms.backends.gan.weights",
    "save_generator": "causal_transforms.backends.gan.weights",
    "GANResampler": "causal_transforms.backends.gan.resampler",
}

if TYPE_CHECKING:  # pragma: no cover
    from causal_transforms.backends.gan.model import BackgroundGenerator, GeneratorConfig
    from causal_transforms.backends.gan.resampler import GANResampler
    from causal_transforms.backends.gan.weights import PRETRAINED, GANWeights, load_generator, save_generator


__getattr__, __dir__ = lazy_attributes(__name__, globals(), _LAZY)
