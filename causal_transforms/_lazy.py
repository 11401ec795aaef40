"""Lazy package attributes: public names resolved from their submodules on first use."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(
    package: str, namespace: dict[str, Any], names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Build a package's ``__getattr__`` and ``__dir__`` (PEP 562) for names kept in submodules.

    Args:
        package: The package's ``__name__``, for error messages.
        namespace: The package's ``globals()``; a resolved name is cached there.
        names: ``{public name: module that defines it}``.

    Returns:
        ``(__getattr__, __dir__)``.

    Example:
        >>> ns = {"__all__": ["sqrt"]}
        >>> getattr_, dir_ = lazy_attributes("demo", ns, {"sqrt": "math"})
        >>> getattr_("sqrt")(4.0), "sqrt" in ns
        (2.0, True)
    """

    def module_getattr(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def module_dir() -> list[str]:
        return sorted(set(namespace) | set(namespace.get("__all__", ())))

    return module_getattr, module_dir
