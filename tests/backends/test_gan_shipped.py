"""The shipped GAN weights: offline, checksum-verified, registered, usable by name."""

from __future__ import annotations

import shutil

import pytest
import torch

import causal_transforms as ct
from causal_transforms.backends.gan.weights import PRETRAINED, load_generator, sha256_file


def test_shipped_weights_exist_and_match_their_checksum():
    assert PRETRAINED, "the package must ship at least one GAN weight set"
    for spec in PRETRAINED.values():
        assert spec.path.is_file()
        assert spec.path.stat().st_size < 8 * 1024 * 1024
        assert sha256_file(spec.path) == spec.sha256
        assert spec.command and spec.training_data and spec.licence
        assert "c2st_accuracy" in spec.metrics


def test_default_gan_is_listed_and_draws_by_seed():
    assert "gan" in ct.list_resamplers()
    backend = ct.create_resampler("gan")
    image = torch.rand(2, 3, 40, 56)
    keep = torch.zeros(2, 1, 40, 56)
    a = backend(image, keep, torch.tensor([3, 4]))
    assert a.shape == image.shape and a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, backend(image, keep, torch.tensor([3, 4])))
    assert not torch.equal(a[0], a[1])
    assert (a.std(dim=(2, 3)) > 0.005).all(), "samples are not flat"


def test_corrupted_copy_is_refused_with_its_name(tmp_path):
    spec = next(iter(PRETRAINED.values()))
    bad = tmp_path / "copy.safetensors"
    shutil.copy(spec.path, bad)
    shutil.copy(spec.path.with_suffix(".json"), tmp_path / "copy.json")
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"copy\.safetensors"):
        load_generator(bad, expected_sha256=spec.sha256)
