"""Feathering: widen the blend outward into the non-causal region, never inward."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["feather_keep"]


def feather_keep(keep: torch.Tensor, radius: int) -> torch.Tensor:
    """Soften the border of a keep-map outward by ``radius`` pixels.

    A non-causal pixel at chessboard distance ``d <= radius`` from a causal pixel gets keep
    weight ``1 - d / (radius + 1)`` (if that is larger than its own weight), so the new content
    fades in instead of meeting the object at a hard edge. Pixels with ``keep == 1`` stay
    exactly 1, so causal pixels are never blended.

    Args:
        keep: Keep-map of shape ``(B, 1, H, W)``, float in [0, 1].
        radius: Width of the fade in pixels; 0 returns ``keep`` unchanged.

    Returns:
        The feathered keep-map, same shape and dtype.

    Raises:
        ValueError: ``radius`` is negative or not an integer, or ``keep`` is not 4-D.

    Example:
        >>> keep = torch.zeros(1, 1, 1, 5); keep[..., 0] = 1
        >>> [round(v, 3) for v in feather_keep(keep, 2)[0, 0, 0].tolist()]
        [1.0, 0.667, 0.333, 0.0, 0.0]

    """
    if isinstance(radius, bool) or not isinstance(radius, int) or radius < 0:
        raise ValueError(f"feather: expected a non-negative integer radius in pixels, got {radius!r}")
    if keep.ndim != 4:
        raise ValueError(f"keep: expected shape (B, 1, H, W), got {tuple(keep.shape)}")
    if radius == 0:
        return keep
    step = 1.0 / (radius + 1)
    out = keep
    for _ in range(radius):
        grown = F.max_pool2d(out, kernel_size=3, stride=1, padding=1) - step
        out = torch.maximum(out, grown)
    return out
