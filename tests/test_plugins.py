"""Third-party plugins: a real installed distribution (a dist-info on sys.path) with an entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PLUGIN_SOURCE = '''
import torch
from causal_transforms.backends.base import Resampler
from causal_transforms.hookspecs import hookimpl
from causal_transforms.registry import ResamplerSpec


class Checker(Resampler):
    """A checkerboard background: easy to recognise in an output."""

    stochastic = False

    def generate(self, image, keep, seeds, donors=None):
        h, w = image.shape[-2:]
        yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        board = ((yy + xx) % 2).to(image.dtype).to(image.device)
        return board.expand_as(image).clone()


@hookimpl
def causal_transforms_resamplers():
    return [ResamplerSpec("checker", Checker, "a checkerboard, from a test plugin")]
'''

BROKEN_SOURCE = "raise ImportError('this plugin is broken on purpose')\n"
HOOK_RAISES_SOURCE = """
from causal_transforms.hookspecs import hookimpl

@hookimpl
def causal_transforms_resamplers():
    raise RuntimeError("hook failed on purpose")
"""


def _make_dist(root: Path, dist: str, module: str, source: str, ep_name: str) -> None:
    (root / f"{module}.py").write_text(source)
    info = root / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[causal_transforms]\n{ep_name} = {module}\n")
    (info / "RECORD").write_text("")


@pytest.fixture
def plugin_site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    _make_dist(site, "ct_checker_plugin", "ct_checker_plugin", PLUGIN_SOURCE, "checker_plugin")
    return site


def _run(site: Path, code: str, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *sys.path]), **env}
    return subprocess.run(
        [sys.executable, "-W", "always", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=environ,
        timeout=300,
    )


def test_plugin_backend_used_by_both_integrations(plugin_site: Path):
    code = """
        import json, sys
        import numpy as np, torch, albumentations as A
        import kornia.augmentation as K
        import causal_transforms as ct
        specs = ct.resampler_specs()
        from causal_transforms.albumentations import CausalResample
        from causal_transforms.kornia import RandomCausalResample

        image = np.full((8, 8, 3), 200, np.uint8)
        mask = np.zeros((8, 8), np.uint8); mask[:2, :2] = 1
        out_a = A.Compose([CausalResample("checker", p=1.0)])(image=image, mask=mask)["image"]

        x = torch.full((1, 3, 8, 8), 0.5)
        m = torch.zeros(1, 1, 8, 8); m[..., :2, :2] = 1
        out_k = K.AugmentationSequential(RandomCausalResample("checker", p=1.0), data_keys=["input", "mask"])(x, m)[0]
        print(json.dumps({
            "provider": specs["checker"].provider,
            "a_corner": out_a[:2, :2].tolist(),
            "a_rest": sorted(set(out_a[2:, 2:].ravel().tolist())),
            "k_corner": out_k[0, 0, :2, :2].tolist(),
            "k_rest": sorted(set(out_k[0, 0, 2:, 2:].flatten().tolist())),
        }))
    """
    proc = _run(plugin_site, code)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["provider"] == "checker_plugin"
    assert result["a_corner"] == [[[200] * 3] * 2] * 2
    assert result["a_rest"] == [0, 255]
    assert result["k_corner"] == [[0.5, 0.5], [0.5, 0.5]]
    assert result["k_rest"] == [0.0, 1.0]


def test_cli_list_shows_plugin_and_provider(plugin_site: Path):
    proc = _run(plugin_site, "from causal_transforms.cli import main; raise SystemExit(main(['list']))")
    assert proc.returncode == 0, proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if ln.split() and ln.split()[0] == "checker")
    assert "checker_plugin" in line


def test_broken_plugins_are_named_and_skipped(plugin_site: Path):
    _make_dist(plugin_site, "ct_broken_plugin", "ct_broken_plugin", BROKEN_SOURCE, "broken_plugin")
    _make_dist(plugin_site, "ct_hook_raises", "ct_hook_raises", HOOK_RAISES_SOURCE, "hook_raises")
    proc = _run(plugin_site, "import causal_transforms as ct; print(ct.list_resamplers())")
    assert proc.returncode == 0, proc.stderr
    assert "'checker'" in proc.stdout and "'spectral'" in proc.stdout
    assert "plugin 'broken_plugin'" in proc.stderr and "broken on purpose" in proc.stderr
    assert "plugin 'hook_raises' failed to register" in proc.stderr and "hook failed on purpose" in proc.stderr


def test_import_loads_no_entry_point(plugin_site: Path):
    _make_dist(plugin_site, "ct_broken_plugin", "ct_broken_plugin", BROKEN_SOURCE, "broken_plugin")
    proc = _run(plugin_site, "import sys, causal_transforms; print('ct_broken_plugin' in sys.modules)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
    assert "broken" not in proc.stderr


def test_disable_and_block_switches(plugin_site: Path):
    code = "import causal_transforms as ct; print('checker' in ct.list_resamplers())"
    assert _run(plugin_site, code).stdout.strip() == "True"
    assert _run(plugin_site, code, CAUSAL_TRANSFORMS_DISABLE_PLUGINS="1").stdout.strip() == "False"
    assert _run(plugin_site, code, CAUSAL_TRANSFORMS_BLOCK_PLUGINS="other, checker_plugin").stdout.strip() == "False"


def test_duplicate_plugin_name_is_reported(plugin_site: Path):
    dup = PLUGIN_SOURCE.replace('ResamplerSpec("checker"', 'ResamplerSpec("spectral"')
    _make_dist(plugin_site, "ct_dup_plugin", "ct_dup_plugin", dup, "dup_plugin")
    proc = _run(plugin_site, "import causal_transforms as ct; print(ct.resampler_specs()['spectral'].provider)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "causal_transforms.builtin"
    assert "plugin 'dup_plugin' failed to register" in proc.stderr and "already registered" in proc.stderr
