"""The resampler protocol every backend implements."""

from __future__ import annotations

import abc
from typing import ClassVar

import torch

__all__ = ["Resampler", "check_donors"]


_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _range_error(name: str, t: torch.Tensor, subject: str = "values") -> ValueError | None:
    if t.numel() == 0:
        return None
    # One pass: NaN propagates into both extremes, and an infinity is out of range anyway.
    lo_t, hi_t = torch.aminmax(t.float() if t.dtype in (torch.float16, torch.bfloat16) else t)
    lo, hi = float(lo_t), float(hi_t)
    if lo >= 0.0 and hi <= 1.0:
        return None
    what = "NaN values" if lo != lo or hi != hi else f"values in [{lo:g}, {hi:g}]"
    return ValueError(f"{name}: expected {subject} in [0, 1], got {what}")


def check_donors(donors: object, image: torch.Tensor, name: str = "donors") -> None:
    """Check a donor pool: ``(images, keeps)``, float ``(N, C, h, w)`` and ``(N, 1, h, w)`` in [0, 1].

    ``C`` and the device must match ``image``; the donors' size may differ from the image's
    (a batch backend resizes them).

    Args:
        donors: The pool to check.
        image: The batch the donors are lent to, ``(B, C, H, W)``.
        name: The argument's name, for errors.

    Raises:
        TypeError: Not a pair of float tensors.
        ValueError: Shapes, channels or devices that do not match; values outside [0, 1].

    Example:
        >>> check_donors((torch.rand(2, 3, 8, 8), torch.ones(2, 1, 8, 8)), torch.rand(1, 3, 16, 16))
        >>> check_donors((torch.rand(2, 3, 8, 8), 255 * torch.ones(2, 1, 8, 8)), torch.rand(1, 3, 16, 16))
        Traceback (most recent call last):
        ...
        ValueError: donors: expected keeps with values in [0, 1], got values in [255, 255]
    """
    if not isinstance(donors, (tuple, list)) or len(donors) != 2:
        is_seq = isinstance(donors, (tuple, list))
        got = f"a {type(donors).__name__} of {len(donors)}" if is_seq else type(donors).__name__
        raise TypeError(f"{name}: expected a pair (images, keeps) of tensors, got {got}")
    pool, keeps = donors
    for part, t in (("images", pool), ("keeps", keeps)):
        if not isinstance(t, torch.Tensor) or t.dtype not in _FLOATS:
            got = f"{t.dtype} tensor" if isinstance(t, torch.Tensor) else type(t).__name__
            raise TypeError(f"{name}: expected float {part} in [0, 1] (divide uint8 by 255), got {got}")
        if t.device != image.device:
            raise ValueError(f"{name}: expected {part} on {image.device} like the image, got {t.device}")
    c = image.shape[1]
    if pool.ndim != 4 or pool.shape[1] != c:
        raise ValueError(
            f"{name}: expected images of shape (N, {c}, h, w) for image {tuple(image.shape)}, got {tuple(pool.shape)}"
        )
    expected = (pool.shape[0], 1, *pool.shape[-2:])
    if tuple(keeps.shape) != expected:
        raise ValueError(
            f"{name}: expected keeps of shape {expected} for images {tuple(pool.shape)}, got {tuple(keeps.shape)}"
        )
    for part, t in (("images", pool), ("keeps", keeps)):
        err = _range_error(name, t, f"{part} with values")
        if err is not None:
            raise err


def _check_inputs(image: object, keep: object, seeds: object) -> None:
    if not isinstance(image, torch.Tensor) or image.ndim != 4 or image.dtype not in _FLOATS:
        got = f"{type(image).__name__}" + (
            f" of shape {tuple(image.shape)} and dtype {image.dtype}" if isinstance(image, torch.Tensor) else ""
        )
        raise TypeError(
            f"image: expected a float (B, C, H, W) tensor in [0, 1], got {got}; "
            "to resample uint8 or numpy images use causal_transforms.apply_resample or a transform"
        )
    b, _, h, w = image.shape
    if not isinstance(keep, torch.Tensor) or tuple(keep.shape) != (b, 1, h, w):
        got = tuple(keep.shape) if isinstance(keep, torch.Tensor) else type(keep).__name__
        raise ValueError(f"keep: expected a keep-map of shape {(b, 1, h, w)} for image {tuple(image.shape)}, got {got}")
    if keep.device != image.device:
        raise ValueError(f"keep: expected a tensor on {image.device} like the image, got one on {keep.device}")
    if not isinstance(seeds, torch.Tensor) or seeds.dtype not in (torch.int64, torch.int32) or seeds.shape != (b,):
        is_tensor = isinstance(seeds, torch.Tensor)
        got = f"shape {tuple(seeds.shape)} and dtype {seeds.dtype}" if is_tensor else type(seeds).__name__
        raise TypeError(f"seeds: expected an int64 tensor of shape ({b},), one seed per sample, got {got}")
    for name, t in (("image", image), ("keep", keep)):
        err = _range_error(name, t)
        if err is not None:
            raise err


