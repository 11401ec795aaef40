"""Shared fixtures. Tests never download: real photos come from the cache that
``causal-transforms fetch-data`` fills (CI runs it before pytest)."""

from __future__ import annotations

import os

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import numpy as np
import pytest


@pytest.fixture(scope="session")
def real_samples(photo_cache) -> list[tuple[np.ndarray, np.ndarray]]:
    """Four 64x64 real bird photos composited on real background photos, with 0/1 bird masks."""
    from causal_transforms.data import sample_set

    return [(s.image, s.mask) for s in sample_set(n=4, size=64, seed=0)]


@pytest.fixture(scope="session")
def photo_cache():
    """The real-photo cache filled by ``causal-transforms fetch-data``.

    Fails loudly (never skips) when any catalogue package is missing: tests must not download.
    """
    from causal_transforms.data.cache import cache_dir
    from causal_transforms.data.photos import missing_packages

    missing = missing_packages()
    if missing:
        pytest.fail(
            f"the real-photo cache {cache_dir()} lacks the Debian packages {missing}. Run "
            "`causal-transforms fetch-data` once before the tests (CI does this); tests never download.",
            pytrace=False,
        )
    return cache_dir()


def pytest_sessionfinish(session, exitstatus):
    """Fail loudly: a skipped test counts as a failure in this project (nothing may skip silently)."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped and exitstatus == 0:
        reporter.write_line(f"{len(skipped)} test(s) skipped: this project treats a skip as a failure", red=True)
        session.exitstatus = 1
