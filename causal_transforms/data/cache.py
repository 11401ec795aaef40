"""Where downloaded data lives: one cache directory per user, never the working tree."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CACHE_ENV", "cache_dir"]

CACHE_ENV = "CAUSAL_TRANSFORMS_CACHE"


def cache_dir() -> Path:
    """Return the cache directory (it is not created here).

    The first that is set wins: ``$CAUSAL_TRANSFORMS_CACHE``, then
    ``$XDG_CACHE_HOME/causal_transforms``, then ``~/.cache/causal_transforms``.

    Returns:
        An absolute path.

    Example:
        >>> import os
        >>> os.environ["CAUSAL_TRANSFORMS_CACHE"] = "/tmp/ct-cache"
        >>> str(cache_dir())
        '/tmp/ct-cache'
        >>> del os.environ["CAUSAL_TRANSFORMS_CACHE"]
    """
    explicit = os.environ.get(CACHE_ENV, "").strip()
    if explicit:
        return Path(explicit).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return (base / "causal_transforms").resolve()
