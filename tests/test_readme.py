"""The README's examples run as written (on the real-photo cache)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_python_examples_run(photo_cache):
    blocks = _blocks("python")
    assert len(blocks) >= 3
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    outs, samples = namespace["outs"], namespace["samples"]
    assert len(outs) == len(samples) == 4
    for out in outs:
        assert out["image"].shape == (112, 112, 3)
        assert set(np.unique(out["mask"])) <= {0, 1}
    images_out, masks_out = namespace["images_out"], namespace["masks_out"]
    causal = namespace["masks"].expand_as(namespace["images"]) == 1
    assert images_out.shape == (8, 3, 64, 64) and masks_out.shape == (8, 1, 64, 64)
    assert samples[0].image.shape == (128, 128, 3)
    assert "Flat" in namespace and causal.any()


def test_readme_commands_match_ci():
    bash = _blocks("bash")
    assert len(bash) >= 2
    test_command = bash[1].strip()
    ci = (README.parent / ".ci" / "run").read_text()
    assert test_command in ci, ".ci/run must run the README's test command"
    main_command = shlex.split(bash[0])
    assert main_command[-2:] == ["causal-transforms", "augment"]


@pytest.mark.parametrize("section", ["## Two commands", "## Albumentations", "## Kornia", "## Architecture"])
def test_readme_has_section(section):
    assert section in README.read_text()
