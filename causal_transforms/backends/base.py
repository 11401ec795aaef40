"""The resampler protocol every backend implements."""

from __future__ import annotations

import abc
from typing import ClassVar

import torch

__all__ = ["Resampler"]


class Resampler(abc.ABC):
    """Produce new content for the non-causal pixels of a batch.

    Subclasses implement :meth:`generate`. The caller (:func:`causal_transforms.apply_resample`)
    validates inputs, converts value ranges, and composites; a backend only draws content.

    Class attributes declare capabilities:

    * ``conditional``: the content depends on the causal pixels (an inpainter). Such a backend
      can re-create the object-background correlation that augmentation tries to break.
    * ``stochastic``: the content depends on the seed (``False`` for deterministic fills).
    * ``uses_batch``: the content of one sample reads other samples (or ``donors``).

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

    @abc.abstractmethod
    def generate(
        self,
        image: torch.Tensor,
        keep: torch.Tensor,
        seeds: torch.Tensor,
        donors: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Return new content for the whole canvas.

        Args:
            image: ``(B, C, H, W)`` float32 (or float64) in [0, 1].
            keep: ``(B, 1, H, W)`` float keep-map in [0, 1] (1 = causal).
            seeds: ``(B,)`` int64 seeds on the CPU, one per sample; equal seeds give equal draws.
            donors: Optional ``(images, keeps)`` of other samples a batch backend may borrow
                from, each ``(N, C, h, w)`` / ``(N, 1, h, w)``.

        Returns:
            ``(B, C, H, W)`` float content in [0, 1] on the device of ``image``.

        """

    def __call__(
        self,
        image: torch.Tensor,
        keep: torch.Tensor,
        seeds: torch.Tensor,
        donors: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Call :meth:`generate` and check the shape of what comes back."""
        out = self.generate(image, keep, seeds, donors)
        if not isinstance(out, torch.Tensor) or out.shape != image.shape:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise RuntimeError(
                f"{type(self).__name__}.generate: expected content of shape {tuple(image.shape)}, got {got}"
            )
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
