"""Runs of consecutive rows: work on the selected samples of a batch through views, not gathers."""

from __future__ import annotations

import itertools

import torch

__all__ = ["check_rows", "row_runs"]


def row_runs(rows: list[int]) -> list[tuple[int, int, int]]:
    """Group batch positions into runs of consecutive rows: ``(position in rows, first row, length)``.

    Lets row-wise work on the selected samples of a batch use one slice (a view) per run
    instead of gathering them into a new tensor.

    Example:
        >>> row_runs([0, 1, 2, 5, 7, 8])
        [(0, 0, 3), (3, 5, 1), (4, 7, 2)]

    """
    runs: list[tuple[int, int, int]] = []
    for j, i in enumerate(rows):
        if runs and runs[-1][1] + runs[-1][2] == i:
            pos, first, length = runs[-1]
            runs[-1] = (pos, first, length + 1)
        else:
            runs.append((j, i, 1))
    return runs


def check_rows(rows: object, batch_size: int, *, ascending: bool = False, name: str = "rows") -> list[int]:
    """Check batch positions and return them as a list of ints.

    Args:
        rows: A 1-D int64 (or int32) tensor of positions in a batch.
        batch_size: The batch's size.
        ascending: Also require strictly ascending positions (each row once).
        name: The argument's name, for errors.

    Returns:
        The positions.

    Raises:
        ValueError: Not a 1-D int64/int32 tensor, a position outside ``[0, batch_size)``, or (with
            ``ascending``) positions out of order or repeated.

    Example:
        >>> check_rows(torch.tensor([0, 2]), 3)
        [0, 2]
        >>> check_rows(torch.tensor([2, 0]), 3, ascending=True)
        Traceback (most recent call last):
        ...
        ValueError: rows: expected strictly ascending positions (each row once), got [2, 0]

    """
    is_tensor = isinstance(rows, torch.Tensor)
    if not is_tensor or rows.ndim != 1 or rows.dtype not in (torch.int64, torch.int32):
        got = f"{rows.dtype} of shape {tuple(rows.shape)}" if is_tensor else type(rows).__name__
        raise ValueError(f"{name}: expected a 1-D int64 (or int32) tensor of batch positions, got {got}")
    positions = rows.tolist()
    if any(not 0 <= i < batch_size for i in positions):
        raise ValueError(f"{name}: expected positions in [0, {batch_size}), got {positions}")
    if ascending and any(b <= a for a, b in itertools.pairwise(positions)):
        raise ValueError(f"{name}: expected strictly ascending positions (each row once), got {positions}")
    return positions
