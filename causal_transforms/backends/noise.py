"""``noise``: independent per-pixel noise, the weakest baseline."""

from __future__ import annotations

from typing import Literal

import torch

from causal_transforms.backends.base import Resampler
from causal_transforms.core.seeding import per_sample_generators

__all__ = ["NoiseResampler"]


class NoiseResampler(Resampler):
    """Fill the background with per-pixel noise.

    Args:
        distribution: ``"uniform"`` draws in [0, 1]; ``"gaussian"`` draws around the mean and
            standard deviation of each sample's own background, per channel.

    Example:
        >>> r = NoiseResampler()
        >>> r(torch.zeros(1, 3, 8, 8), torch.zeros(1, 1, 8, 8), torch.tensor([0])).shape
        torch.Size([1, 3, 8, 8])

    """

    bounded = True  # every path ends in [0, 1] (clamped, uint8-derived or a convex fill)

    def __init__(self, distribution: Literal["uniform", "gaussian"] = "uniform") -> None:
        if distribution not in ("uniform", "gaussian"):
            raise ValueError(f"distribution: expected 'uniform' or 'gaussian', got {distribution!r}")
        self.distribution = distribution

    def generate(self, image, keep, seeds, donors=None):  # noqa: D102
        gens = per_sample_generators(seeds, image.device)
        shape = image.shape[1:]
        if self.distribution == "uniform":
            return torch.stack([torch.rand(shape, generator=g, device=image.device, dtype=image.dtype) for g in gens])
        weight = (1.0 - keep).clamp_min(0)
        total = weight.sum(dim=(2, 3), keepdim=True).clamp_min(1e-6)
        mean = (image * weight).sum(dim=(2, 3), keepdim=True) / total
        var = ((image - mean) ** 2 * weight).sum(dim=(2, 3), keepdim=True) / total
        z = torch.stack([torch.randn(shape, generator=g, device=image.device, dtype=image.dtype) for g in gens])
        return (mean + z * var.sqrt()).clamp(0.0, 1.0)

    def __repr__(self) -> str:
        return f"NoiseResampler(distribution={self.distribution!r})"
