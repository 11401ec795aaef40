"""Value ranges: every backend sees float images in [0, 1]; users keep their own dtype.

Supported image dtypes are ``uint8`` (0..255) and floating point (``float16``, ``bfloat16``,
``float32``, ``float64``) already in [0, 1].
"""

from __future__ import annotations

import torch

__all__ = ["SUPPORTED_IMAGE_DTYPES", "check_image_dtype", "from_unit_float", "to_unit_float"]

SUPPORTED_IMAGE_DTYPES: tuple[torch.dtype, ...] = (
    torch.uint8,
    torch.float16,
    torch.bfloat16,
    torch.float32,
    torch.float64,
)


def check_image_dtype(image: torch.Tensor, name: str = "image") -> None:
    """Raise a clear ``TypeError`` when ``image`` has a dtype the library does not handle.

    Args:
        image: The image tensor.
        name: The argument name to report.

    Raises:
        TypeError: Not a tensor, or a dtype outside :data:`SUPPORTED_IMAGE_DTYPES`.

    Example:
        >>> check_image_dtype(torch.zeros(2, 2, dtype=torch.uint8))

    """
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(image).__name__}")
    if image.dtype not in SUPPORTED_IMAGE_DTYPES:
        names = ", ".join(str(d).removeprefix("torch.") for d in SUPPORTED_IMAGE_DTYPES)
        raise TypeError(f"{name}: expected dtype one of ({names}), got {str(image.dtype).removeprefix('torch.')}")


def to_unit_float(
    image: torch.Tensor, name: str = "image", dtype: torch.dtype = torch.float32, *, check: bool = True
) -> torch.Tensor:
    """Return ``image`` as a float tensor in [0, 1], checking the range of float input.

    Args:
        image: ``uint8`` (0..255) or float in [0, 1].
        name: The argument name to report in errors.
        dtype: The float dtype of the result (``float64`` input stays ``float64``).
        check: Check the range of float input (skip only when the caller already did).

    Returns:
        A new float tensor in [0, 1].

    Raises:
        TypeError: Unsupported dtype.
        ValueError: Float values outside [0, 1], NaN or infinite.

    Example:
        >>> to_unit_float(torch.tensor([0, 255], dtype=torch.uint8))
        tensor([0., 1.])

    """
    check_image_dtype(image, name)
    if image.dtype == torch.uint8:
        return image.to(dtype) / 255.0
    out_dtype = torch.float64 if image.dtype == torch.float64 else dtype
    if check and image.numel():
        lo, hi = torch.aminmax(_dense(image.float() if image.dtype in (torch.float16, torch.bfloat16) else image))
        lo_v, hi_v = float(lo), float(hi)
        if lo_v != lo_v or hi_v != hi_v:
            raise ValueError(f"{name}: expected float values in [0, 1], got NaN values")
        if not (lo_v >= 0.0 and hi_v <= 1.0):
            raise ValueError(
                f"{name}: expected float values in [0, 1] (divide 0..255 values by 255), "
                f"got values in [{lo_v:g}, {hi_v:g}]"
            )
    return image.to(out_dtype)


def _dense(t: torch.Tensor) -> torch.Tensor:
    """A contiguous view of a channels-last tensor for whole-tensor reductions (several times faster)."""
    if t.ndim == 4 and not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last):
        return t.permute(0, 2, 3, 1)
    return t


def from_unit_float(values: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Convert float values in [0, 1] to ``dtype`` (rounding and clamping for ``uint8``).

    Args:
        values: Float tensor, nominally in [0, 1].
        dtype: Target dtype, one of :data:`SUPPORTED_IMAGE_DTYPES`.

    Returns:
        The converted tensor, clamped to the dtype's valid range.

    Example:
        >>> from_unit_float(torch.tensor([0.0, 0.5, 1.2]), torch.uint8)
        tensor([  0, 128, 255], dtype=torch.uint8)

    """
    if dtype == torch.uint8:
        return (values * 255.0).round_().clamp_(0, 255).to(torch.uint8)
    return values.clamp(0.0, 1.0).to(dtype)
