"""Train a background GAN on the user's own images; the run directory is what the registry loads.

The recipe: the fully convolutional :class:`~causal_transforms.backends.gan.model.BackgroundGenerator`
against a spectral-norm patch discriminator with the hinge loss, differentiable augmentation
(translation, flips, brightness / saturation / contrast) applied to real and fake images alike
before the discriminator, Adam, and an exponential moving average (EMA) of the generator's
weights, which is what gets saved. bfloat16 autocast and channels-last on the CPU where supported.

A run directory holds::

    config.json                  the resolved TrainConfig
    log.jsonl                    one JSON record per logged step and per event
    samples/step_XXXXXX.png      EMA samples: a grid of fixed seeds and one 256x256 sample
    checkpoints/step_XXXXXX/     models.safetensors, optim.safetensors, checkpoint.json
    generator.safetensors        the final EMA generator ...
    generator.json               ... its architecture and training metadata

``load_generator(run_dir)`` and ``create_resampler("gan", weights=run_dir)`` read the last two.

Multi-process: under ``torchrun`` (``WORLD_SIZE`` > 1) the trainer initialises
``torch.distributed`` (gloo on the CPU, NCCL on CUDA), wraps both networks in
``DistributedDataParallel``, draws different crops and noise on every rank, and only rank 0 writes
files (the others wait at barriers).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import shlex
import shutil
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from causal_transforms.backends.gan.model import BackgroundGenerator, resolve_precision
from causal_transforms.backends.gan.weights import save_generator, sha256_file
from causal_transforms.core.seeding import derive_seed
from causal_transforms.train.config import TrainConfig
from causal_transforms.train.data import BackgroundCrops, StepBatches

__all__ = [
    "CHECKPOINT_DIR",
    "LOG_NAME",
    "PatchDiscriminator",
    "TrainingWarning",
    "diff_augment",
    "latest_checkpoint",
    "train",
]

CHECKPOINT_DIR = "checkpoints"
LOG_NAME = "log.jsonl"
SAMPLE_DIR = "samples"
_SAMPLE_GRID = 4
_LARGE_SAMPLE = 256


class TrainingWarning(UserWarning):
    """Something the user should know about a run (e.g. a corrupt checkpoint was skipped).

    Example:
        >>> issubclass(TrainingWarning, UserWarning)
        True
    """


# --------------------------------------------------------------------------- networks and augmentation
class PatchDiscriminator(nn.Module):
    """A spectral-norm patch discriminator: one real/fake logit per patch.

    Before its head it appends a minibatch standard-deviation feature (ProGAN): the spread of
    the features over small groups of samples, which lets it see a lack of diversity (a
    collapsing generator) that a per-sample decision cannot.

    Args:
        channels: Width of the first layer (doubled at each stride-2 layer, up to 8x).
        layers: Number of stride-2 4x4 convolutions.
        in_channels: Image channels.
        mbstd_group: Samples per minibatch-std group (0 turns the feature off).

    Example:
        >>> d = PatchDiscriminator(channels=8, layers=3)
        >>> d(torch.rand(4, 3, 64, 64)).shape
        torch.Size([4, 1, 8, 8])
    """

    def __init__(self, channels: int = 64, layers: int = 3, in_channels: int = 3, mbstd_group: int = 4) -> None:
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        blocks: list[nn.Module] = []
        c_in = in_channels
        for i in range(layers):
            c_out = channels * 2 ** min(i, 3)
            blocks += [sn(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
            c_in = c_out
        self.down = nn.Sequential(*blocks)
        self.mbstd_group = mbstd_group
        extra = 1 if mbstd_group > 0 else 0
        self.head = nn.Sequential(
            sn(nn.Conv2d(c_in + extra, c_in, 3, padding=1)), nn.LeakyReLU(0.2), sn(nn.Conv2d(c_in, 1, 3, padding=1))
        )

    def forward(self, x: torch.Tensor, segment: int | None = None) -> torch.Tensor:
        """Logits of shape ``(B, 1, H / 2**layers, W / 2**layers)`` for images in [0, 1].

        Args:
            x: The images.
            segment: The batch is consecutive segments of this many samples (e.g. real, then
                fake); minibatch-std groups never straddle two segments.
        """
        y = self.down(x * 2.0 - 1.0)
        if self.mbstd_group > 0:
            y = torch.cat([y, _minibatch_std(y, math.gcd(self.mbstd_group, segment or y.shape[0]))], dim=1)
        return self.head(y)


def _minibatch_std(y: torch.Tensor, group: int) -> torch.Tensor:
    """One channel: the mean standard deviation over each group of ``group`` consecutive samples."""
    b, c, h, w = y.shape
    if group < 2:
        return y.new_zeros(b, 1, h, w)
    g = y.float().reshape(b // group, group, c, h, w)
    std = (g.var(dim=1, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))
    return std.repeat_interleave(group)[:, None, None, None].expand(b, 1, h, w).to(y.dtype)


def diff_augment(x: torch.Tensor, policy: tuple[str, ...], generator: torch.Generator) -> torch.Tensor:
    """Differentiable augmentation applied to real and fake images alike (before the discriminator).

    ``"color"``: random brightness (+-0.25), saturation (x0..2) and contrast (x0.5..1.5);
    ``"translation"``: a random shift of up to 1/8 of the size, zero-filled; ``"hflip"`` /
    ``"vflip"``: random flips. Each sample draws its own parameters from ``generator``.

    Args:
        x: ``(B, C, H, W)`` images in [0, 1].
        policy: Names from :data:`~causal_transforms.train.config.AUGMENTATIONS`.
        generator: Random generator on the device of ``x``.

    Returns:
        The augmented batch (gradients flow through it).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> diff_augment(torch.rand(2, 3, 16, 16), ("color", "translation", "hflip"), g).shape
        torch.Size([2, 3, 16, 16])
    """
    b, _, h, w = x.shape
    dev = x.device

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator, device=dev, dtype=torch.float32).to(x.dtype)

    if "color" in policy:
        x = x + (rand(b, 1, 1, 1) - 0.5) * 0.5
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (rand(b, 1, 1, 1) * 2.0) + mean
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * (rand(b, 1, 1, 1) + 0.5) + mean
    if "translation" in policy:
        sh, sw = max(1, h // 8), max(1, w // 8)
        dy = torch.randint(-sh, sh + 1, (b,), generator=generator, device=dev)
        dx = torch.randint(-sw, sw + 1, (b,), generator=generator, device=dev)
        ys = (torch.arange(h, device=dev)[None, :] - dy[:, None]).clamp(-1, h)  # (B, H) source rows
        xs = (torch.arange(w, device=dev)[None, :] - dx[:, None]).clamp(-1, w)
        padded = F.pad(x, (1, 1, 1, 1))
        rows = (ys + 1)[:, None, :, None].expand(b, x.shape[1], h, w + 2)
        x = padded.gather(2, rows)
        cols = (xs + 1)[:, None, None, :].expand(b, x.shape[1], h, w)
        x = x.gather(3, cols)
    for name, dim in (("hflip", 3), ("vflip", 2)):
        if name in policy:
            flip = (rand(b) < 0.5)[:, None, None, None]
            x = torch.where(flip, x.flip(dim), x)
    return x


# --------------------------------------------------------------------------- distributed helpers
class _Dist:
    """This process's place in a (possibly single-process) run."""

    def __init__(self, config: TrainConfig) -> None:
        self.world_size = int(os.environ.get("WORLD_SIZE", "1") or 1)
        self.rank = 0
        self.local_rank = 0
        self.enabled = self.world_size > 1
        use_cuda = config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available())
        if config.device == "cuda" and not torch.cuda.is_available():
            raise ValueError("device: 'cuda' was requested but torch.cuda.is_available() is False")
        if self.enabled:
            import torch.distributed as dist

            self.dist = dist
            self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
            if not dist.is_initialized():
                dist.init_process_group(backend="nccl" if use_cuda else "gloo")
            self.rank = dist.get_rank()
            self.world_size = dist.get_world_size()
        self.device = torch.device(f"cuda:{self.local_rank}" if use_cuda else "cpu")
        if use_cuda:
            torch.cuda.set_device(self.device)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            if self.device.type == "cuda":
                self.dist.barrier(device_ids=[self.local_rank])
            else:
                self.dist.barrier()

    def mean(self, values: list[float]) -> list[float]:
        if not self.enabled:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        self.dist.all_reduce(t)
        return (t / self.world_size).tolist()

    def close(self) -> None:
        if self.enabled and self.dist.is_initialized():
            self.dist.destroy_process_group()


