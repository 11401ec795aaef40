"""Names to backends: the only bridge between host integrations and generator backends.

timm-style: :func:`list_resamplers` lists names, :func:`create_resampler` builds one,
:func:`get_resampler` returns a per-process cached instance (what the transforms use, so a
model is built once per process, inside each DataLoader worker).
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from causal_transforms.backends.base import Resampler

__all__ = [
    "ResamplerSpec",
    "create_resampler",
    "get_resampler",
    "list_resamplers",
    "register_resampler",
    "resampler_specs",
]


@dataclass(frozen=True)
class ResamplerSpec:
    """A named backend and what it declares about itself.

    Args:
        name: Unique registry name, e.g. ``"spectral"``.
        factory: Callable taking the backend's options as keyword arguments and returning a
            :class:`~causal_transforms.backends.base.Resampler`.
        description: One line for ``causal-transforms list``.
        conditional: The content depends on the causal pixels.
        uses_batch: The content of a sample reads other samples.
        provider: Which plugin registered it (filled in by the registry).

    Example:
        >>> from causal_transforms.backends.noise import NoiseResampler
        >>> ResamplerSpec("my-noise", NoiseResampler, "noise").name
        'my-noise'

    """

    name: str
    factory: Callable[..., Resampler]
    description: str = ""
    conditional: bool = False
    uses_batch: bool = False
    provider: str = field(default="", compare=False)


_lock = threading.RLock()
_specs: dict[str, ResamplerSpec] | None = None
_instances: dict[tuple[str, str], Resampler] = {}


def _reset() -> None:
    global _specs
    with _lock:
        _specs = None
        _instances.clear()


def _add(specs: dict[str, ResamplerSpec], spec: ResamplerSpec, provider: str) -> None:
    if not isinstance(spec, ResamplerSpec):
        raise TypeError(f"spec: expected a ResamplerSpec, got {type(spec).__name__}")
    if not isinstance(spec.name, str) or not spec.name or spec.name != spec.name.strip():
        raise ValueError(f"name: expected a non-empty string without surrounding spaces, got {spec.name!r}")
    if spec.name in specs:
        raise ValueError(
            f"name: resampler {spec.name!r} is already registered by {specs[spec.name].provider!r}; "
            f"{provider!r} cannot register it again"
        )
    specs[spec.name] = ResamplerSpec(
        spec.name, spec.factory, spec.description, spec.conditional, spec.uses_batch, provider
    )


def _load() -> dict[str, ResamplerSpec]:
    global _specs
    with _lock:
        if _specs is not None:
            return _specs
        from causal_transforms.plugins import PluginWarning, plugin_manager

        pm = plugin_manager()
        specs: dict[str, ResamplerSpec] = {}
        # Call each plugin's hook on its own so one failing plugin is named and skipped.
        for impl in pm.hook.causal_transforms_resamplers.get_hookimpls():  # registration order: built-ins first
            provider = impl.plugin_name
            try:
                provided = list(impl.function() or [])
                staged = dict(specs)
                for spec in provided:
                    _add(staged, spec, provider)
            except Exception as exc:
                warnings.warn(
                    f"causal_transforms: plugin {provider!r} failed to register its resamplers and was skipped: "
                    f"{type(exc).__name__}: {exc}",
                    PluginWarning,
                    stacklevel=3,
                )
                continue
            specs = staged
        _specs = specs
        return _specs


def resampler_specs() -> dict[str, ResamplerSpec]:
    """All registered backends by name, with the plugin that provides each.

    Returns:
        A new dict ``{name: ResamplerSpec}`` sorted by name.

    Example:
        >>> resampler_specs()["telea"].conditional
        True

    """
    specs = _load()
    return {name: specs[name] for name in sorted(specs)}


def list_resamplers() -> list[str]:
    """Names of all registered backends, sorted.

    Example:
        >>> {"noise", "spectral", "swap", "telea"} <= set(list_resamplers())
        True

    """
    return sorted(_load())


def register_resampler(spec: ResamplerSpec, provider: str = "user") -> ResamplerSpec:
    """Register a backend at run time.

    Args:
        spec: The backend's spec.
        provider: Who registers it (shown by ``causal-transforms list``).

    Returns:
        The stored spec, with ``provider`` filled in.

    Raises:
        ValueError: A backend of that name already exists.

    Example:
        >>> from causal_transforms.backends.noise import NoiseResampler
        >>> _ = register_resampler(ResamplerSpec("doc-noise", NoiseResampler, "example"))
        >>> "doc-noise" in list_resamplers()
        True

    """
    with _lock:
        specs = _load()
        _add(specs, spec, provider)
        return specs[spec.name]


def _unknown(name: object) -> ValueError:
    return ValueError(f"resampler: unknown name {name!r}; expected one of {list_resamplers()}")


def create_resampler(name: str, **options: Any) -> Resampler:
    """Build a new backend by name.

    Args:
        name: A name from :func:`list_resamplers`.
        **options: Passed to the backend's factory.

    Returns:
        The backend.

    Raises:
        ValueError: Unknown name (the message lists the known names) or bad options.

    Example:
        >>> create_resampler("noise", distribution="gaussian")
        NoiseResampler(distribution='gaussian')

    """
    spec = _load().get(name) if isinstance(name, str) else None
    if spec is None:
        raise _unknown(name)
    try:
        backend = spec.factory(**options)
    except TypeError as exc:
        raise ValueError(f"resampler_options: {name!r} does not accept {sorted(options)}: {exc}") from exc
    if not isinstance(backend, Resampler):
        raise TypeError(
            f"resampler: factory of {name!r} (from {spec.provider!r}) returned {type(backend).__name__}, "
            "expected a causal_transforms Resampler"
        )
    return backend


def _options_key(options: Mapping[str, Any]) -> str:
    try:
        return json.dumps(options, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        return repr(sorted(options.items()))


def get_resampler(name: str, options: Mapping[str, Any] | None = None) -> Resampler:
    """Return this process's shared instance of a backend, building it on first use.

    Transforms call this so that a model is built once per process (once per DataLoader
    worker) and never pickled.

    Args:
        name: A name from :func:`list_resamplers`.
        options: The backend's options.

    Returns:
        The cached backend.

    Example:
        >>> get_resampler("spectral") is get_resampler("spectral")
        True

    """
    opts = dict(options) if options else {}
    key = (name, _options_key(opts) if opts else "{}")
    with _lock:
        backend = _instances.get(key)
        if backend is None:
            backend = create_resampler(name, **opts)
            _instances[key] = backend
        return backend
