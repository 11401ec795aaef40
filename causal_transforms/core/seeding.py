"""Seeding: one integer seed per sample makes every counterfactual reproducible.

A sample's new content depends only on its own pixels, its keep-map and its seed (batch
backends such as ``swap`` also read their batch-mates), so replaying a seed replays the
counterfactual exactly, whatever else is in the batch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch

__all__ = ["MAX_SEED", "derive_seed", "draw_seeds", "per_sample_generators"]

MAX_SEED = 2**63 - 1


def derive_seed(*parts: object) -> int:
    """Hash any values into a stable non-negative 63-bit seed (same on every platform and run).

    Args:
        *parts: Values whose ``repr`` is hashed, e.g. a base seed and a salt string.

    Returns:
        An integer in [0, 2**63 - 1].

    Example:
        >>> derive_seed(0, "worker", 1) == derive_seed(0, "worker", 1)
        True

    """
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & MAX_SEED


def draw_seeds(batch_size: int, same_on_batch: bool = False, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw per-sample seeds on the CPU from ``generator`` (the global torch RNG by default).

    Args:
        batch_size: Number of samples.
        same_on_batch: Give every sample the same seed.
        generator: Optional CPU generator.

    Returns:
        An int64 tensor of shape ``(batch_size,)``.

    Example:
        >>> draw_seeds(3, same_on_batch=True).unique().numel()
        1

    """
    n = 1 if same_on_batch else batch_size
    seeds = torch.randint(0, MAX_SEED, (n,), dtype=torch.int64, generator=generator)
    return seeds.expand(batch_size).clone() if same_on_batch else seeds


def per_sample_generators(seeds: Sequence[int] | torch.Tensor, device: torch.device | str) -> list[torch.Generator]:
    """One ``torch.Generator`` per seed, on ``device``.

    Args:
        seeds: Integer seeds, one per sample.
        device: Where the random numbers are drawn.

    Returns:
        A list of seeded generators.

    Example:
        >>> g = per_sample_generators([7], "cpu")[0]
        >>> float(torch.rand(1, generator=g)) == float(torch.rand(1, generator=per_sample_generators([7], "cpu")[0]))
        True

    """
    values = seeds.tolist() if isinstance(seeds, torch.Tensor) else list(seeds)
    return [torch.Generator(device=device).manual_seed(int(s)) for s in values]
