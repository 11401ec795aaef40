"""The trainer's configuration: a dataclass, loaded from JSON or YAML and merged with flags.

Precedence, lowest first: the defaults, the run directory's saved ``config.json`` (when
resuming), a ``--config FILE``, then the flags given on the command line. The resolved config is
written to ``RUN_DIR/config.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from causal_transforms.backends.gan.model import PRECISIONS, GeneratorConfig

__all__ = ["AUGMENTATIONS", "CONFIG_NAME", "TrainConfig", "load_config_file"]

#: Name of the resolved config inside a run directory.
CONFIG_NAME = "config.json"
#: Differentiable augmentations the trainer knows (applied to real and fake images alike).
AUGMENTATIONS: tuple[str, ...] = ("color", "translation", "hflip", "vflip")

_POSITIVE_INTS = ("steps", "batch_size", "size", "sample_every", "checkpoint_every", "keep_checkpoints", "log_every")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a background-GAN training run.

    Args:
        images: Folder of training images (searched recursively); not needed when a dataset is
            passed to :func:`~causal_transforms.train.loop.train` directly.
        masks: Optional folder of object masks, matched to images by relative path and stem
            (any image format, non-zero = object). Images without a mask count as pure background.
        out: The run directory (config, log, samples, checkpoints, final generator).
        steps: Total optimisation steps; a resumed run ends at exactly this step.
        batch_size: Crops per step and per process.
        size: Crop size in pixels (multiple of 8).
        short_side: Downscale each image (and mask) so its short side is at most this, first.
        lr_g: Generator learning rate.
        lr_d: Discriminator learning rate.
        betas: Adam betas for both networks.
        ema_decay: Decay of the generator's exponential moving average (what is saved).
        seed: Seed of weights, crops, noise and augmentations (``torch``, ``numpy``, ``random``).
        sample_every: Write a sample grid every this many steps.
        checkpoint_every: Write a checkpoint every this many steps.
        keep_checkpoints: How many recent checkpoints to keep.
        log_every: Append losses to ``log.jsonl`` every this many steps.
        precision: ``"auto"`` (bfloat16 autocast where supported), ``"float32"`` or ``"bfloat16"``.
        num_workers: DataLoader worker processes that cut crops (0 = in the training process).
        max_object_fraction: With masks, crops with a larger fraction of object pixels are
            rejected (0 = only crops without any object pixel).
        augment: Differentiable augmentations, a subset of :data:`AUGMENTATIONS`.
        d_channels: Width of the discriminator's first layer.
        d_layers: Stride-2 layers of the patch discriminator.
        d_mbstd_group: Samples per minibatch-std group in the discriminator (0 = off); it lets
            the discriminator see a lack of diversity.
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"`` or ``"cuda"``.
        resume: Continue from the latest complete checkpoint in ``out``.
        progress: Show a progress bar.
        generator: The generator's architecture.

    Example:
        >>> TrainConfig(images="photos", out="run", steps=10).batch_size
        32
    """

    images: str | None = None
    masks: str | None = None
    out: str | None = None
    steps: int = 10000
    batch_size: int = 32
    size: int = 64
    short_side: int | None = None
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.0, 0.99)
    ema_decay: float = 0.999
    seed: int = 0
    sample_every: int = 500
    checkpoint_every: int = 1000
    keep_checkpoints: int = 2
    log_every: int = 10
    precision: str = "auto"
    num_workers: int = 0
    max_object_fraction: float = 0.0
    augment: tuple[str, ...] = ("color", "translation", "hflip")
    d_channels: int = 64
    d_layers: int = 3
    d_mbstd_group: int = 4
    device: str = "auto"
    resume: bool = False
    progress: bool = True
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)

    def __post_init__(self) -> None:
        for name in ("images", "masks", "out"):
            value = getattr(self, name)
            if isinstance(value, os.PathLike):
                object.__setattr__(self, name, os.fspath(value))
            elif value is not None and not isinstance(value, str):
                raise ValueError(f"{name}: expected a path, got {value!r}")
        for name in _POSITIVE_INTS:
            _check_int(name, getattr(self, name), 1)
        for name in ("seed", "num_workers"):
            _check_int(name, getattr(self, name), 0)
        _check_int("d_channels", self.d_channels, 1)
        _check_int("d_layers", self.d_layers, 1)
        _check_int("d_mbstd_group", self.d_mbstd_group, 0)
        if self.short_side is not None:
            _check_int("short_side", self.short_side, 1)
        if self.size % 8:
            raise ValueError(f"size: expected a multiple of 8 (the generator upsamples three times), got {self.size}")
        for name in ("lr_g", "lr_d"):
            value = getattr(self, name)
            if not _is_number(value) or value <= 0:
                raise ValueError(f"{name}: expected a positive number, got {value!r}")
        betas = tuple(self.betas) if isinstance(self.betas, (list, tuple)) else None
        if betas is None or len(betas) != 2 or not all(_is_number(b) and 0 <= b < 1 for b in betas):
            raise ValueError(f"betas: expected two numbers in [0, 1), got {self.betas!r}")
        object.__setattr__(self, "betas", tuple(float(b) for b in betas))
        if not _is_number(self.ema_decay) or not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay: expected a number in [0, 1), got {self.ema_decay!r}")
        if not _is_number(self.max_object_fraction) or not 0 <= self.max_object_fraction <= 1:
            raise ValueError(f"max_object_fraction: expected a number in [0, 1], got {self.max_object_fraction!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision: expected one of {list(PRECISIONS)}, got {self.precision!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device: expected 'auto', 'cpu' or 'cuda', got {self.device!r}")
        augment = (self.augment,) if isinstance(self.augment, str) else self.augment
        if not isinstance(augment, (list, tuple)) or any(a not in AUGMENTATIONS for a in augment):
            raise ValueError(f"augment: expected a subset of {list(AUGMENTATIONS)}, got {self.augment!r}")
        object.__setattr__(self, "augment", tuple(augment))
        for name in ("resume", "progress"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}: expected true or false, got {getattr(self, name)!r}")
        if isinstance(self.generator, Mapping):
            object.__setattr__(self, "generator", GeneratorConfig.from_dict(self.generator))
        elif not isinstance(self.generator, GeneratorConfig):
            raise ValueError(f"generator: expected a GeneratorConfig or a mapping, got {self.generator!r}")

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (tuples become lists, the generator a nested dict).

        Example:
            >>> TrainConfig().to_dict()["generator"]["style_dim"]
            64
        """
        out = asdict(self)
        out["betas"] = list(self.betas)
        out["augment"] = list(self.augment)
        out["generator"] = self.generator.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base: TrainConfig | None = None) -> TrainConfig:
        """Build a config from a mapping, on top of ``base`` (the defaults when ``None``).

        A nested ``generator`` mapping is merged key by key into the base's generator config.

        Args:
            data: Field values; unknown keys raise.
            base: The config to override.

        Returns:
            The new config.

        Raises:
            ValueError: Unknown keys or invalid values.

        Example:
            >>> TrainConfig.from_dict({"steps": 5, "generator": {"style_dim": 8}}).generator.style_dim
            8
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"config: expected a mapping of settings, got {type(data).__name__}")
        base = cls() if base is None else base
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"config: unknown settings {unknown}; expected some of {sorted(known)}")
        values = dict(data)
        if "generator" in values:
            gen = values["generator"]
            if isinstance(gen, GeneratorConfig):
                pass
            elif isinstance(gen, Mapping):
                values["generator"] = GeneratorConfig.from_dict({**base.generator.to_dict(), **gen})
            else:
                raise ValueError(f"generator: expected a mapping, got {gen!r}")
        return replace(base, **values)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], base: TrainConfig | None = None) -> TrainConfig:
        """Load settings from a JSON or YAML file on top of ``base``.

        Example:
            >>> import tempfile, pathlib
            >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.json"; _ = p.write_text('{"steps": 7}')
            >>> TrainConfig.from_file(p).steps
            7
        """
        return cls.from_dict(load_config_file(path), base)

    def save(self, run_dir: str | os.PathLike[str]) -> Path:
        """Write the config as ``RUN_DIR/config.json`` (atomically) and return the path.

        Example:
            >>> import tempfile
            >>> TrainConfig(steps=3).save(tempfile.mkdtemp()).name
            'config.json'
        """
        path = Path(run_dir) / CONFIG_NAME
        tmp = path.with_name(f".{CONFIG_NAME}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return path


def load_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a JSON (``.json``) or YAML (``.yaml``/``.yml``) mapping of settings.

    Args:
        path: The file.

    Returns:
        The mapping.

    Raises:
        ValueError: Unreadable file, bad syntax, or not a mapping (the message names the file).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.json"; _ = p.write_text('{"size": 32}')
        >>> load_config_file(p)
        {'size': 32}
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"config: cannot read {path}: {exc}") from exc
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as exc:
            raise ValueError(f"config: reading {path} needs PyYAML (pip install pyyaml), or use JSON") from exc
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"config: {path} is not valid YAML: {exc}") from exc
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"config: {path} is not valid JSON: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError(f"config: {path} must hold a mapping of settings, got {type(data).__name__}")
    return data


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_int(name: str, value: object, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")
