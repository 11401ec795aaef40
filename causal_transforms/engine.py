"""The shared engine: validate, run a backend on the selected samples, composite.

Both host integrations call :func:`apply_resample`; they differ only in how they turn their
inputs into ``(B, C, H, W)`` tensors and where the seeds come from.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from causal_transforms.backends.base import Resampler, check_donors
from causal_transforms.core.composite import composite, composite_rows
from causal_transforms.core.devices import check_device, single_thread_after_fork
from causal_transforms.core.feather import feather_keep
from causal_transforms.core.ranges import check_image_dtype, to_unit_float
from causal_transforms.core.rows import row_runs

__all__ = ["Selection", "apply_resample", "check_batch", "resample_one", "resample_selected"]


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
    keep_is_valid: bool = False,
    donors_are_valid: bool = False,
) -> torch.Tensor:
    """Resample the non-causal pixels of the ``active`` samples of a batch.

    Causal pixels (``keep == 1``, after feathering) come back bit-identical. The backend runs
    only on samples that are active and have at least one non-causal pixel; every active
    sample's image is checked (float values in [0, 1]), while samples that ``active`` skips pass
    through untouched and unchecked, as a transform that ``p`` skipped does in Albumentations.

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
        keep_is_valid: ``True`` when ``keep`` comes from
            :meth:`~causal_transforms.core.roles.RoleSpec.keep_map` (finite, in [0, 1]), which
            skips the range check of the keep-map.
        donors_are_valid: ``True`` when ``donors`` were checked already (an adapter's own donor
            bank), which skips :func:`~causal_transforms.backends.base.check_donors`.

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
    picked = resample_selected(
        image,
        keep,
        resampler,
        seeds,
        active=active,
        feather=feather,
        donors=donors,
        require_causal=require_causal,
        mask_name=mask_name,
        keep_is_valid=keep_is_valid,
        donors_are_valid=donors_are_valid,
    )
    if picked is None:
        return image.clone()
    binary = None if feather else binary_keep
    bounded = bool(getattr(resampler, "bounded", False))
    if picked.index is None:
        return composite(image, picked.content, picked.keep, binary=binary, bounded=bounded)
    if image.device.type == "cpu" and math.prod(image.shape[1:]) >= _ROW_WRITE_MIN:
        # Image-sized rows on the CPU (any dtype), where memory traffic is the cost: each output
        # row is written once, the resampled ones straight from the input's rows.
        return composite_rows(image, picked.index, picked.content, picked.keep, binary=binary, bounded=bounded)
    # Accelerators, or small rows where Python calls per run would dominate: one kernel each.
    mixed = composite(picked.image, picked.content, picked.keep, binary=binary, bounded=bounded)
    return image.clone().index_copy_(0, picked.index, mixed)


def _out_of_range_samples(image: torch.Tensor, act_index: torch.Tensor | None) -> list[int]:
    """Batch positions of the checked samples with a value outside [0, 1] or NaN (for errors)."""
    flat = image.flatten(1).float()
    bad = ~((flat >= 0) & (flat <= 1)).all(dim=1)
    if act_index is not None:
        keep_only = torch.zeros_like(bad)
        keep_only[act_index] = True
        bad &= keep_only
    return torch.nonzero(bad).flatten().tolist()


_ROW_WRITE_MIN = 1 << 15  # elements per sample from which the engine reads and writes rows in place on the CPU


def _check_unit_runs(image: torch.Tensor, runs: list[tuple[int, int, int]]) -> None:
    """Check that the float32/float64 rows of ``runs`` lie in [0, 1], with one host sync for all runs."""
    if len(runs) == 1:
        _, i, length = runs[0]
        to_unit_float(image[i : i + length])
        return
    extremes = [v for _, i, length in runs for v in torch.aminmax(image[i : i + length])]
    values = torch.stack(extremes).tolist()
    if all(0.0 <= v <= 1.0 for v in values):  # NaN fails every comparison
        return
    for _, i, length in runs:  # the first run out of range raises the usual message
        to_unit_float(image[i : i + length])


def _in_place_rows(image: torch.Tensor) -> bool:
    """Whether the selected samples of ``image`` are read and written as rows of the batch.

    On CPUs, for image-sized rows, gathering the selected samples into a sub-batch and
    scattering the results back are a large share of a cheap backend's cost; reading the rows
    through views saves both. On accelerators each view is another kernel launch, and on small
    rows the Python calls per run dominate: those gather. Float16/bfloat16/uint8 images are
    converted to float32 for the backend, a copy anyway, so they gather as well, and so do
    channels-last or strided batches (the backend computes on contiguous rows either way, and
    its kernels round differently per layout).
    """
    return (
        image.device.type == "cpu"
        and image.dtype in (torch.float32, torch.float64)
        and image.is_contiguous()
        and math.prod(image.shape[1:]) >= _ROW_WRITE_MIN
    )


