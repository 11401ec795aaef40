"""``spectral``: a new background with the amplitude spectrum of the image's own background."""

from __future__ import annotations

import torch

from causal_transforms.backends.base import Resampler
from causal_transforms.core.fill import fill_holes
from causal_transforms.core.seeding import per_sample_generators

__all__ = ["SpectralResampler"]


class SpectralResampler(Resampler):
    """Keep each channel's amplitude spectrum of the background, draw a random phase.

    The object is first filled out of the image (push-pull fill), so the statistics are those
    of the background alone. One random phase field is shared by all channels, so colours stay
    correlated as in the photo. The result has the background's per-channel mean and
    standard deviation, its texture scale and orientation, but none of its layout.

    Example:
        >>> r = SpectralResampler()
        >>> r(torch.rand(2, 3, 16, 16), torch.zeros(2, 1, 16, 16), torch.tensor([1, 2])).shape
        torch.Size([2, 3, 16, 16])

    """

    def generate(self, image, keep, seeds, donors=None):  # noqa: D102
        x = image.float() if image.dtype != torch.float64 else image
        background = fill_holes(x, (1.0 - keep.to(x.dtype)).clamp_min(0))
        mean = background.mean(dim=(2, 3), keepdim=True)
        std = (
            background.std(dim=(2, 3), keepdim=True, unbiased=False)
            if x.shape[-1] * x.shape[-2] > 1
            else None
        )
        centred = background - mean
        amplitude = torch.fft.rfft2(centred).abs()
        gens = per_sample_generators(seeds, x.device)
        h, w = x.shape[-2:]
        noise = torch.stack(
            [torch.randn((1, h, w), generator=g, device=x.device, dtype=x.dtype) for g in gens]
        )
        phase = torch.fft.rfft2(noise)
        phase = phase / phase.abs().clamp_min(1e-12)
        out = torch.fft.irfft2(amplitude * phase, s=(h, w))
        if std is not None:
            out_std = out.std(dim=(2, 3), keepdim=True, unbiased=False)
            out = out * (std / out_std.clamp_min(1e-8))
        return (out + mean).clamp(0.0, 1.0).to(image.dtype)
