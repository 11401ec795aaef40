"""``telea``: OpenCV's fast-marching inpainting (Telea 2004) of the whole non-causal region."""

from __future__ import annotations

import numpy as np
import torch

from causal_transforms.backends.base import Resampler

__all__ = ["TeleaResampler"]


class TeleaResampler(Resampler):
    """Inpaint every non-causal pixel from the causal pixels around it (``cv2.INPAINT_TELEA``).

    Conditional and deterministic: the new background is grown from the object's own border,
    which is what ``A.MaskDropout(fill="inpaint_telea")`` does. It runs on the CPU in ``uint8``.

    Args:
        radius: Inpainting neighbourhood radius in pixels.

    Example:
        >>> keep = torch.zeros(1, 1, 8, 8); keep[..., 2:5, 2:5] = 1
        >>> TeleaResampler()(torch.rand(1, 3, 8, 8), keep, torch.tensor([0])).shape
        torch.Size([1, 3, 8, 8])

    """

    bounded = True  # every path ends in [0, 1] (clamped, uint8-derived or a convex fill)

    conditional = True
    stochastic = False

    def __init__(self, radius: float = 3.0) -> None:
        if isinstance(radius, bool) or not isinstance(radius, (int, float)) or not radius > 0:
            raise ValueError(f"radius: expected a positive number of pixels, got {radius!r}")
        self.radius = float(radius)

    def generate(self, image, keep, seeds, donors=None):  # noqa: D102
        import cv2

        src = (image.detach().float().clamp(0, 1) * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        holes = (keep[:, 0] < 1.0).cpu().numpy().astype(np.uint8)
        out = np.empty(src.shape, dtype=np.float32)
        for i in range(src.shape[0]):
            if not holes[i].any():
                out[i] = src[i]
                continue
            if holes[i].all():
                out[i] = 127.5
                continue
            channels = src.shape[-1]
            if channels in (1, 3):
                filled = cv2.inpaint(np.ascontiguousarray(src[i]), holes[i], self.radius, cv2.INPAINT_TELEA)
                out[i] = filled.reshape(src.shape[1:])
            else:
                for c in range(channels):
                    plane = np.ascontiguousarray(src[i, :, :, c])
                    out[i, :, :, c] = cv2.inpaint(plane, holes[i], self.radius, cv2.INPAINT_TELEA)
        result = torch.from_numpy(out / 255.0).permute(0, 3, 1, 2)
        return result.to(device=image.device, dtype=image.dtype)

    def __repr__(self) -> str:
        return f"TeleaResampler(radius={self.radius:g})"