# --------------------------------------------------------------------------- files
def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


class _Log:
    """Append JSON lines to ``log.jsonl`` (rank 0 only) and keep the progress bar's postfix."""

    def __init__(self, path: Path, rank: int, world_size: int, enabled: bool) -> None:
        self.path = path
        self.rank = rank
        self.world_size = world_size
        self.enabled = enabled

    def write(self, event: str, **fields: Any) -> None:
        if not self.enabled:
            return
        record = {"event": event, **fields, "rank": self.rank, "world_size": self.world_size, "time": time.time()}
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, sort_keys=True) + "\n")

    def truncate_after(self, step: int) -> None:
        """Drop records of steps after ``step`` (they are redone after a resume)."""
        if not self.enabled or not self.path.is_file():
            return
        kept = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by the interruption
            if isinstance(rec.get("step"), int) and rec["step"] > step and rec.get("event") != "resume":
                continue
            kept.append(line)
        _atomic_write(self.path, ("\n".join(kept) + "\n" if kept else "").encode())


def _checkpoint_name(step: int) -> str:
    return f"step_{step:06d}"


def _checkpoint_dirs(run_dir: Path) -> list[Path]:
    root = run_dir / CHECKPOINT_DIR
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith("step_") and p.name[5:].isdigit()]
    return sorted(found, key=lambda p: int(p.name[5:]))


