"""``causal-transforms fetch-data``: fill the cache with the Debian photos the sample set needs."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_parser", "run"]


def run(args: argparse.Namespace) -> int:
    """Fetch every package of the photo catalogue and print where its files are.

    Args:
        args: The parsed command line.

    Returns:
        The exit code, 0.

    Raises:
        RuntimeError: A package could not be fetched (the message says what to do).
    """
    from causal_transforms.data.cache import cache_dir
    from causal_transforms.data.debian import debian_provenance, fetch_debian_files, is_fetched
    from causal_transforms.data.photos import LICENCES, catalogue_patterns

    cache = Path(args.cache).expanduser().resolve() if args.cache else cache_dir()
    print(f"cache: {cache}")
    for package, paths in catalogue_patterns().items():
        present = is_fetched(package, paths, cache=cache)
        if not present:
            print(f"fetching {package} ...", flush=True)
        folder = fetch_debian_files(package, paths, cache=cache)
        record = debian_provenance(package, cache=cache) or {}
        state = "already in the cache" if present else "fetched"
        print(
            f"  {package} {record.get('version', '?')} ({LICENCES.get(package, '?')}): "
            f"{len(paths)} files, {state}\n    {folder}"
        )
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``fetch-data`` sub-command.

    Args:
        subparsers: The top-level sub-parser collection.

    Returns:
        The new parser.
    """
    parser = subparsers.add_parser(
        "fetch-data",
        help="download the real photos (Debian packages) into the cache",
        description=(
            "Download the Debian packages with the bird cutouts and background photos "
            "(apt-get download; nothing is installed) and extract only the needed files into the cache. "
            "Run it once before the tests or before `augment` on a machine without network."
        ),
    )
    parser.add_argument(
        "--cache",
        metavar="DIR",
        help="cache directory (default: $CAUSAL_TRANSFORMS_CACHE or ~/.cache/causal_transforms)",
    )
    parser.set_defaults(func=run)
    return parser