class Selection(NamedTuple):
    """What :func:`resample_selected` produced for the samples it resampled.

    Attributes:
        index: ``(n,)`` int64 positions of those samples in the batch, ascending, or ``None``
            when it is the whole batch.
        image: Their images, ``(n, C, H, W)``, in the caller's dtype (checked); ``None`` when
            the backend read them in place from the batch (float rows on the CPU), so that
            ``batch.index_select(0, index)`` are they.
        keep: Their keep-maps, ``(n, 1, H, W)`` float32 (feathered when asked).
        content: The backend's new content for them, ``(n, C, H, W)`` float in [0, 1] for
            backends that declare ``bounded``.

    Example:
        >>> picked = Selection(None, torch.zeros(1, 3, 2, 2), torch.zeros(1, 1, 2, 2), torch.ones(1, 3, 2, 2))
        >>> picked.index is None  # the whole batch
        True
    """

    index: torch.Tensor | None
    image: torch.Tensor | None
    keep: torch.Tensor
    content: torch.Tensor


def resample_selected(
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
    keep_is_valid: bool = False,
    donors_are_valid: bool = False,
) -> Selection | None:
    """Validate, pick the samples to resample and run the backend on them (no composite).

    :func:`apply_resample` is this plus :func:`~causal_transforms.core.composite.composite`;
    a host adapter with a faster composite for its own layout (the Albumentations adapter
    writes new content into a copy of the HWC array) calls this directly. Arguments as for
    :func:`apply_resample`.

    Returns:
        The :class:`Selection`, or ``None`` when no sample is resampled (the image is unchanged).

    Example:
        >>> from causal_transforms import create_resampler
        >>> keep = torch.zeros(2, 1, 8, 8); keep[1] = 1  # the second sample is all causal
        >>> picked = resample_selected(torch.rand(2, 3, 8, 8), keep, create_resampler("noise"), torch.tensor([0, 1]))
        >>> picked.index.tolist(), tuple(picked.content.shape)
        ([0], (1, 3, 8, 8))

    """
    single_thread_after_fork()
    if isinstance(image, torch.Tensor) and image.device.type == "cuda":
        check_device(image.device, "image")
    check_batch(image, keep, mask_name)
    if donors is not None and not donors_are_valid:
        check_donors(donors, image)
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
        if image.is_floating_point():
            to_unit_float(image)
        return None
    # Per-sample extremes of the keep-map: the range check (NaN reaches both), the samples that
    # have a background to resample, and those with a causal pixel. (amin and amax separately:
    # aminmax over a dimension is several times slower on CPUs.)
    flat = keep.flatten(1)
    lo = flat.amin(dim=1)
    hi = flat.amax(dim=1) if (require_causal or not keep_is_valid) else None
    if not keep_is_valid:
        lo_v, hi_v = torch.stack((lo.min(), hi.max())).tolist()
        if not (lo_v >= 0.0 and hi_v <= 1.0):  # NaN fails both comparisons
            raise ValueError(f"{mask_name}: expected a keep-map with values in [0, 1] (no NaN), got values outside it")
    has_background = lo < 1.0  # feathering never turns a background pixel into a causal one
    # The gate and the background flags in one host sync; the row bookkeeping is then Python
    # lists of a few entries (cheaper than nonzero and index tensors, and one sync on accelerators).
    if active is None:
        background, act_rows = has_background.tolist(), None
    else:
        gate, background = torch.stack((active, has_background)).tolist()
        act_rows = [i for i, on in enumerate(gate) if on]
    # The active samples: their images are checked and they are the ones that may be resampled.
    n_active = b if act_rows is None else len(act_rows)
    if n_active == 0:
        return None
    act_index = None if n_active == b else torch.tensor(act_rows, dtype=torch.int64, device=image.device)
    in_place = _in_place_rows(image)  # rows read through views (see there), never gathered
    active_image = image if act_index is None or in_place else image.index_select(0, act_index)
    if image.is_floating_point():
        try:
            if in_place and act_index is not None:  # the active rows through views: no gathered copy to check
                _check_unit_runs(image, row_runs(act_rows))
            else:
                to_unit_float(active_image)  # every active sample, resampled or not (no copy for float32)
        except ValueError as exc:
            if b == 1:
                raise
            raise ValueError(f"{exc} (in samples {_out_of_range_samples(image, act_index)})") from None
    if require_causal:
        empty = ~(hi > 0) if active is None else active & ~(hi > 0)
        if bool(empty.any()):
            raise ValueError(
                f"{mask_name}: expected at least one causal pixel per sample (require_causal=True), "
                f"got none in samples {torch.nonzero(empty).flatten().tolist()}"
            )
    rows = [i for i in (range(b) if act_rows is None else act_rows) if background[i]]
    n = len(rows)
    if n == 0:
        return None
    index = None if n == b else torch.tensor(rows, dtype=torch.int64, device=keep.device)
    if index is None:
        sub_image, sub_keep = image, keep
    else:
        sub_image = None if in_place else active_image if n == n_active else image.index_select(0, index)
        sub_keep = keep.index_select(0, index)
    if feather:
        sub_keep = feather_keep(sub_keep, feather)
    if donors is None and resampler.uses_batch and n == 1 < b:
        # A batch backend borrows from the sub-batch's own samples (each one's original
        # background); a lone selected sample borrows from one other sample that has a background,
        # chosen by its seed (gathering and checking the whole rest of the batch would cost more
        # than resampling it). That donor may be one ``active`` skipped and so unchecked: one out
        # of range is not lent (and raises nothing, as skipped samples never do); the backend then
        # falls back to the sample's own background.
        others = [i for i in range(b) if background[i] and i != rows[0]]
        if others:
            pick = others[int(seeds[rows[0]]) % len(others)]
            try:  # views of the batch: the backend only reads them
                donors = (to_unit_float(image[pick : pick + 1]), keep[pick : pick + 1])
            except ValueError:
                donors = None
    sub_seeds = seeds.cpu() if index is None else seeds.cpu()[rows]
    # The inputs were validated above (image range by to_unit_float), so the backend's own
    # input checks are skipped; what it returns is still checked.
    if sub_image is None:  # float32/float64 rows read in place: already the backend's dtype
        content = resampler._generate_rows_checked_output(image, index, sub_keep.to(image.dtype), sub_seeds, donors)
        return Selection(index, None, sub_keep, content)
    unit = to_unit_float(sub_image, check=False)
    content = resampler._generate_checked_output(unit, sub_keep.to(unit.dtype), sub_seeds, donors)
    return Selection(index, sub_image, sub_keep, content)


