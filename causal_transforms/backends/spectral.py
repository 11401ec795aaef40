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
    of the background alone; the background is mirrored before the FFT so the image's borders
    leave no streaks. One random phase field is shared by all channels, so colours stay
    correlated as in the photo. The result has the background's per-channel mean and
    standard deviation, its texture scale and orientation, but none of its layout.

    Example:
        >>> r = SpectralResampler()
        >>> r(torch.rand(2, 3, 16, 16), torch.zeros(2, 1, 16, 16), torch.tensor([1, 2])).shape
        torch.Size([2, 3, 16, 16])

    """

    bounded = True  # every path ends in [0, 1] (clamped, uint8-derived or a convex fill)

    def generate(self, image, keep, seeds, donors=None):  # noqa: D102
        x = image.float() if image.dtype != torch.float64 else image
        background = fill_holes(x, 1.0 - keep.to(x.dtype))
        mean = background.mean(dim=(2, 3), keepdim=True)
        std = background.std(dim=(2, 3), keepdim=True, unbiased=False) if x.shape[-1] * x.shape[-2] > 1 else None
        # Mirror the background to (2H, 2W): the extension is periodic without edge jumps, so its
        # spectrum has no cross-shaped leakage (which would draw horizontal/vertical streaks).
        centred = background - mean
        mirrored = torch.cat([centred, centred.flip(-1)], dim=-1)
        mirrored = torch.cat([mirrored, mirrored.flip(-2)], dim=-2)
        amplitude = torch.fft.rfft2(mirrored).abs()
        gens = per_sample_generators(seeds, x.device)
        h, w = x.shape[-2:]
        noise = torch.stack([torch.randn((1, 2 * h, 2 * w), generator=g, device=x.device, dtype=x.dtype) for g in gens])
        phase = torch.fft.rfft2(noise)
        phase = phase / phase.abs().clamp_min(1e-12)
        out = torch.fft.irfft2(amplitude * phase, s=(2 * h, 2 * w))[..., :h, :w]
        if std is not None:
            out_std = out.std(dim=(2, 3), keepdim=True, unbiased=False)
            out = out * (std / out_std.clamp_min(1e-8))
        return (out + mean).clamp(0.0, 1.0).to(image.dtype)
