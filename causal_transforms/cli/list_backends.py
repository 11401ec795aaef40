"""``causal-transforms list``: every registered resampler backend and the plugin providing it."""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["add_parser", "format_table", "run"]


def format_table(rows: list[list[str]], header: list[str]) -> str:
    """Align ``rows`` under ``header`` in plain-text columns (the last column is not padded).

    Args:
        rows: The table's rows, each a list of cells.
        header: The column titles.

    Returns:
        The table, one line per row, header first.

    Example:
        >>> print(format_table([["a", "yes"]], ["NAME", "OK"]))
        NAME  OK
        a     yes
    """
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [str(c).ljust(w) for c, w in zip(row[:-1], widths[:-1], strict=True)] + [str(row[-1])]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """List the backends as a table (or JSON with ``--json``).

    Args:
        args: The parsed command line.

    Returns:
        The exit code, 0.
    """
    from causal_transforms.registry import resampler_specs

    specs = resampler_specs()
    if args.json:
        records = [
            {
                "name": s.name,
                "provider": s.provider,
                "conditional": s.conditional,
                "uses_batch": s.uses_batch,
                "description": s.description,
            }
            for s in specs.values()
        ]
        print(json.dumps(records, indent=2))
        return 0
    rows = [[s.name, s.provider, "yes" if s.conditional else "no", s.description] for s in specs.values()]
    print(format_table(rows, ["NAME", "PROVIDER", "CONDITIONAL", "DESCRIPTION"]))
    if not rows:
        print("(no backends registered)", file=sys.stderr)
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``list`` sub-command.

    Args:
        subparsers: The top-level sub-parser collection.

    Returns:
        The new parser.
    """
    parser = subparsers.add_parser(
        "list",
        help="list the registered resampler backends",
        description=(
            "List every registered resampler backend: its name, the plugin that provides it, whether it "
            "is conditional (its content depends on the object's pixels, so it can re-create the "
            "object-background correlation) and a description."
        ),
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run)
    return parser
