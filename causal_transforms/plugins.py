"""Plugin discovery: the pluggy manager, entry points, and the built-in backends.

Nothing is loaded at import time. :func:`plugin_manager` builds the manager on first use:
it registers the built-ins, then every entry point of the group ``causal_transforms``. A
plugin whose import fails is named in a warning and skipped; ``import causal_transforms``
never breaks because of a plugin.

Environment switches:

* ``CAUSAL_TRANSFORMS_DISABLE_PLUGINS=1`` loads no third-party plugin at all.
* ``CAUSAL_TRANSFORMS_BLOCK_PLUGINS=name1,name2`` skips the named entry points.
"""

from __future__ import annotations

import importlib.metadata
import os
import threading
import warnings

import pluggy

from causal_transforms import hookspecs

__all__ = [
    "BUILTIN_PLUGIN_NAME",
    "ENTRY_POINT_GROUP",
    "PluginWarning",
    "plugin_manager",
    "reset_plugin_manager",
]

ENTRY_POINT_GROUP = "causal_transforms"
BUILTIN_PLUGIN_NAME = "causal_transforms.builtin"

_lock = threading.Lock()
_manager: pluggy.PluginManager | None = None


class PluginWarning(UserWarning):
    """A plugin could not be loaded or one of its hooks failed; it was skipped."""


def _blocked() -> set[str]:
    raw = os.environ.get("CAUSAL_TRANSFORMS_BLOCK_PLUGINS", "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def _plugins_disabled() -> bool:
    return os.environ.get("CAUSAL_TRANSFORMS_DISABLE_PLUGINS", "").strip().lower() in {
        "1",
        "true",
        "yes",
        "on",
    }


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    if _plugins_disabled():
        return
    blocked = _blocked()
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in blocked or pm.has_plugin(ep.name):
            continue
        dist = getattr(ep.dist, "name", None) or "unknown distribution"
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:  # a broken plugin must never break the host
            warnings.warn(
                f"causal_transforms: plugin {ep.name!r} ({ep.value}, from {dist}) failed to load and was skipped: "
                f"{type(exc).__name__}: {exc}",
                PluginWarning,
                stacklevel=3,
            )


def plugin_manager() -> pluggy.PluginManager:
    """Return the process-wide plugin manager, creating it (and loading plugins) on first call.

    Returns:
        The :class:`pluggy.PluginManager` with the built-ins and all loadable plugins.

    Example:
        >>> pm = plugin_manager()
        >>> pm.has_plugin(BUILTIN_PLUGIN_NAME)
        True

    """
    global _manager
    with _lock:
        if _manager is None:
            from causal_transforms.backends import _builtin

            pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
            pm.add_hookspecs(hookspecs)
            pm.register(_builtin, name=BUILTIN_PLUGIN_NAME)
            _load_entry_points(pm)
            _manager = pm
        return _manager


def reset_plugin_manager() -> None:
    """Forget the plugin manager and the registry, so the next use reloads plugins.

    Example:
        >>> reset_plugin_manager()

    """
    global _manager
    with _lock:
        _manager = None
    from causal_transforms import registry

    registry._reset()
