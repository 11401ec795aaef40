"""The shared engine: validate, run a backend on the selected samples, composite.

Both host integrations call :func:`apply_resample`; they differ only in how they turn their
inputs into ``(B, C, H, W)`` tensors and where the seeds come from.
"""

from __future__ import annotations

import torch

from causal_transforms.backends.base import Resampler
from causal_transforms.core.composite import composite
from causal_transforms.core.devices import check_device, single_thread_after_fork
from causal_transforms.core.feather import feather_keep
from causal_transforms.core.ranges import check_image_dtype, to_unit_float

__all__ = ["apply_resample", "check_batch"]


def check_batch(image: torch.Tensor, keep: torch.Tensor, mask_name: str = "mask") -> None:
    """Check that ``image`` is ``(B, C, H, W)`` and ``keep`` a matching ``(B, 1, H, W)``.

    Args:
        image: The image batch.
        keep: The keep-map batch.
        mask_name: Name of the user's mask argument, for errors.

    Raises:
        ValueError: Shapes do not match; devices differ.
        TypeError: Unsupported image dtype.

    Example:
        >>> check_batch(torch.zeros(2, 3, 4, 4), torch.zeros(2, 1, 4, 4))

    """
    check_image_dtype(image)
    if image.ndim != 4:
        raise ValueError(f"image: expected shape (B, C, H, W), got {tuple(image.shape)}")
    if image.shape[-1] < 1 or image.shape[-2] < 1 or image.shape[1] < 1:
        raise ValueError(f"image: expected non-empty channels, height and width, got {tuple(image.shape)}")
    expected = (image.shape[0], 1, *image.shape[-2:])
    if keep.ndim != 4 or tuple(keep.shape) != expected:
        raise ValueError(
            f"{mask_name}: expected a mask of spatial size {tuple(image.shape[-2:])} for image of shape "
            f"{tuple(image.shape)} (keep-map {expected}), got keep-map of shape {tuple(keep.shape)}"
        )
    if keep.device != image.device:
        raise ValueError(f"{mask_name}: expected a tensor on {image.device} like the image, got one on {keep.device}")


def apply_resample(
    image: torch.Tensor,
    keep: torch.Tensor,
    resampler: Resampler,
    seeds: torch.Tensor,
    *,
    active: torch.Tensor | None = None,
    feather: int = 0,
    donors: tuple[torch.Tensor, torch.Tensor] | None = None,
    require_causal: bool = False,
    mask_name: str = "mask",
    binary_keep: bool | None = None,
) -> torch.Tensor:
    """Resample the non-causal pixels of the ``active`` samples of a batch.

    Causal pixels (``keep == 1``, after feathering) come back bit-identical. The backend runs
    only on samples that are active and have at least one non-causal pixel.

    Args:
        image: ``(B, C, H, W)``, ``uint8`` or float in [0, 1] (any float dtype, any device).
        keep: ``(B, 1, H, W)`` float keep-map in [0, 1] on the image's device.
        resampler: The backend.
        seeds: ``(B,)`` int64 seeds, one per sample.
        active: Optional ``(B,)`` bool; samples to leave untouched are ``False``.
        feather: Fade width in pixels (outward into the non-causal region only).
        donors: Optional ``(images, keeps)`` pool for batch backends such as ``swap``.
        require_causal: Raise when an active sample has no causal pixel at all.
        mask_name: Name of the user's mask argument, for errors.
        binary_keep: ``True`` when the caller knows ``keep`` holds only 0 and 1 (a binary role
            map), which skips a check; ``None`` checks. Ignored when feathering.

    Returns:
        A new tensor with the dtype, shape and device of ``image``.

    Raises:
        ValueError: Bad shapes or values (named after the argument).

    Example:
        >>> from causal_transforms import create_resampler
        >>> img = torch.rand(2, 3, 8, 8); keep = torch.zeros(2, 1, 8, 8); keep[..., :4, :] = 1
        >>> out = apply_resample(img, keep, create_resampler("noise"), torch.tensor([0, 1]))
        >>> bool((out[..., :4, :] == img[..., :4, :]).all())
        True

    """
    single_thread_after_fork()
    if isinstance(image, torch.Tensor) and image.device.type == "cuda":
        check_device(image.device, "image")
    check_batch(image, keep, mask_name)
    if image.is_floating_point():
        to_unit_float(image)  # the range of every sample, resampled or not, checked once (no copy for float32)
    b = image.shape[0]
    if not isinstance(seeds, torch.Tensor) or seeds.dtype not in (torch.int64, torch.int32) or seeds.shape != (b,):
        got = f"{tuple(seeds.shape)} {seeds.dtype}" if isinstance(seeds, torch.Tensor) else type(seeds).__name__
        raise TypeError(f"seeds: expected an int64 tensor of shape ({b},), one seed per sample, got {got}")
    if not keep.is_floating_point():
        raise ValueError(f"{mask_name}: expected a float keep-map with values in [0, 1], got dtype {keep.dtype}")
    if active is not None:
        if active.shape != (b,):
            raise ValueError(f"active: expected shape ({b},), got {tuple(active.shape)}")
        active = active.to(device=keep.device, dtype=torch.bool)
    keep = keep.to(torch.float32)
    if keep.numel() == 0:
        return image.clone()
    # One pass over the keep-map gives the range check (NaN propagates into both extremes), the
    # samples that have a background to resample, and those with a causal pixel.
    lo, hi = keep.flatten(1).aminmax(dim=1)
    if bool(lo.isnan().any()) or float(lo.min()) < 0.0 or float(hi.max()) > 1.0:
        raise ValueError(f"{mask_name}: expected a keep-map with values in [0, 1] (no NaN), got values outside it")
    if feather:
        keep = feather_keep(keep, feather)
        lo = keep.flatten(1).amin(dim=1)
    has_background = lo < 1.0
    selected = has_background if active is None else has_background & active
    if require_causal:
        act = torch.ones(b, dtype=torch.bool, device=keep.device) if active is None else active
        empty = act & ~(hi > 0)
        if bool(empty.any()):
            raise ValueError(
                f"{mask_name}: expected at least one causal pixel per sample (require_causal=True), "
                f"got none in samples {torch.nonzero(empty).flatten().tolist()}"
            )
    index = torch.nonzero(selected).flatten()
    n = int(index.numel())
    if n == 0:
        return image.clone()
    sub_image = image[index] if n < b else image
    sub_keep = keep[index] if n < b else keep
    unit = to_unit_float(sub_image, check=False)
    if donors is None and resampler.uses_batch and n < b:
        # Donors for a sub-batch: the other samples that have a background to give.
        others = has_background.clone()
        others[index] = False
        if bool(others.any()):
            donors = (to_unit_float(image[others], check=False), keep[others])
    sub_seeds = seeds.cpu() if n == b else seeds.cpu()[index.cpu()]
    # The inputs were validated above (image range by to_unit_float), so the backend's own
    # input checks are skipped; what it returns is still checked.
    content = resampler._generate_checked_output(unit, sub_keep.to(unit.dtype), sub_seeds, donors)
    binary = None if feather else binary_keep
    bounded = bool(getattr(resampler, "bounded", False))
    if n == b:
        return composite(image, content, keep, binary=binary, bounded=bounded)
    out = image.clone()
    out[index] = composite(sub_image, content, sub_keep, binary=binary, bounded=bounded)
    return out
