"""The soak benchmark, shortened: real photos through a real DataLoader, no crash, causal pixels kept, flat memory."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

SOAK = Path(__file__).resolve().parents[1] / "benchmarks" / "soak.py"


def _soak_main():
    spec = importlib.util.spec_from_file_location("causal_transforms_soak_benchmark", SOAK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_soak_keeps_causal_pixels_and_memory_flat(photo_cache, tmp_path):
    images = 2000
    argv = ["--images", str(images), "--sample-every", "5", "--out", str(tmp_path), "--quiet"]
    assert _soak_main()(argv) == 0
    result = json.loads((tmp_path / "soak.json").read_text())
    assert (tmp_path / "soak.png").stat().st_size > 0

    assert result["images"] == images
    assert result["worker_crashes"] == 0 and result["error"] is None
    assert len(result["worker_pids"]) == 2, "the same two persistent workers serve every epoch"
    assert result["epochs"] == 2
    assert result["causal_violations"] == 0
    # About half the images are resampled (p = 0.5), and nearly all of those get a new background.
    assert 0.35 * images < result["resampled"] < 0.65 * images
    assert 0.35 * images < result["flipped"] < 0.65 * images
    assert result["resampled_with_changed_background"] > 0.8 * result["resampled"]

    samples = result["rss_samples"]
    assert len(samples) >= 8
    assert all(len(s["rss"]) == 3 and s["total"] == sum(s["rss"].values()) for s in samples)
    slope = result["rss_slope"]
    assert slope["points"] >= 6 and slope["from_images"] >= 0.2 * images
    # No steady growth after the warm-up (generous: 2 KB per image is 20 MB per 10k images).
    assert slope["bytes_per_image"] < 2048, slope
