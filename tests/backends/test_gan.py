"""The GAN backend: generator shapes and seeding, safe weight loading, the resampler through the engine."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch

import causal_transforms as ct
from causal_transforms.backends.gan import weights as gan_weights
from causal_transforms.backends.gan.model import BackgroundGenerator, GeneratorConfig, resolve_precision
from causal_transforms.backends.gan.resampler import GANResampler
from causal_transforms.backends.gan.weights import GANWeights, load_generator, save_generator, sha256_file
from causal_transforms.engine import apply_resample

TINY = GeneratorConfig(channels=(16, 16, 8, 8), style_dim=8, noise_channels=4)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A run directory like the trainer writes, holding a tiny randomly initialised generator."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("gan_run")
    save_generator(BackgroundGenerator(TINY), folder, {"steps": 0})
    return folder


@pytest.fixture
def generator() -> BackgroundGenerator:
    torch.manual_seed(1)
    return BackgroundGenerator(TINY).eval()


# ------------------------------------------------------------------------------------------ the generator
@pytest.mark.parametrize(("h", "w"), [(37, 53), (1, 1), (8, 8), (64, 17), (9, 200)])
def test_generator_any_size_in_unit_range(generator, h, w):
    out = generator.generate(torch.tensor([0, 1]), h, w)
    assert out.shape == (2, 3, h, w)
    assert out.dtype == torch.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    _, local_z = generator.sample_noise(torch.tensor([0, 1]), h, w)
    assert local_z.shape == (2, TINY.grid_channels, -(-h // 8), -(-w // 8))


@pytest.mark.parametrize("variant", [{"fine_noise": False}, {"norm": "pixel"}, {"mapping_layers": 0}])
def test_generator_config_variants(variant):
    cfg = GeneratorConfig.from_dict({**TINY.to_dict(), **variant})
    g = BackgroundGenerator(cfg).eval()
    out = g.generate(torch.tensor([0, 1]), 19, 27)
    assert out.shape == (2, 3, 19, 27) and not torch.equal(out[0], out[1])
    assert torch.equal(out, g.generate(torch.tensor([0, 1]), 19, 27))


def test_default_generator_size_and_no_batchnorm():
    g = BackgroundGenerator()
    n = sum(p.numel() for p in g.parameters())
    assert 0.5e6 <= n <= 1.5e6
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in g.modules())
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in g.modules())


def test_same_seed_same_output_different_seeds_differ(generator):
    a = generator.generate(torch.tensor([11, 12]), 37, 53)
    b = generator.generate(torch.tensor([11, 12]), 37, 53)
    assert torch.equal(a, b)
    assert not torch.allclose(a[0], a[1]), "different seeds must give different samples"
    c = generator.generate(torch.tensor([13, 12]), 37, 53)
    assert not torch.allclose(a[0], c[0])


def test_generator_output_independent_of_batch_composition(generator):
    full = generator.generate(torch.tensor([4, 5, 6]), 24, 40)
    single = generator.generate(torch.tensor([5]), 24, 40)
    # Not bit-equal: oneDNN may block the convolution differently for another batch size (seen on AVX2).
    torch.testing.assert_close(full[1:2], single, atol=1e-5, rtol=0)
    swapped = generator.generate(torch.tensor([6, 5]), 24, 40)
    torch.testing.assert_close(swapped[1:2], single, atol=1e-5, rtol=0)


def test_noise_depends_only_on_seed_and_size(generator):
    s1, l1 = generator.sample_noise(torch.tensor([7, 8]), 16, 16)
    s2, l2 = generator.sample_noise(torch.tensor([8]), 16, 16)
    assert torch.equal(s1[1:], s2) and torch.equal(l1[1:], l2)
    s3, _ = generator.sample_noise(torch.tensor([8]), 64, 32)
    assert torch.equal(s3, s2), "the style of a seed is the same at every size"


def test_generator_config_round_trip_and_errors():
    assert GeneratorConfig.from_dict(TINY.to_dict()) == TINY
    with pytest.raises(ValueError, match="unknown keys"):
        GeneratorConfig.from_dict({"widths": 3})
    with pytest.raises(ValueError, match="channels"):
        GeneratorConfig(channels=(8, 8))
    with pytest.raises(ValueError, match="height"):
        BackgroundGenerator(TINY).generate([0], 0, 5)


# ------------------------------------------------------------------------------------------ the resampler
def test_registry_entry_and_run_dir_loading(run_dir):
    spec = ct.resampler_specs()["gan"]
    assert not spec.conditional and not spec.uses_batch
    r = ct.create_resampler("gan", weights=str(run_dir))
    assert isinstance(r, GANResampler) and r.stochastic and not r.conditional
    assert ct.create_resampler("gan", weights=run_dir / "generator.safetensors").generator.config == TINY


def test_no_shipped_weights_gives_a_clear_error(monkeypatch):
    monkeypatch.setattr(gan_weights, "PRETRAINED", {})
    with pytest.raises(ValueError, match=r'no shipped GAN weights exist yet.*weights="path/to/run_dir"'):
        ct.create_resampler("gan")


def test_registered_weight_name_is_checked(monkeypatch, run_dir, tmp_path):
    shutil.copy(run_dir / "generator.safetensors", tmp_path / "w.safetensors")
    shutil.copy(run_dir / "generator.json", tmp_path / "w.json")
    sha = sha256_file(tmp_path / "w.safetensors")
    entry = GANWeights("test-w", str(tmp_path / "w.safetensors"), sha, "CC0", "none", "none", 32)
    monkeypatch.setattr(gan_weights, "PRETRAINED", {"test-w": entry})
    assert ct.create_resampler("gan").generator.config == TINY  # the first entry is the default
    assert ct.create_resampler("gan", weights="test-w").meta["training"] == {"steps": 0}
    bad = GANWeights("test-bad", str(tmp_path / "w.safetensors"), "0" * 64, "CC0", "none", "none", 32)
    monkeypatch.setattr(gan_weights, "PRETRAINED", {"test-bad": bad})
    with pytest.raises(ValueError, match=r"sha256 mismatch for .*w\.safetensors"):
        ct.create_resampler("gan", weights="test-bad")


def test_resampler_through_engine_keeps_causal_pixels_bit_identical(run_dir):
    r = ct.create_resampler("gan", weights=str(run_dir))
    g = torch.Generator().manual_seed(0)
    for image in (
        torch.randint(0, 256, (3, 3, 37, 53), dtype=torch.uint8, generator=g),
        torch.rand(3, 3, 37, 53, generator=g),
        torch.rand(3, 3, 37, 53, generator=g).to(torch.bfloat16),
        torch.rand(3, 3, 37, 53, generator=g, dtype=torch.float64),
    ):
        keep = torch.zeros(3, 1, 37, 53)
        keep[..., 5:20, 10:30] = 1
        out = apply_resample(image, keep, r, torch.tensor([1, 2, 3]))
        causal = keep.bool().expand_as(image)
        assert out.dtype == image.dtype and out.shape == image.shape
        assert torch.equal(out[causal], image[causal])
        assert (out != image)[~causal].float().mean() > 0.5
        again = apply_resample(image, keep, r, torch.tensor([1, 2, 3]))
        assert torch.equal(out, again), "replay with the same seeds is exact"


def test_resampler_batch_composition_and_seeds(run_dir):
    r = GANResampler(weights=run_dir)
    image, keep = torch.rand(3, 3, 20, 28), torch.zeros(3, 1, 20, 28)
    full = r(image, keep, torch.tensor([4, 5, 6]))
    single = r(image[1:2], keep[1:2], torch.tensor([5]))
    assert torch.equal(full[1:2], single), "a sample's content must not depend on its batch-mates"
    assert not torch.equal(full, r(image, keep, torch.tensor([7, 8, 9])))
    other_image = r(torch.rand(1, 3, 20, 28), keep[1:2], torch.tensor([5]))
    assert torch.equal(other_image, single), "an unconditional backend ignores the image"


def test_resampler_precisions_agree(run_dir):
    image, keep = torch.rand(2, 3, 16, 24), torch.zeros(2, 1, 16, 24)
    fp32 = GANResampler(weights=run_dir, precision="float32")(image, keep, torch.tensor([1, 2]))
    bf16 = GANResampler(weights=run_dir, precision="bfloat16")(image, keep, torch.tensor([1, 2]))
    assert (fp32 - bf16).abs().mean() < 0.02
    assert resolve_precision("float32", "cpu")[0] is None
    with pytest.raises(ValueError, match="precision"):
        GANResampler(weights=run_dir, precision="half")


def test_resampler_channels(run_dir):
    r = GANResampler(weights=run_dir)
    keep = torch.zeros(1, 1, 12, 12)
    gray = r(torch.rand(1, 1, 12, 12), keep, torch.tensor([3]))
    assert gray.shape == (1, 1, 12, 12)
    rgba = torch.rand(1, 4, 12, 12)
    out = r(rgba, keep, torch.tensor([3]))
    assert out.shape == (1, 4, 12, 12)
    assert torch.equal(out[:, 3], rgba[:, 3]), "channels beyond RGB are carried over"
    rgb = r(rgba[:, :3], keep, torch.tensor([3]))
    assert torch.equal(out[:, :3], rgb)


def test_match_background_stats(run_dir):
    image = torch.full((1, 3, 32, 32), 0.2)
    image[:, 0] = 0.8
    image = (image + 0.05 * torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    keep = torch.zeros(1, 1, 32, 32)
    keep[..., :8, :8] = 1
    out = GANResampler(weights=run_dir, match_background_stats=True)(image, keep, torch.tensor([1]))
    bg = ~keep.bool().expand_as(image)
    for c in range(3):
        assert abs(out[0, c][bg[0, c]].mean() - image[0, c][bg[0, c]].mean()) < 0.02
    assert "match_background_stats=True" in repr(GANResampler(weights=run_dir, match_background_stats=True))


# ------------------------------------------------------------------------------------------ safe loading
def _copy_run(run_dir: Path, dest: Path) -> Path:
    shutil.copytree(run_dir, dest)
    return dest


def test_sha256_mismatch_names_the_file(run_dir, tmp_path):
    with pytest.raises(ValueError, match=r"sha256 mismatch for .*generator\.safetensors: expected 0+, got"):
        load_generator(run_dir, expected_sha256="0" * 64)


def test_truncated_weights_are_refused(run_dir, tmp_path):
    run = _copy_run(run_dir, tmp_path / "run")
    weights = run / "generator.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    # The run's generator.json records the sha256 written with the weights.
    with pytest.raises(ValueError, match=r"sha256 mismatch for .*run/generator\.safetensors"):
        load_generator(run)
    meta = json.loads((run / "generator.json").read_text())
    del meta["sha256"]
    (run / "generator.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"could not read .*run/generator\.safetensors as safetensors"):
        load_generator(run)
    with pytest.raises(ValueError, match=r"could not read .*generator\.safetensors"):
        ct.create_resampler("gan", weights=str(run))


def test_missing_or_mismatched_config(run_dir, tmp_path):
    run = _copy_run(run_dir, tmp_path / "run")
    meta = json.loads((run / "generator.json").read_text())
    meta["generator"]["style_dim"] = 5
    (run / "generator.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"does not fit the config in .*generator\.json"):
        load_generator(run)
    (run / "generator.json").unlink()
    with pytest.raises(ValueError, match=r"architecture config .*generator\.json is missing"):
        load_generator(run)
    with pytest.raises(ValueError, match="neither a shipped weight name"):
        load_generator(tmp_path / "nope")


class _Exploit:
    """Unpickling this runs a shell command (what a malicious checkpoint would do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_weights_are_refused_and_never_unpickled(run_dir, tmp_path):
    marker = tmp_path / "MARKER"
    payload = pickle.dumps({"weight": _Exploit(marker)})
    # Sanity: the payload really would run code (in a throwaway check on a separate marker).
    probe = tmp_path / "PROBE"
    pickle.loads(pickle.dumps(_Exploit(probe)))
    assert probe.exists()

    # A .pt checkpoint made the way torch.save makes one, carrying the payload: the restricted
    # unpickler (weights_only=True) refuses it, and we say so naming the file.
    meta = json.loads((run_dir / "generator.json").read_text())
    del meta["sha256"]
    evil_pt = tmp_path / "evil.pt"
    torch.save({"weight": _Exploit(marker)}, evil_pt)
    (tmp_path / "evil.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"refusing .*evil\.pt: expected a plain state dict .*UnpicklingError"):
        ct.create_resampler("gan", weights=str(evil_pt))
    raw_pt = tmp_path / "raw.pt"  # a bare pickle stream with a .pt name
    raw_pt.write_bytes(payload)
    (tmp_path / "raw.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"refusing .*raw\.pt: expected a plain state dict"):
        load_generator(raw_pt)
    with pytest.raises(ValueError, match=r"refusing to load .*evil\.pkl: expected \.safetensors"):
        load_generator(tmp_path / "evil.pkl")

    # A pickle disguised as safetensors, with a config that carries no checksum.
    disguised = tmp_path / "evil.safetensors"
    disguised.write_bytes(payload)
    with pytest.raises(ValueError, match=r"could not read .*evil\.safetensors as safetensors"):
        load_generator(disguised)

    # A run directory whose weights file is a pickle.
    evil_run = _copy_run(run_dir, tmp_path / "evil_run")
    (evil_run / "generator.safetensors").write_bytes(payload)
    with pytest.raises(ValueError, match=r"evil_run/generator\.safetensors"):
        GANResampler(weights=evil_run)

    other = tmp_path / "weights.npz"
    other.write_bytes(payload)
    with pytest.raises(ValueError, match="never unpickled"):
        load_generator(other)
    assert not marker.exists(), "a pickle payload was executed"


def test_plain_state_dict_pt_loads_and_a_truncated_one_is_named(run_dir, tmp_path):
    """``.pt``/``.pth`` state dicts load through torch.load(weights_only=True); damage is named."""
    reference, meta = load_generator(run_dir)
    del meta["sha256"]
    good = tmp_path / "gen.pth"
    torch.save(reference.state_dict(), good)
    (tmp_path / "gen.json").write_text(json.dumps(meta))
    loaded, _ = load_generator(good)
    for name, tensor in reference.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor)
    truncated = tmp_path / "cut.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (tmp_path / "cut.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"refusing .*cut\.pt: .*truncated or corrupt"):
        load_generator(truncated)
    not_a_state_dict = tmp_path / "list.pt"
    torch.save([torch.zeros(1)], not_a_state_dict)
    (tmp_path / "list.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"expected .*list\.pt to hold a state dict"):
        load_generator(not_a_state_dict)


def test_draw_refuses_float_seeds(run_dir):
    with pytest.raises(TypeError, match=r"seeds: expected a 1-D integer tensor or list, got torch.float32"):
        GANResampler(weights=run_dir).draw(torch.tensor([0.5]), 8, 8)


def test_compiled_generator_draws_what_the_eager_one_draws(run_dir):
    """compile=True runs the same generator through torch.compile (TorchInductor, a real compile)."""
    eager = GANResampler(weights=run_dir)
    compiled = ct.create_resampler("gan", weights=str(run_dir), compile=True)
    assert isinstance(compiled, GANResampler) and compiled.compile and "compile=True" in repr(compiled)
    seeds = torch.tensor([3, 4])
    first = compiled.draw(seeds, 16, 24)
    assert torch.equal(compiled.draw(seeds, 16, 24), first)  # reproducible
    reference = eager.draw(seeds, 16, 24)
    assert first.shape == reference.shape and first.dtype == torch.float32
    # Fused kernels round differently from eager ones (bfloat16 where the CPU supports it).
    assert (first - reference).abs().max() < 0.05
    assert not torch.equal(compiled.draw(torch.tensor([5, 6]), 16, 24), first)
    model = compiled._model_for(torch.device("cpu"), *_eager_precision())
    assert type(model).__name__ == "OptimizedModule"  # really compiled, not the eager module
    keep = torch.zeros(2, 1, 16, 24)
    keep[..., 4:12, 6:18] = 1
    image = torch.rand(2, 3, 16, 24)
    out = apply_resample(image, keep, compiled, seeds)
    assert torch.equal(out[..., 4:12, 6:18], image[..., 4:12, 6:18])


def _eager_precision() -> tuple[torch.dtype, bool]:
    dtype, channels_last = resolve_precision("auto", "cpu")
    return dtype or torch.float32, channels_last


def test_compile_option_must_be_a_bool(run_dir):
    with pytest.raises(ValueError, match=r"compile: expected a bool, got 'yes'"):
        GANResampler(weights=run_dir, compile="yes")
