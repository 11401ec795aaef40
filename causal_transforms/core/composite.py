"""The one composition rule: ``out = keep * image + (1 - keep) * generated``.

Pixels with ``keep == 1`` are copied from the input, so they come back bit-identical (same
dtype, same values) whatever the backend, dtype, device or seed.
"""

from __future__ import annotations

import torch

from causal_transforms.core.ranges import check_image_dtype, from_unit_float
from causal_transforms.core.rows import check_rows, row_runs

__all__ = ["composite", "composite_parts", "composite_rows", "select_bits"]


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
    keep = _keep_for(image, keep)
    fill = _fill_values(image.dtype, generated.to(image.device), keep, binary=binary, bounded=bounded, source=image)
    # Written into a tensor like the image, so the result has the image's memory format.
    return _select_masked(_background_bits(keep, image.dtype), fill, image, torch.empty_like(image))


def composite_parts(
    image: torch.Tensor,
    generated: torch.Tensor,
    keep: torch.Tensor,
    *,
    binary: bool | None = None,
    bounded: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """What :func:`composite` selects between: ``composite(...) == select_bits(causal, image, fill)``.

    For callers that write the result somewhere of their own (rows of a larger batch) with
    :func:`select_bits` and ``out=``, instead of allocating it and copying it there.

    Args:
        image: As for :func:`composite`.
        generated: As for :func:`composite`.
        keep: As for :func:`composite`.
        binary: As for :func:`composite`.
        bounded: As for :func:`composite`.

    Returns:
        ``(causal, fill)``: a bool ``(B, 1, H, W)`` map of the pixels copied from ``image``, and
        the values (in the image's dtype) everywhere else.

    Example:
        >>> img = torch.tensor([[[[10, 20]]]], dtype=torch.uint8)
        >>> causal, fill = composite_parts(img, torch.ones(1, 1, 1, 2), torch.tensor([[[[1.0, 0.0]]]]))
        >>> causal.tolist(), fill.tolist()
        ([[[[True, False]]]], [[[[255, 255]]]])

    """
    check_image_dtype(image)
    keep = _keep_for(image, keep)
    fill = _fill_values(image.dtype, generated.to(image.device), keep, binary=binary, bounded=bounded, source=image)
    return ~(keep < 1.0), fill  # NaN counts as causal (kept), as in composite


def _keep_for(image: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """``keep`` on the image's device in the precision the composite computes in for its dtype.

    Every decision (which pixels are causal, whether the map is binary, the blend) reads this one
    tensor: a float64 keep just below 1 next to a float32 image rounds to 1 here, so it is kept
    exactly rather than counted as background by one test and as causal by another.
    """
    compute = torch.float64 if image.dtype == torch.float64 else torch.float32
    return keep.to(device=image.device, dtype=compute)


def _fill_values(
    dtype: torch.dtype,
    generated: torch.Tensor,
    keep: torch.Tensor,
    *,
    binary: bool | None,
    bounded: bool,
    source: torch.Tensor | None,
) -> torch.Tensor:
    """The values of non-causal pixels in ``dtype``; ``source`` (the images) is read only to blend."""
    compute = torch.float64 if dtype == torch.float64 else torch.float32
    k = keep.to(dtype=compute)
    gen = generated.to(dtype=compute)
    if binary is None:
        binary = not bool(((k > 0.0) & (k < 1.0)).any())
    if binary:
        # A binary keep-map (the usual case): no blending, the content goes where keep is 0.
        if not bounded:
            return from_unit_float(gen, dtype)
        if dtype == torch.uint8:  # in [0, 1] already: scale and round, no clamp
            return gen.mul(255.0).round_().to(torch.uint8)
        return gen.to(dtype)
    if source is None:
        raise ValueError("source: expected the images to blend a soft keep-map with, got None")
    src = source.to(compute) / 255.0 if dtype == torch.uint8 else source.to(compute)
    return from_unit_float(torch.lerp(gen, src, k), dtype)


def _background_bits(keep: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Integers as wide as ``dtype``: all bits set where ``keep`` < 1 (new content), none where it is 1.

    ``keep < 1`` written straight into integers of that width (1 or 0) and negated to all ones:
    on CPUs several times cheaper than a comparison to ``bool`` and its conversion, and than
    ``fmin`` against a zero scalar tensor (which is not vectorised). Every value of 1 or more
    counts as causal, and so does NaN (it compares false), as in :func:`composite_parts`: a
    pixel whose role is unknown is kept.
    """
    kind = _SAME_WIDTH_INT[dtype]
    bits = torch.lt(keep, 1.0, out=torch.empty(keep.shape, dtype=kind, device=keep.device))
    return bits.mul_(255) if kind == torch.uint8 else bits.neg_()


def composite_rows(
    image: torch.Tensor,
    rows: torch.Tensor,
    generated: torch.Tensor,
    keep: torch.Tensor,
    *,
    binary: bool | None = None,
    bounded: bool = False,
) -> torch.Tensor:
    """:func:`composite` for some samples of a batch; the others are copied unchanged.

    The same values as ``image.clone().index_copy_(0, rows, composite(image[rows], generated,
    keep))``, but every output row is written once: the untouched rows in one copy per run, the
    composited ones straight from ``image``'s rows (no gathered sub-batch, no intermediate
    batch). On CPUs, where memory traffic is the cost, that is several times cheaper than
    ``index_copy_``; on accelerators, where each call is a kernel launch, the one-kernel form is.

    Args:
        image: The original batch, ``(B, C, H, W)``; ``uint8`` or float in [0, 1].
        rows: ``(n,)`` int64 positions of the composited samples, ascending and distinct.
        generated: New content for them, ``(n, C, H, W)`` float in [0, 1].
        keep: Their keep-maps, ``(n, 1, H, W)`` in [0, 1].
        binary: As for :func:`composite`.
        bounded: As for :func:`composite`.

    Returns:
        A new tensor with the dtype, shape, device and memory format of ``image``.

    Raises:
        ValueError: ``rows`` not ascending positions in the batch; ``generated`` or ``keep`` not
            one per row.

    Example:
        >>> img = torch.zeros(3, 1, 1, 2)
        >>> out = composite_rows(img, torch.tensor([1]), torch.ones(1, 1, 1, 2), torch.tensor([[[[1.0, 0.0]]]]))
        >>> out[:, 0, 0].tolist()
        [[0.0, 0.0], [0.0, 1.0], [0.0, 0.0]]

    """
    check_image_dtype(image)
    if image.ndim != 4:
        raise ValueError(f"image: expected a (B, C, H, W) batch, got shape {tuple(image.shape)}")
    positions = check_rows(rows, image.shape[0], ascending=True)
    n, (c, h, w) = len(positions), image.shape[1:]
    for name, t, expected in (("generated", generated, (n, c, h, w)), ("keep", keep, (n, 1, h, w))):
        if not isinstance(t, torch.Tensor) or tuple(t.shape) != expected:
            got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(f"{name}: expected shape {expected}, one per row of {positions}, got {got}")
    keep = _keep_for(image, keep)
    generated = generated.to(image.device)
    if binary is None:
        binary = not bool(((keep > 0.0) & (keep < 1.0)).any())
    # Where the new content goes, and (binary keep-maps) its values, in one pass over all the rows.
    background = _background_bits(keep, image.dtype)
    fill = _fill_values(image.dtype, generated, keep, binary=True, bounded=bounded, source=None) if binary else None
    out = torch.empty_like(image)  # the input's memory format, as clone() would give
    start = 0
    for j, i, length in row_runs(positions):
        if i > start:  # the untouched rows before this run, in one copy
            out[start:i].copy_(image[start:i])
        source, part = image[i : i + length], slice(j, j + length)
        if fill is None:  # soft keep-map: blends read the run's own pixels
            values = _fill_values(
                image.dtype, generated[part], keep[part], binary=False, bounded=bounded, source=source
            )
        else:
            values = fill[part]
        _select_masked(background[part], values, source, out[i : i + length])
        start = i + length
    if start < image.shape[0]:
        out[start:].copy_(image[start:])
    return out


_SAME_WIDTH_INT = {
    torch.uint8: torch.uint8,
    torch.float16: torch.int16,
    torch.bfloat16: torch.int16,
    torch.float32: torch.int32,
    torch.float64: torch.int64,
}


def select_bits(
    condition: torch.Tensor, a: torch.Tensor, b: torch.Tensor, *, out: torch.Tensor | None = None
) -> torch.Tensor:
    """``torch.where(condition, a, b)`` by bit masks: exact for every value, several times faster on CPUs.

    ``a`` and ``b`` share a dtype; ``condition`` (bool) broadcasts against them. The values are
    reinterpreted as same-width integers and mixed as ``b ^ ((a ^ b) & mask)``, so each output
    element is a bit copy of ``a`` or ``b`` (NaN payloads and ``-0.0`` included), unlike
    arithmetic blends. CPU ``torch.where`` with a broadcast condition is not vectorised.

    Args:
        condition: Where to take ``a``.
        a: Values taken where ``condition`` holds.
        b: Values taken elsewhere.
        out: Optional tensor of the result's shape and dtype to write into (any strides; it
            may not overlap ``a`` or ``b``).

    Returns:
        A new tensor with the dtype of ``a``, or ``out``.

    Example:
        >>> a = torch.tensor([-0.0, float("nan"), 1.0]); b = torch.tensor([5.0, 6.0, 7.0])
        >>> select_bits(torch.tensor([True, True, False]), a, b).view(torch.int32).tolist() == (
        ...     torch.tensor([-0.0, float("nan"), 7.0]).view(torch.int32).tolist())
        True
    """
    kind = _SAME_WIDTH_INT.get(a.dtype)
    if kind is None or b.dtype != a.dtype:
        return torch.where(condition, a, b) if out is None else torch.where(condition, a, b, out=out)
    return _select_masked(_bit_mask(condition, kind), a, b, out)


def _bit_mask(condition: torch.Tensor, kind: torch.dtype) -> torch.Tensor:
    """``condition`` as integers of ``kind``: all bits set where it holds, none elsewhere."""
    mask = condition.to(kind)
    return mask.mul_(255) if kind == torch.uint8 else mask.neg_()


def _select_masked(mask: torch.Tensor, a: torch.Tensor, b: torch.Tensor, out: torch.Tensor | None) -> torch.Tensor:
    """``a`` where ``mask`` (integers of ``a``'s width) has all bits set, ``b`` where it has none."""
    kind = mask.dtype
    ai, bi = (a, b) if kind == a.dtype else (a.view(kind), b.view(kind))
    if out is None:
        res = torch.bitwise_xor(ai, bi)
    else:
        res = out if kind == out.dtype else out.view(kind)
        torch.bitwise_xor(ai, bi, out=res)
    res.bitwise_and_(mask)
    res.bitwise_xor_(bi)
    if out is not None:
        return out
    return res if kind == a.dtype else res.view(a.dtype)
