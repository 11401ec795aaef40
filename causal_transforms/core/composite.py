"""The one composition rule: ``out = keep * image + (1 - keep) * generated``.

Pixels with ``keep == 1`` are copied from the input, so they come back bit-identical (same
dtype, same values) whatever the backend, dtype, device or seed.
"""

from __future__ import annotations

import torch

from causal_transforms.core.ranges import check_image_dtype, from_unit_float

__all__ = ["composite"]


def composite(
    image: torch.Tensor,
    generated: torch.Tensor,
    keep: torch.Tensor,
    *,
    binary: bool | None = None,
    bounded: bool = False,
) -> torch.Tensor:
    """Blend ``generated`` into the non-causal part of ``image``.

    Args:
        image: The original images, ``(B, C, H, W)``; ``uint8`` or float in [0, 1].
        generated: New content in [0, 1], float, broadcastable to ``image``.
        keep: Keep-map ``(B, 1, H, W)`` in [0, 1] (1 = causal, kept exactly).
        binary: ``True`` when ``keep`` holds only 0 and 1 (skips blending), ``False`` when it
            may not; ``None`` checks.
        bounded: ``generated`` is already in [0, 1] (skips the clamp for float images).

    Returns:
        A new tensor with the dtype and device of ``image``.

    Example:
        >>> img = torch.tensor([[[[10, 20]]]], dtype=torch.uint8)
        >>> composite(img, torch.ones(1, 1, 1, 2), torch.tensor([[[[1.0, 0.0]]]]))
        tensor([[[[ 10, 255]]]], dtype=torch.uint8)

    """
    check_image_dtype(image)
    compute = torch.float64 if image.dtype == torch.float64 else torch.float32
    k = keep.to(device=image.device, dtype=compute)
    gen = generated.to(device=image.device, dtype=compute)
    if binary is None:
        binary = not bool(((k > 0.0) & (k < 1.0)).any())
    if binary:
        # A binary keep-map (the usual case): no blending, the content goes where keep is 0.
        if bounded and image.is_floating_point():
            # With finite inputs, lerp by a 0/1 weight returns each operand exactly (PyTorch's
            # two-sided formula), and it is several times faster than a broadcast where.
            return torch.lerp(gen.to(image.dtype), image, k.to(image.dtype))
        return torch.where(k >= 1.0, image, from_unit_float(gen, image.dtype))
    src = image.to(compute) / 255.0 if image.dtype == torch.uint8 else image.to(compute)
    blended = from_unit_float(torch.lerp(gen, src, k), image.dtype)
    return torch.where(k >= 1.0, image, blended)
