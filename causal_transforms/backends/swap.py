"""``swap``: the background of another sample, the idea of Kornia's RandomTransplantation."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from causal_transforms.backends.base import Resampler
from causal_transforms.core.fill import fill_holes

__all__ = ["SwapResampler"]


class SwapResampler(Resampler):
    """Put each sample's object in front of another sample's background.

    The donor is a batch-mate chosen by the sample's seed (never the sample itself), or one of
    ``donors`` when given (used for single images, where there is no batch; donors that are all
    object are passed over). The donor's own
    object is filled out of its background first (push-pull), so no second object appears. A
    lone image with no donor gets its own background mirrored and shifted.

    Example:
        >>> r = SwapResampler()
        >>> r(torch.rand(3, 3, 8, 8), torch.zeros(3, 1, 8, 8), torch.tensor([5, 6, 7])).shape
        torch.Size([3, 3, 8, 8])

    """

    bounded = True  # every path ends in [0, 1] (clamped, uint8-derived or a convex fill)

    uses_batch = True

    def generate(self, image, keep, seeds, donors=None):  # noqa: D102
        b = image.shape[0]
        s = seeds.tolist()
        pool = None
        if donors is not None and donors[0].shape[0] > 0:
            pool, pool_keep = donors
            lends = pool_keep.flatten(1).amin(dim=1) < 1.0  # a donor that is all object has no background
            if not bool(lends.all()):
                pool, pool_keep = pool[lends], pool_keep[lends]
        if pool is not None and pool.shape[0] > 0:
            pool = pool.to(device=image.device, dtype=image.dtype)
            pool_keep = pool_keep.to(device=image.device, dtype=image.dtype)
            if pool.shape[-2:] != image.shape[-2:]:
                pool = F.interpolate(pool, size=image.shape[-2:], mode="bilinear", align_corners=False)
                pool_keep = F.interpolate(pool_keep, size=image.shape[-2:], mode="bilinear", align_corners=False)
            if pool.shape[0] == 1 == b:  # one donor for one image (the engine's lone sample): no gather
                return fill_holes(pool, 1.0 - pool_keep)
            index = torch.tensor([v % pool.shape[0] for v in s], device=image.device)
            return fill_holes(pool.index_select(0, index), 1.0 - pool_keep.index_select(0, index))
        # Keep-maps reach a backend checked to lie in [0, 1], so 1 - keep is a valid weight; the fill
        # is a convex combination of pixels in [0, 1]: no clamp needed.
        background = fill_holes(image, 1.0 - keep)
        if b == 1:
            h, w = image.shape[-2:]
            shift = (s[0] % max(h, 1), (s[0] // max(h, 1)) % max(w, 1))
            return torch.roll(background.flip(-1, -2), shifts=shift, dims=(-2, -1))
        return _exchange(background, s)

    def generate_rows(self, image, rows, keep, seeds, donors=None):  # noqa: D102
        if (donors is not None and donors[0].shape[0] > 0) or rows.numel() < 2:
            return super().generate_rows(image, rows, keep, seeds, donors)
        # The selected samples lend each other their backgrounds, as in generate; the fill reads
        # their rows straight from the batch.
        return _exchange(fill_holes(image, 1.0 - keep, rows=rows), seeds.tolist())


def _exchange(background: torch.Tensor, seeds: list[int]) -> torch.Tensor:
    """Give each sample the background of another sample, chosen by its seed (never its own)."""
    b = background.shape[0]
    index = torch.tensor([(i + 1 + v % (b - 1)) % b for i, v in enumerate(seeds)], device=background.device)
    return background.index_select(0, index)  # several times faster than background[index] on CPUs