def resample_one(
    image: torch.Tensor,
    keep: torch.Tensor,
    resampler: Resampler,
    seed: int,
    *,
    has_background: bool,
    has_causal: bool,
    donors: tuple[torch.Tensor, torch.Tensor] | None = None,
    require_causal: bool = False,
    mask_name: str = "mask",
    donors_are_valid: bool = False,
) -> torch.Tensor | None:
    """The single-image case of :func:`resample_selected` for an adapter that made the keep-map.

    A host adapter that has just built ``keep`` itself (with
    :meth:`~causal_transforms.core.roles.RoleSpec.keep_map` or an equivalent) already knows its
    shape, its range and whether it has a background and a causal pixel; this skips the batch
    bookkeeping and those checks. The image's range is still checked, and so is what the backend
    returns.

    Args:
        image: ``(1, C, H, W)``, ``uint8`` or float in [0, 1], on the CPU or an accelerator.
        keep: ``(1, 1, H, W)`` float32 keep-map in [0, 1] on the image's device.
        resampler: The backend.
        seed: The sample's seed (a non-negative int below 2**63).
        has_background: Whether ``keep`` has a pixel below 1.
        has_causal: Whether ``keep`` has a pixel above 0.
        donors: Optional ``(images, keeps)`` pool for batch backends such as ``swap``.
        require_causal: Raise when the image has no causal pixel.
        mask_name: Name of the user's mask argument, for errors.
        donors_are_valid: ``True`` when ``donors`` were checked already (skips
            :func:`~causal_transforms.backends.base.check_donors`).

    Returns:
        The backend's content, ``(1, C, H, W)`` float, or ``None`` when there is no background.

    Raises:
        ValueError: Float values outside [0, 1]; no causal pixel with ``require_causal``.

    Example:
        >>> from causal_transforms import create_resampler
        >>> keep = torch.zeros(1, 1, 8, 8); keep[..., :4, :] = 1
        >>> content = resample_one(torch.rand(1, 3, 8, 8), keep, create_resampler("noise"), 7,
        ...                        has_background=True, has_causal=True)
        >>> tuple(content.shape)
        (1, 3, 8, 8)

    """
    single_thread_after_fork()
    if image.is_floating_point():
        to_unit_float(image)  # the range check
    else:
        check_image_dtype(image)
    if require_causal and not has_causal:
        raise ValueError(f"{mask_name}: expected at least one causal pixel per sample (require_causal=True), got none")
    if not has_background:
        return None
    if donors is not None and not donors_are_valid:
        check_donors(donors, image)
    seeds = torch.tensor([seed], dtype=torch.int64)
    return resampler._generate_checked_output(to_unit_float(image, check=False), keep, seeds, donors)
