"""Runs of consecutive rows: work on the selected samples of a batch through views, not gathers."""

from __future__ import annotations

__all__ = ["row_runs"]


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
