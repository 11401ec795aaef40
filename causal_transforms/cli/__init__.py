"""The ``causal-transforms`` command line.

Sub-commands: ``list`` (registered backends), ``fetch-data`` (fill the photo cache),
``augment`` (write counterfactual variants and a contact sheet). Plugins add commands through
the ``causal_transforms_add_commands`` hook.

Example:
    >>> main(["list"])  # doctest: +ELLIPSIS
    NAME ...
    0
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from causal_transforms.cli import augment, fetch_data, list_backends, train
from causal_transforms.cli._common import CLIError

__all__ = ["CLIError", "build_parser", "main"]

PROG = "causal-transforms"


def _add_plugin_commands(subparsers: argparse._SubParsersAction) -> None:
    """Let every plugin add its commands; a failing plugin is named in a warning and skipped."""
    from causal_transforms.plugins import PluginWarning, plugin_manager

    hook = plugin_manager().hook.causal_transforms_add_commands
    for impl in hook.get_hookimpls():  # registration order, like the registry
        kwargs = {"subparsers": subparsers}
        try:
            impl.function(*[kwargs[name] for name in impl.argnames])
        except Exception as exc:  # a broken plugin must not break the command line
            warnings.warn(
                f"causal_transforms: plugin {impl.plugin_name!r} failed to add its commands and was skipped: "
                f"{type(exc).__name__}: {exc}",
                PluginWarning,
                stacklevel=2,
            )


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with the built-in and the plugins' sub-commands.

    Returns:
        The top-level parser.

    Example:
        >>> build_parser().parse_args(["augment", "--variants", "2"]).variants
        2
    """
    from causal_transforms import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Causal data augmentation: keep the object's pixels exactly, resample only the background.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--traceback", action="store_true", help="show the full traceback on errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    list_backends.add_parser(subparsers)
    fetch_data.add_parser(subparsers)
    augment.add_parser(subparsers)
    train.add_parser(subparsers)
    _add_plugin_commands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code (it never calls ``sys.exit``).

    Args:
        argv: The arguments without the program name; ``sys.argv[1:]`` when ``None``.

    Returns:
        0 on success, 1 when the job failed, 2 for a usage error, 130 when interrupted.

    Example:
        >>> main(["--version"])  # doctest: +ELLIPSIS
        causal-transforms ...
        0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # --help, --version or a usage error
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    func = getattr(args, "func", None)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if func is None:
        print(f"{PROG} {args.command}: error: the command set no handler (plugin bug)", file=sys.stderr)
        return 1
    try:
        code = func(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except CLIError as exc:
        if args.traceback:
            raise
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, RuntimeError, OSError) as exc:
        if args.traceback:
            raise
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return 1
    return int(code or 0)
