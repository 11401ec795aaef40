"""``python -m causal_transforms.train ...``: the trainer as a module, so ``torchrun -m`` can start it.

Example (two processes on one machine)::

    torchrun --nproc_per_node=2 -m causal_transforms.train --images photos/ --out runs/bg
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the trainer's flags, train, and return the exit code (1 on a user error).

    Args:
        argv: The arguments; ``sys.argv[1:]`` when ``None``.

    Returns:
        0 on success, 1 on an error (printed without a traceback unless ``--traceback``),
        2 on a usage error, 130 when interrupted.

    Example:
        >>> main(["--help"])  # doctest: +ELLIPSIS
        usage: python -m causal_transforms.train ...
        0
    """
    from causal_transforms.cli.train import add_arguments, run

    parser = argparse.ArgumentParser(
        prog="python -m causal_transforms.train",
        description="Train a background GAN on your own images (see `causal-transforms train --help`).",
    )
    parser.add_argument("--traceback", action="store_true", help="show the full traceback on errors")
    add_arguments(parser)
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("causal_transforms.train: interrupted", file=sys.stderr)
        return 130
    except (ValueError, RuntimeError, OSError) as exc:
        if args.traceback:
            raise
        print(f"causal_transforms.train: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
