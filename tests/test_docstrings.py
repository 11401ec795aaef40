"""Every public module's docstring examples run (Google style, runnable examples)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import causal_transforms

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(causal_transforms.__path__, "causal_transforms.")
    if not m.name.split(".")[-1].startswith("__")
)


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name, photo_cache):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"


def _is_public_api(module_name: str) -> bool:
    parts = module_name.split(".")
    if any(p.startswith("_") for p in parts):
        return False
    # The CLI's sub-command modules are reached through ``causal-transforms --help``, not imported.
    return not (parts[1] == "cli" and len(parts) > 2)


def test_public_names_have_examples():
    missing = []
    for name in filter(_is_public_api, MODULES):
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", []):
            obj = getattr(module, attr)
            if isinstance(obj, type) and issubclass(obj, Warning | Exception):
                continue
            if callable(obj) and getattr(obj, "__module__", None) == name:
                doc = obj.__doc__ or ""
                if "Example" not in doc:
                    missing.append(f"{name}.{attr}")
    assert not missing, f"public names without an Example in their docstring: {missing}"