def _read_checkpoint(folder: Path) -> dict[str, Any]:
    """Read and verify a checkpoint folder; raise ValueError when it is incomplete or corrupt."""
    from safetensors.torch import load_file

    meta_path = folder / "checkpoint.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read {meta_path}: {exc}") from exc
    files = meta.get("files") if isinstance(meta, dict) else None
    if not isinstance(files, dict) or not isinstance(meta.get("step"), int):
        raise ValueError(f"{meta_path} lacks 'step' or 'files'")
    tensors: dict[str, dict[str, torch.Tensor]] = {}
    for name, digest in files.items():
        path = folder / name
        if not path.is_file():
            raise ValueError(f"{path} is missing")
        if sha256_file(path) != digest:
            raise ValueError(f"{path} does not match its sha256 in {meta_path} (truncated or corrupt)")
        try:
            tensors[name] = load_file(str(path), device="cpu")
        except Exception as exc:
            raise ValueError(f"cannot read {path}: {type(exc).__name__}: {exc}") from exc
    meta["tensors"] = tensors
    meta["path"] = str(folder)
    return meta


def latest_checkpoint(run_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The latest complete, verified checkpoint of a run, falling back past corrupt ones.

    A corrupt or incomplete checkpoint (bad JSON, a missing file, a sha256 mismatch) is skipped
    with a :class:`TrainingWarning` naming it, and the previous one is tried.

    Args:
        run_dir: The run directory.

    Returns:
        The checkpoint's metadata (``step``, ``config``, ``rng``, ...) with its tensors under
        ``"tensors"``, or ``None`` when there is no usable checkpoint.

    Example:
        >>> import tempfile
        >>> latest_checkpoint(tempfile.mkdtemp()) is None
        True
    """
    for folder in reversed(_checkpoint_dirs(Path(run_dir))):
        try:
            return _read_checkpoint(folder)
        except ValueError as exc:
            warnings.warn(
                f"checkpoint {folder} is incomplete or corrupt ({exc}); falling back to the previous one",
                TrainingWarning,
                stacklevel=2,
            )
    return None


def _set_aside(folder: Path) -> None:
    """Rename a corrupt checkpoint to ``step_XXXXXX.corrupt`` (kept for inspection, never loaded)."""
    target = folder.with_name(f"{folder.name}.corrupt")
    shutil.rmtree(target, ignore_errors=True)
    with contextlib.suppress(OSError):
        os.replace(folder, target)


def _optimizer_tensors(opt: torch.optim.Optimizer, prefix: str) -> tuple[dict[str, torch.Tensor], dict]:
    state = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, entry in state["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}.{idx}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(idx), {})[key] = value
    groups = json.loads(json.dumps(state["param_groups"], default=list))
    return tensors, {"param_groups": groups, "scalars": scalars}


def _load_optimizer(opt: torch.optim.Optimizer, prefix: str, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        head, idx, name = key.split(".", 2)
        if head == prefix:
            state.setdefault(int(idx), {})[name] = value
    for idx, extra in meta.get("scalars", {}).items():
        state.setdefault(int(idx), {}).update(extra)
    groups = meta["param_groups"]
    for group in groups:
        if isinstance(group.get("betas"), list):
            group["betas"] = tuple(group["betas"])
    opt.load_state_dict({"state": state, "param_groups": groups})


def _rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    py_state = random.getstate()
    out: dict[str, Any] = {
        "torch": torch.get_rng_state().tolist(),
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "python": [py_state[0], list(py_state[1]), py_state[2]],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["cuda"] = [s.tolist() for s in torch.cuda.get_rng_state_all()]
    return out


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        with contextlib.suppress(RuntimeError):
            torch.cuda.set_rng_state_all([torch.tensor(s, dtype=torch.uint8) for s in state["cuda"]])


def _write_checkpoint(
    run_dir: Path,
    step: int,
    nets: dict[str, nn.Module],
    opts: dict[str, torch.optim.Optimizer],
    config: TrainConfig,
    extra: dict[str, Any],
) -> Path:
    """Write ``checkpoints/step_XXXXXX/`` through a temporary folder renamed into place."""
    from safetensors.torch import save_file

    root = run_dir / CHECKPOINT_DIR
    root.mkdir(parents=True, exist_ok=True)
    final = root / _checkpoint_name(step)
    tmp = root / f".{final.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        models = {
            f"{name}.{key}": value.detach().cpu().contiguous().clone()
            for name, net in nets.items()
            for key, value in net.state_dict().items()
        }
        save_file(models, str(tmp / "models.safetensors"))
        optim_tensors: dict[str, torch.Tensor] = {}
        optim_meta: dict[str, Any] = {}
        for name, opt in opts.items():
            tensors, meta = _optimizer_tensors(opt, name)
            optim_tensors.update(tensors)
            optim_meta[name] = meta
        save_file(optim_tensors, str(tmp / "optim.safetensors"))
        files = {name: sha256_file(tmp / name) for name in ("models.safetensors", "optim.safetensors")}
        meta = {
            "step": step,
            "files": files,
            "optim": optim_meta,
            "rng": _rng_state(),
            "config": config.to_dict(),
            "written_by_rank": 0,
            **extra,
        }
        _atomic_write(tmp / "checkpoint.json", (json.dumps(meta, indent=1) + "\n").encode())
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _prune_checkpoints(run_dir: Path, keep: int) -> None:
    dirs = _checkpoint_dirs(run_dir)
    for old in dirs[: max(0, len(dirs) - keep)]:
        shutil.rmtree(old, ignore_errors=True)
    root = run_dir / CHECKPOINT_DIR
    for stale in root.glob(".step_*.tmp"):  # left behind by a killed writer
        shutil.rmtree(stale, ignore_errors=True)


# --------------------------------------------------------------------------- samples
def _sample_seeds(seed: int) -> list[int]:
    return [derive_seed(seed, "sample", i) for i in range(_SAMPLE_GRID * _SAMPLE_GRID)]


@torch.no_grad()
def _sample_png(generator: BackgroundGenerator, config: TrainConfig, device: torch.device) -> bytes:
    """A grid of fixed-seed samples at the training size next to one 256x256 sample."""
    import cv2

    s, gap = config.size, 2
    dtype, _ = resolve_precision(config.precision, device)

    def run(seeds: list[int], size: int) -> np.ndarray:
        style_z, local_z = generator.sample_noise(torch.tensor(seeds), size, size, device)
        with torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            out = generator(style_z, local_z, size, size)
        return (out.float().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()

    small = run(_sample_seeds(config.seed), s)
    large = run([derive_seed(config.seed, "sample-large")], _LARGE_SAMPLE)[0]
    grid_side = _SAMPLE_GRID * s + (_SAMPLE_GRID + 1) * gap
    height = max(grid_side, _LARGE_SAMPLE + 2 * gap)
    canvas = np.full((height, grid_side + _LARGE_SAMPLE + gap, 3), 255, np.uint8)
    for i, tile in enumerate(small):
        r, c = divmod(i, _SAMPLE_GRID)
        y, x = gap + r * (s + gap), gap + c * (s + gap)
        canvas[y : y + s, x : x + s] = tile
    canvas[gap : gap + _LARGE_SAMPLE, grid_side : grid_side + _LARGE_SAMPLE] = large
    ok, buf = cv2.imencode(".png", cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    if not ok:  # pragma: no cover - cv2 always encodes uint8 RGB
        raise RuntimeError("could not encode the sample grid as PNG")
    return buf.tobytes()


# --------------------------------------------------------------------------- the loop
def _command_line(world_size: int) -> str:
    argv = list(sys.argv)
    if not argv:
        return ""
    head = Path(argv[0])
    if head.name == "__main__.py" and head.parent.name == "train":
        prefix = ["-m", "causal_transforms.train"]
    elif head.name == "__main__.py":
        prefix = ["-m", "causal_transforms"]
    else:
        prefix = [head.name]
    if world_size > 1:
        nproc = os.environ.get("LOCAL_WORLD_SIZE", str(world_size))
        launcher = ["torchrun", f"--nproc_per_node={nproc}"]
        nnodes = world_size // max(1, int(nproc))
        if nnodes > 1:
            launcher.append(f"--nnodes={nnodes}")
        cmd = [*launcher, *(prefix if prefix[0] == "-m" else [str(head)]), *argv[1:]]
    else:
        cmd = [*(["python", *prefix] if prefix[0] == "-m" else prefix), *argv[1:]]
    return shlex.join(cmd)


def _one_thread(_: int) -> None:
    torch.set_num_threads(1)  # crop workers only slice arrays; leave the cores to training


def _batches(dataset: StepBatches, num_workers: int, pin_memory: bool) -> Iterator[torch.Tensor]:
    if num_workers == 0:
        for i in range(len(dataset)):
            yield dataset[i]
        return
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=None,
        shuffle=False,
        num_workers=num_workers,
        worker_init_fn=_one_thread,
        prefetch_factor=4,
        pin_memory=pin_memory,
    )
    yield from loader


def _ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    with torch.no_grad():
        ema_params = list(ema.parameters())
        params = [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(ema_params, params, 1.0 - decay)


def train(
    config: TrainConfig,
    dataset: BackgroundCrops | None = None,
    command: str | None = None,
) -> Path:
    """Train a background generator and return the run directory.

    Args:
        config: The run's configuration (``config.out`` is the run directory).
        dataset: Crops to train on; read from ``config.images`` / ``config.masks`` when ``None``
            (e.g. ``BackgroundCrops.from_arrays([b.rgb for b in load_backgrounds()])``).
        command: The command line recorded in the metadata (reconstructed from ``sys.argv``
            when ``None``).

    Returns:
        The run directory, holding ``generator.safetensors`` and ``generator.json`` (load it
        with ``create_resampler("gan", weights=run_dir)``).

    Raises:
        ValueError: A missing run directory or images, a run directory that already holds
            checkpoints without ``resume``, an architecture that differs from the checkpoint's,
            or no usable crop.

    Example:
        >>> import tempfile
        >>> from causal_transforms.backends.gan.model import GeneratorConfig
        >>> crops = BackgroundCrops.from_arrays([np.full((40, 40, 3), 128, np.uint8)], size=16)
        >>> tiny = GeneratorConfig(channels=(8, 8, 8, 8), style_dim=4, noise_channels=2)
        >>> cfg = TrainConfig(out=tempfile.mkdtemp(), steps=1, batch_size=2, size=16, generator=tiny,
        ...                   d_channels=4, progress=False)
        >>> (train(cfg, dataset=crops) / "generator.safetensors").is_file()
        True
    """
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config: expected a TrainConfig, got {type(config).__name__}")
    if config.out is None:
        raise ValueError("out: expected a run directory (--out RUN_DIR)")
    if dataset is None and config.images is None:
        raise ValueError("images: expected a folder of training images (--images DIR)")
    run_dir = Path(config.out)
    existing = _checkpoint_dirs(run_dir)
    if existing and not config.resume:
        raise ValueError(
            f"out: {run_dir} already holds checkpoints (latest {existing[-1].name}); pass --resume to "
            "continue that run or choose another --out"
        )
    dist = _Dist(config)
    try:
        return _train(config, dataset, command, run_dir, dist)
    finally:
        dist.close()


def _train(
    config: TrainConfig, dataset: BackgroundCrops | None, command: str | None, run_dir: Path, dist: _Dist
) -> Path:
    from tqdm.auto import tqdm

    device = dist.device
    main = dist.is_main
    if dataset is None:
        dataset = BackgroundCrops.from_dirs(
            config.images, config.masks, config.size, config.max_object_fraction, config.short_side
        )
    elif dataset.size != config.size:
        raise ValueError(f"dataset: its crops are {dataset.size} px but size is {config.size}")
    command = _command_line(dist.world_size) if command is None else command
    log = _Log(run_dir / LOG_NAME, dist.rank, dist.world_size, main)
    if main:
        (run_dir / SAMPLE_DIR).mkdir(parents=True, exist_ok=True)
        config.save(run_dir)
    dist.barrier()

    random.seed(config.seed)
    np.random.seed(config.seed % 2**32)
    torch.manual_seed(config.seed)
    amp_dtype, channels_last = resolve_precision(config.precision, device)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format

    generator = BackgroundGenerator(config.generator)
    discriminator = PatchDiscriminator(config.d_channels, config.d_layers, mbstd_group=config.d_mbstd_group)
    ema = BackgroundGenerator(config.generator)
    ema.load_state_dict(generator.state_dict())
    opt_g = torch.optim.Adam(generator.parameters(), lr=config.lr_g, betas=config.betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=config.lr_d, betas=config.betas)

    start = 0
    resumed_from = None
    if config.resume:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", TrainingWarning)
            ckpt = latest_checkpoint(run_dir)
        for w in caught:
            if main:
                warnings.warn(w.message, w.category, 2)
                log.write("skipped_checkpoint", reason=str(w.message))
        if ckpt is None:
            if main:
                warnings.warn(f"resume: no usable checkpoint in {run_dir}; starting from step 0", TrainingWarning, 2)
        else:
            saved = ckpt["config"].get("generator", {})
            if saved != config.generator.to_dict():
                raise ValueError(
                    f"generator: the checkpoint {ckpt['path']} has generator config {saved}, "
                    f"but this run asks for {config.generator.to_dict()}"
                )
            models = ckpt["tensors"]["models.safetensors"]
            for prefix, net in (("G", generator), ("G_ema", ema), ("D", discriminator)):
                net.load_state_dict({k[len(prefix) + 1 :]: v for k, v in models.items() if k.startswith(prefix + ".")})
            start = int(ckpt["step"])
            resumed_from = ckpt["path"]
    dist.barrier()  # every rank has read the checkpoint before rank 0 touches the folder
    if main and config.resume:
        for later in _checkpoint_dirs(run_dir):
            if int(later.name[5:]) > start:  # corrupt ones that were skipped
                _set_aside(later)
    for net in (generator, discriminator, ema):
        net.to(device=device, memory_format=memory_format)
    ema.eval().requires_grad_(False)
    if resumed_from is not None:
        optim = ckpt["tensors"]["optim.safetensors"]
        _load_optimizer(opt_g, "opt_g", optim, ckpt["optim"]["opt_g"])
        _load_optimizer(opt_d, "opt_d", optim, ckpt["optim"]["opt_d"])
        _set_rng_state(ckpt["rng"])
        del ckpt

    g_train: nn.Module = generator
    d_train: nn.Module = discriminator
    if dist.enabled:
        from torch.nn.parallel import DistributedDataParallel as DDP  # noqa: N817

        ids = [dist.local_rank] if device.type == "cuda" else None
        g_train = DDP(generator, device_ids=ids)
        d_train = DDP(discriminator, device_ids=ids)

    if main:
        if resumed_from is not None:
            log.truncate_after(start)
            log.write("resume", step=start, from_step=start, checkpoint=resumed_from, command=command)
        else:
            log.write("start", step=0, command=command, data=dataset.describe(), config=config.to_dict())
    meta_extra = {"world_size": dist.world_size, "command": command, "data": dataset.describe()}

    def autocast():
        return torch.autocast(device.type, dtype=amp_dtype or torch.bfloat16, enabled=amp_dtype is not None)

    def noise(gen: torch.Generator, b: int) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = config.generator
        h8 = config.size // 8
        style_z = torch.randn(b, cfg.style_dim, generator=gen, device=device)
        local_z = torch.randn(b, cfg.grid_channels, h8, h8, generator=gen, device=device)
        return style_z, local_z.contiguous(memory_format=memory_format)

    def finish_step(step: int) -> None:
        """Samples, checkpoint, pruning at the end of ``step`` (rank 0 writes, all wait)."""
        last = step == config.steps
        if (step % config.sample_every == 0 or last) and main:
            png = _sample_png(ema, config, device)
            _atomic_write(run_dir / SAMPLE_DIR / f"{_checkpoint_name(step)}.png", png)
            log.write("sample", step=step)
        if step % config.checkpoint_every == 0 or last:
            if main:
                path = _write_checkpoint(
                    run_dir,
                    step,
                    {"G": generator, "G_ema": ema, "D": discriminator},
                    {"opt_g": opt_g, "opt_d": opt_d},
                    config,
                    meta_extra,
                )
                _prune_checkpoints(run_dir, config.keep_checkpoints)
                log.write("checkpoint", step=step, path=str(path.relative_to(run_dir)))
            dist.barrier()

    batches = StepBatches(dataset, config.batch_size, config.seed, dist.rank, start, config.steps)
    bar = tqdm(
        total=config.steps,
        initial=start,
        disable=not (main and config.progress),
        desc=f"train {run_dir.name}",
        unit="step",
        dynamic_ncols=True,
    )
    t0 = time.perf_counter()
    window_t, window_steps = t0, 0
    step = start
    generator.train()
    discriminator.train()
    try:
        for step, real_u8 in enumerate(_batches(batches, config.num_workers, device.type == "cuda"), start=start + 1):
            gen = torch.Generator(device=device).manual_seed(derive_seed(config.seed, dist.rank, step))
            real = real_u8.to(device, non_blocking=True).float().div_(255.0)
            real = real.contiguous(memory_format=memory_format)
            b = real.shape[0]

            # Discriminator: hinge loss on augmented real and fake crops, in one forward.
            discriminator.requires_grad_(True)
            with torch.no_grad(), autocast():
                fake = generator(*noise(gen, b), config.size, config.size)
            with autocast():
                both = torch.cat([real, fake.to(real.dtype)])
                logits = d_train(diff_augment(both, config.augment, gen), segment=b).float()
            d_real, d_fake = logits[:b], logits[b:]
            loss_d = F.relu(1.0 - d_real).mean() + F.relu(1.0 + d_fake).mean()
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()

            # Generator: non-saturating hinge objective through the (frozen) discriminator.
            discriminator.requires_grad_(False)
            with autocast():
                fake = g_train(*noise(gen, b), config.size, config.size)
                loss_g = -discriminator(diff_augment(fake, config.augment, gen)).float().mean()
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            _ema_update(ema, generator, min(config.ema_decay, (1.0 + step) / (10.0 + step)))

            window_steps += 1
            if step % config.log_every == 0 or step == config.steps:
                values = [loss_d.item(), loss_g.item(), d_real.mean().item(), d_fake.mean().item()]
                if not all(math.isfinite(v) for v in values):
                    raise RuntimeError(f"training diverged at step {step}: losses {values}")
                values = dist.mean(values)
                now = time.perf_counter()
                rate = window_steps / max(now - window_t, 1e-9)
                window_t, window_steps = now, 0
                stats = dict(zip(("loss_d", "loss_g", "d_real", "d_fake"), values, strict=True))
                log.write("train", step=step, steps_per_s=rate, elapsed_s=now - t0, **stats)
                bar.set_postfix({k: f"{v:.3f}" for k, v in stats.items() if k.startswith("loss")}, refresh=False)
            bar.update(1)
            finish_step(step)
    finally:
        bar.close()

    if start >= config.steps:
        step = start
    if main:
        metadata = {
            "steps": step,
            "train_size": config.size,
            "batch_size": config.batch_size,
            "world_size": dist.world_size,
            "command": command,
            "data": dataset.describe(),
            "config": config.to_dict(),
            "seed": config.seed,
            "torch": torch.__version__,
        }
        save_generator(ema, run_dir, metadata)
        log.write("done", step=step, generator=str(run_dir / "generator.safetensors"))
    dist.barrier()
    return run_dir
