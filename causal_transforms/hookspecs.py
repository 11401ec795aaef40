"""pluggy hook specifications: how plugins (and the built-ins) extend causal_transforms.

A plugin is a module or object with functions marked ``@hookimpl``, exposed by an installed
distribution through the entry-point group ``causal_transforms``::

    [project.entry-points.causal_transforms]
    my_backend = "my_package.plugin"

Example:
    >>> from causal_transforms.hookspecs import hookimpl
    >>> from causal_transforms.registry import ResamplerSpec
    >>> @hookimpl
    ... def causal_transforms_resamplers():
    ...     return []

"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    from causal_transforms.registry import ResamplerSpec

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]

PROJECT_NAME = "causal_transforms"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def causal_transforms_resamplers() -> list[ResamplerSpec]:
    """Return the resampler backends this plugin provides.

    Returns:
        A list of :class:`causal_transforms.registry.ResamplerSpec`. Names must be unique
        across all plugins; a duplicate is reported and skipped.

    """


@hookspec
def causal_transforms_add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Optionally add sub-commands to the ``causal-transforms`` command line.

    Args:
        subparsers: The ``argparse`` sub-parser collection; set ``func`` with
            ``parser.set_defaults(func=...)`` to a callable taking the parsed namespace and
            returning an exit code.

    """
