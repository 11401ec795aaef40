"""The GAN trainer on real photos: kill and resume, torchrun/DDP, checkpoints, config, data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import causal_transforms as ct
from causal_transforms.backends.gan.model import GeneratorConfig
from causal_transforms.engine import apply_resample
from causal_transforms.train.config import TrainConfig
from causal_transforms.train.data import BackgroundCrops, StepBatches
from causal_transforms.train.loop import TrainingWarning, diff_augment, latest_checkpoint, train

TINY = {"channels": [16, 16, 8, 8], "style_dim": 8, "noise_channels": 4}
TIMEOUT = 120
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def photos(photo_cache, tmp_path_factory) -> dict[str, Path]:
    """Four real background photos downscaled to 64x96 PNGs, and an object mask for the first."""
    from causal_transforms.data import load_backgrounds

    root = tmp_path_factory.mktemp("photos")
    images, masks = root / "images", root / "masks"
    images.mkdir()
    masks.mkdir()
    backgrounds = load_backgrounds()[:4]
    assert len(backgrounds) == 4
    for bg in backgrounds:
        small = cv2.resize(bg.rgb, (96, 64), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(images / f"{bg.name}.png"), cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
    mask = np.zeros((64, 96), np.uint8)
    mask[8:40, 30:70] = 255
    cv2.imwrite(str(masks / f"{backgrounds[0].name}.png"), mask)
    config = root / "tiny.json"
    config.write_text(json.dumps({"generator": TINY, "d_channels": 8, "log_every": 1, "sample_every": 2}))
    return {"images": images, "masks": masks, "config": config}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env["PYTHONWARNINGS"] = "ignore::DeprecationWarning"
    return env


def _args(photos, out: Path, steps: int) -> list[str]:
    return [
        "--images",
        str(photos["images"]),
        "--masks",
        str(photos["masks"]),
        "--out",
        str(out),
        "--config",
        str(photos["config"]),
        "--steps",
        str(steps),
        "--batch-size",
        "4",
        "--size",
        "32",
        "--checkpoint-every",
        "2",
        "--no-progress",
    ]


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=_env(), cwd=REPO)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc


def _log(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def _check_loads_and_runs(run: Path) -> None:
    resampler = ct.create_resampler("gan", weights=str(run))
    image = torch.randint(0, 256, (2, 3, 40, 56), dtype=torch.uint8)
    keep = torch.zeros(2, 1, 40, 56)
    keep[..., 10:30, 20:40] = 1
    out = apply_resample(image, keep, resampler, torch.tensor([0, 1]))
    causal = keep.bool().expand_as(image)
    assert torch.equal(out[causal], image[causal])
    assert (out != image)[~causal].float().mean() > 0.5


def test_kill_and_resume_ends_at_exact_step(photos, tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "causal_transforms.train", *_args(photos, run, 1000)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(), cwd=REPO)
    first = run / "checkpoints" / "step_000002"
    deadline = time.monotonic() + TIMEOUT
    try:
        while not first.is_dir():
            if proc.poll() is not None:
                pytest.fail(
                    f"the trainer exited ({proc.returncode}) before its first checkpoint:\n{proc.stdout.read()}"
                )
            if time.monotonic() > deadline:
                pytest.fail("no checkpoint appeared in time")
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        output = proc.communicate(timeout=TIMEOUT)[0]
    assert proc.returncode == -signal.SIGKILL, output
    assert not (run / "generator.safetensors").exists()
    latest = max(int(p.name[5:]) for p in (run / "checkpoints").glob("step_*"))
    assert 2 <= latest < 8

    resumed = _run([sys.executable, "-m", "causal_transforms.train", *_args(photos, run, 8), "--resume"])
    log = _log(run)
    resume = [r for r in log if r["event"] == "resume"]
    assert len(resume) == 1 and resume[0]["from_step"] == latest, resumed.stdout + resumed.stderr
    train_steps = [r["step"] for r in log if r["event"] == "train"]
    assert train_steps == list(range(1, 9)), "every step logged exactly once, in order"
    assert log[-1]["event"] == "done" and log[-1]["step"] == 8
    meta = json.loads((run / "generator.json").read_text())
    assert meta["training"]["steps"] == 8
    assert "--resume" in meta["training"]["command"]
    assert json.loads((run / "config.json").read_text())["steps"] == 8
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_000006", "step_000008"]
    assert (run / "samples" / "step_000008.png").is_file()
    _check_loads_and_runs(run)


def test_torchrun_two_processes_rank0_writes(photos, tmp_path):
    run = tmp_path / "ddp"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    _run([*torchrun, "-m", "causal_transforms.train", *_args(photos, run, 4)])
    log = _log(run)
    assert {r["rank"] for r in log} == {0}, "only rank 0 writes the log"
    assert {r["world_size"] for r in log} == {2}
    assert [r["step"] for r in log if r["event"] == "train"] == [1, 2, 3, 4]
    assert [r["step"] for r in log if r["event"] == "checkpoint"] == [2, 4]
    assert [r["event"] for r in log].count("done") == 1
    assert log[0]["command"].startswith("torchrun --nproc_per_node=2 -m causal_transforms.train")
    for ckpt in (run / "checkpoints").iterdir():
        meta = json.loads((ckpt / "checkpoint.json").read_text())
        assert meta["written_by_rank"] == 0 and meta["world_size"] == 2
    leftovers = [p.name for p in run.rglob("*") if p.name.startswith(".") or "tmp" in p.name]
    assert not leftovers
    assert json.loads((run / "generator.json").read_text())["training"]["world_size"] == 2
    _check_loads_and_runs(run)


def _tiny_config(out: Path, **overrides) -> TrainConfig:
    base = dict(
        out=str(out),
        batch_size=4,
        size=32,
        generator=GeneratorConfig.from_dict(TINY),
        d_channels=8,
        checkpoint_every=2,
        sample_every=100,
        progress=False,
    )
    return TrainConfig(**{**base, **overrides})


@pytest.fixture(scope="module")
def crops(photos) -> BackgroundCrops:
    return BackgroundCrops.from_dirs(photos["images"], photos["masks"], size=32)


def test_resume_is_exact_and_skips_a_corrupt_checkpoint(crops, tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    train(_tiny_config(straight, steps=4), dataset=crops)
    train(_tiny_config(split, steps=2), dataset=crops)
    train(_tiny_config(split, steps=4, resume=True), dataset=crops)
    a, b = load_file(straight / "generator.safetensors"), load_file(split / "generator.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), "resume must equal a straight run"

    # Corrupt the latest checkpoint: resume warns, falls back to step 2, and ends at exactly 6.
    weights = split / "checkpoints" / "step_000004" / "models.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.warns(TrainingWarning, match=r"step_000004 is incomplete or corrupt"):
        train(_tiny_config(split, steps=6, resume=True), dataset=crops)
    log = _log(split)
    assert [r["from_step"] for r in log if r["event"] == "resume"] == [2, 2]
    assert [r["step"] for r in log if r["event"] == "train"] == [2, 6], "records of the redone steps are dropped"
    assert log[-1]["event"] == "done" and log[-1]["step"] == 6
    assert latest_checkpoint(split)["step"] == 6
    assert (split / "checkpoints" / "step_000004.corrupt").is_dir(), "the corrupt checkpoint is set aside"


def test_refuses_to_overwrite_a_run_and_checks_the_architecture(crops, tmp_path):
    run = tmp_path / "run"
    train(_tiny_config(run, steps=2), dataset=crops)
    with pytest.raises(ValueError, match=r"already holds checkpoints.*--resume"):
        train(_tiny_config(run, steps=4), dataset=crops)
    other = GeneratorConfig.from_dict({**TINY, "style_dim": 4})
    with pytest.raises(ValueError, match=r"generator: the checkpoint .* has generator config"):
        train(_tiny_config(run, steps=4, resume=True, generator=other), dataset=crops)


def test_cli_train_subcommand_and_yaml_config(photos, tmp_path):
    from causal_transforms.cli import main

    yaml_config = tmp_path / "c.yaml"
    yaml_config.write_text(
        "generator:\n  channels: [16, 16, 8, 8]\n  style_dim: 8\n  noise_channels: 4\nd_channels: 8\nsteps: 2\n"
    )
    run = tmp_path / "run"
    args = ["train", "--images", str(photos["images"]), "--out", str(run), "--config", str(yaml_config)]
    assert main([*args, "--size", "32", "--batch-size", "2", "--no-progress"]) == 0
    saved = json.loads((run / "config.json").read_text())
    assert saved["steps"] == 2 and saved["size"] == 32 and saved["generator"]["style_dim"] == 8
    assert main(["train", "--out", str(run), "--resume", "--steps", "3", "--no-progress"]) == 0
    assert json.loads((run / "generator.json").read_text())["training"]["steps"] == 3
    assert main(["train", "--images", str(tmp_path / "none"), "--out", str(tmp_path / "r2")]) == 1


def test_config_validation_and_merge(tmp_path):
    cfg = TrainConfig.from_dict({"steps": 5, "generator": {"style_dim": 8}})
    assert cfg.steps == 5 and cfg.generator.style_dim == 8 and cfg.generator.noise_channels == 16
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match=r"unknown settings \['stepz'\]"):
        TrainConfig.from_dict({"stepz": 5})
    with pytest.raises(ValueError, match="size: expected a multiple of 8"):
        TrainConfig(size=30)
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="fp8")
    with pytest.raises(ValueError, match="augment"):
        TrainConfig(augment=("cutmix",))
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(ValueError, match=r"bad\.json is not valid JSON"):
        TrainConfig.from_file(bad)


def test_crops_avoid_objects_and_are_step_deterministic(photos):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    mask = np.zeros((48, 48), np.uint8)
    mask[:, 20:28] = 1  # a vertical object: only crops fully left or right of it are usable
    image[mask == 1] = 255
    crops = BackgroundCrops.from_arrays([image], [mask], size=16)
    batch = crops.sample(64, rng)
    assert not (batch == 255).all(axis=-1).any(), "no object pixel in any crop"
    assert crops.num_positions == 2 * 5 * 33
    loose = BackgroundCrops.from_arrays([image], [mask], size=16, max_object_fraction=0.25)
    assert loose.num_positions > crops.num_positions
    a = StepBatches(crops, 4, seed=1, rank=0, start=0, stop=10)
    b = StepBatches(crops, 4, seed=1, rank=0, start=5, stop=10)
    assert torch.equal(a[7], b[2]), "a step's batch depends on the step, not on where the run started"
    assert not torch.equal(a[7], StepBatches(crops, 4, seed=1, rank=1, start=0, stop=10)[7])


def test_no_usable_crop_names_the_folder_and_size(photos):
    with pytest.raises(ValueError, match=rf"no usable 128x128 crop in {photos['images']}"):
        BackgroundCrops.from_dirs(photos["images"], size=128)
    full = np.ones((40, 40), np.uint8)
    with pytest.raises(ValueError, match=r"no usable 32x32 crop in arrays.*object pixels"):
        BackgroundCrops.from_arrays([np.zeros((40, 40, 3), np.uint8)], [full], size=32)


def test_diff_augment_is_differentiable_and_seeded():
    x = torch.rand(4, 3, 16, 16, requires_grad=True)
    policy = ("color", "translation", "hflip", "vflip")
    a = diff_augment(x, policy, torch.Generator().manual_seed(3))
    b = diff_augment(x, policy, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.shape == x.shape
    a.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        shifted = diff_augment(torch.ones(8, 1, 16, 16), ("translation",), torch.Generator().manual_seed(0))
    assert (shifted == 0).any(), "translation fills with zeros"


def test_discriminator_minibatch_std_never_mixes_real_and_fake():
    from causal_transforms.train.loop import PatchDiscriminator

    torch.manual_seed(0)
    d = PatchDiscriminator(channels=8, layers=2).eval()
    real, fake = torch.rand(4, 3, 16, 16), torch.full((4, 3, 16, 16), 0.5)
    with torch.no_grad():
        joint = d(torch.cat([real, fake]), segment=4)
        torch.testing.assert_close(joint, torch.cat([d(real), d(fake)]))
        mixed = d(torch.cat([real[:2], fake[:2]]))  # one group of 4: the fakes see the reals' spread
        assert not torch.allclose(mixed[2:], d(fake)[:2]), "the minibatch-std feature has an effect"


def test_dataloader_workers_give_the_same_run(crops, tmp_path):
    inline, workers = tmp_path / "inline", tmp_path / "workers"
    train(_tiny_config(inline, steps=3), dataset=crops)
    train(_tiny_config(workers, steps=3, num_workers=2), dataset=crops)
    a, b = load_file(inline / "generator.safetensors"), load_file(workers / "generator.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a), "a batch depends only on (seed, rank, step)"