class Resampler(abc.ABC):
    """Produce new content for the non-causal pixels of a batch.

    Subclasses implement :meth:`generate`. The caller (:func:`causal_transforms.apply_resample`)
    validates inputs, converts value ranges, and composites; a backend only draws content.

    Class attributes declare capabilities:

    * ``conditional``: the content depends on the causal pixels (an inpainter). Such a backend
      can re-create the object-background correlation that augmentation tries to break.
    * ``stochastic``: the content depends on the seed (``False`` for deterministic fills).
    * ``uses_batch``: the content of one sample reads other samples (or ``donors``).
    * ``bounded``: :meth:`generate` returns values in [0, 1] by construction, so the engine
      skips its safety clamp (leave ``False`` unless that is guaranteed).

    Example:
        >>> class Gray(Resampler):
        ...     stochastic = False
        ...     def generate(self, image, keep, seeds, donors=None):
        ...         return torch.full_like(image, 0.5)
        >>> Gray()(torch.zeros(1, 3, 4, 4), torch.zeros(1, 1, 4, 4), torch.zeros(1, dtype=torch.int64)).mean().item()
        0.5

    """

    conditional: ClassVar[bool] = False
    stochastic: ClassVar[bool] = True
    uses_batch: ClassVar[bool] = False
    bounded: ClassVar[bool] = False

    @abc.abstractmethod
    def generate(
        self,
        image: torch.Tensor,
        keep: torch.Tensor,
        seeds: torch.Tensor,
        donors: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Return new content for the whole canvas.

        ``image`` and ``keep`` are read only: they may be the caller's own tensors or views of
        its batch (the engine passes a run of selected rows as a view), so writing into them
        would change the user's data. Return a new tensor.

        Args:
            image: ``(B, C, H, W)`` float32 (or float64) in [0, 1].
            keep: ``(B, 1, H, W)`` float keep-map in [0, 1] (1 = causal).
            seeds: ``(B,)`` int64 seeds on the CPU, one per sample; equal seeds give equal draws.
            donors: Optional ``(images, keeps)`` of other samples a batch backend may borrow
                from, each ``(N, C, h, w)`` / ``(N, 1, h, w)``.

        Returns:
            ``(B, C, H, W)`` float content in [0, 1] on the device of ``image``.

        """

    def generate_rows(
        self,
        image: torch.Tensor,
        rows: torch.Tensor,
        keep: torch.Tensor,
        seeds: torch.Tensor,
        donors: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Return new content for the samples ``rows`` of a batch that was not gathered.

        The engine calls this on CPUs when ``p`` selects part of a batch: ``image`` is the whole
        batch and the backend reads the selected rows from it. The result must equal
        ``generate(image[rows], keep, seeds, donors)``. The default does exactly that; a backend
        whose first pass reads the image can override it to read the rows in place (``swap``
        does) and save the gather. Rows that follow each other (one run, e.g. a single sample)
        are passed to :meth:`generate` as a view of the batch, without a copy. Like
        :meth:`generate`, it trusts its inputs (the engine checks them first).

        Args:
            image: ``(B, C, H, W)`` float32 (or float64) batch; only ``rows`` are read (and only
                they are checked to lie in [0, 1]).
            rows: ``(n,)`` int64 positions of the samples to resample, ascending.
            keep: ``(n, 1, H, W)`` keep-maps of those samples.
            seeds: ``(n,)`` int64 seeds on the CPU, one per selected sample.
            donors: As for :meth:`generate`.

        Returns:
            ``(n, C, H, W)`` float content in [0, 1] on the device of ``image``.

        Example:
            >>> from causal_transforms import create_resampler
            >>> r = create_resampler("noise")
            >>> image, rows = torch.rand(4, 3, 8, 8), torch.tensor([1, 3])
            >>> keep, seeds = torch.zeros(2, 1, 8, 8), torch.tensor([5, 6])
            >>> torch.equal(r.generate_rows(image, rows, keep, seeds), r.generate(image[rows], keep, seeds))
            True

        """
        positions = rows.tolist()
        first = positions[0] if positions else 0
        if positions == list(range(first, first + len(positions))):  # one run: a view, no gathered copy
            return self.generate(image[first : first + len(positions)], keep, seeds, donors)
        return self.generate(image.index_select(0, rows), keep, seeds, donors)

    def __call__(
        self,
        image: torch.Tensor,
        keep: torch.Tensor,
        seeds: torch.Tensor,
        donors: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Check the inputs, call :meth:`generate`, and check what comes back.

        Raises:
            TypeError: ``image`` is not a float tensor, or ``seeds`` not an integer tensor.
            ValueError: Shapes or devices that do not match, or values outside [0, 1] (in the
                inputs or the ``donors``).
        """
        _check_inputs(image, keep, seeds)
        if donors is not None:
            check_donors(donors, image)
        return self._generate_checked_output(image, keep, seeds, donors)

    def _generate_checked_output(
        self,
        image: torch.Tensor,
        keep: torch.Tensor,
        seeds: torch.Tensor,
        donors: tuple[torch.Tensor, torch.Tensor] | None,
    ) -> torch.Tensor:
        """:meth:`generate` on inputs the caller has already validated; the output is still checked."""
        return self._checked(self.generate(image, keep, seeds, donors), "generate", tuple(image.shape), image.dtype)

    def _generate_rows_checked_output(
        self,
        image: torch.Tensor,
        rows: torch.Tensor,
        keep: torch.Tensor,
        seeds: torch.Tensor,
        donors: tuple[torch.Tensor, torch.Tensor] | None,
    ) -> torch.Tensor:
        """:meth:`generate_rows` on inputs the caller has already validated; the output is still checked."""
        out = self.generate_rows(image, rows, keep, seeds, donors)
        return self._checked(out, "generate_rows", (int(rows.numel()), *image.shape[1:]), image.dtype)

    def _checked(self, out: object, method: str, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        """A backend's content, cast to ``dtype``; refused when it is not a tensor of ``shape``.

        Content of a backend that does not declare ``bounded`` is clamped to [0, 1] later, which
        would let NaN through into the background: such content is refused here.
        """
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != shape:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise RuntimeError(f"{type(self).__name__}.{method}: expected content of shape {shape}, got {got}")
        if not self.bounded and out.is_floating_point() and bool(out.isnan().any()):
            raise RuntimeError(f"{type(self).__name__}.{method}: expected content in [0, 1], got NaN values")
        return out.to(dtype=dtype)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
