"""The built-in backends, registered through the same hook as any third-party plugin."""

from __future__ import annotations

from causal_transforms.hookspecs import hookimpl
from causal_transforms.registry import ResamplerSpec

__all__ = ["causal_transforms_resamplers"]


def _noise(**options):
    from causal_transforms.backends.noise import NoiseResampler

    return NoiseResampler(**options)


def _spectral(**options):
    from causal_transforms.backends.spectral import SpectralResampler

    return SpectralResampler(**options)


def _swap(**options):
    from causal_transforms.backends.swap import SwapResampler

    return SwapResampler(**options)


def _telea(**options):
    from causal_transforms.backends.telea import TeleaResampler

    return TeleaResampler(**options)


def _gan(**options):
    from causal_transforms.backends.gan.resampler import GANResampler

    return GANResampler(**options)


@hookimpl
def causal_transforms_resamplers() -> list[ResamplerSpec]:
    """The classical, weight-free resamplers and the GAN backend."""
    return [
        ResamplerSpec("noise", _noise, "per-pixel noise (uniform, or gaussian matched to the background)"),
        ResamplerSpec("spectral", _spectral, "the background's own amplitude spectrum with a random phase"),
        ResamplerSpec("swap", _swap, "the background of another sample of the batch", uses_batch=True),
        ResamplerSpec("telea", _telea, "OpenCV Telea inpainting grown from the object's border", conditional=True),
        ResamplerSpec("gan", _gan, "a scene from a fully convolutional background GAN, drawn from the seed alone"),
    ]
