"""Pretrained GAN weights: timm-style weight configs, and a safe loader (safetensors + JSON only).

Weights are read with ``safetensors`` (raw tensors, no code), or from a ``.pt``/``.pth`` state
dict with ``torch.load(weights_only=True)``, PyTorch's restricted unpickler that builds tensors
and plain containers only and refuses anything else (a crafted file that would run code is
refused with a clear error). The architecture always comes from a JSON file next to the weights.
Other pickle files (``.pkl``, ``.ckpt``, ...) are refused outright.

A directory written by the trainer (``causal-transforms train --out RUN_DIR``) holds
``generator.safetensors`` (the EMA generator) and ``generator.json``; a shipped weight set is
``causal_transforms/weights/<name>.safetensors`` with ``<name>.json`` next to it.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from causal_transforms.backends.gan.model import BackgroundGenerator, GeneratorConfig

__all__ = [
    "CONFIG_FORMAT",
    "GANWeights",
    "PRETRAINED",
    "RUN_DIR_CONFIG",
    "RUN_DIR_WEIGHTS",
    "load_generator",
    "resolve_weights",
    "save_generator",
    "sha256_file",
    "weights_dir",
]

#: File names inside a run directory written by the trainer.
RUN_DIR_WEIGHTS = "generator.safetensors"
RUN_DIR_CONFIG = "generator.json"
#: The ``format`` field of a generator JSON config.
CONFIG_FORMAT = "causal_transforms.gan.generator"

_PICKLE_SUFFIXES = (".pkl", ".pickle", ".ckpt", ".bin", ".tar", ".zip")
_TORCH_SUFFIXES = (".pt", ".pth")


@dataclass(frozen=True)
class GANWeights:
    """A shipped, pretrained weight set and its model card (timm-style pretrained config).

    Args:
        name: Registry name of the weights, e.g. ``"bg64-v1"``.
        filename: The ``.safetensors`` file, relative to ``causal_transforms/weights/``; its
            JSON config has the same name with ``.json``.
        sha256: Hex digest of the ``.safetensors`` file, checked on every load.
        licence: Licence of the weights (and of the training data they derive from).
        training_data: What the generator was trained on (sources, licences, count).
        command: The exact command that trained it.
        train_size: Crop size used in training (it generates any size).
        metrics: Measured quality, e.g. ``{"c2st_acc": 0.8}``.
        notes: Anything a user should know.

    Example:
        >>> w = GANWeights("demo", "demo.safetensors", "0" * 64, "CC0", "none", "true", 64)
        >>> w.config_filename
        'demo.json'
    """

    name: str
    filename: str
    sha256: str
    licence: str
    training_data: str
    command: str
    train_size: int
    metrics: dict[str, float] = field(default_factory=dict)
    notes: str = ""

    @property
    def config_filename(self) -> str:
        """The JSON config's file name (``filename`` with ``.json`` instead of ``.safetensors``)."""
        return str(Path(self.filename).with_suffix(".json"))

    @property
    def path(self) -> Path:
        """Absolute path of the ``.safetensors`` file inside the installed package."""
        return weights_dir() / self.filename


#: Shipped weight sets by name; the first entry is the default of ``create_resampler("gan")``.
PRETRAINED: dict[str, GANWeights] = {
    "tuxbg64-v1": GANWeights(
        name="tuxbg64-v1",
        filename="tuxbg64_v1.safetensors",
        sha256="7a2d8cb02f0f3ad3a5bde6fb0dc11e1c4918ea48c739500aa43d90110d7587ca",
        licence="GPL-3.0-or-later (conservatively: trained on GPL-2+ and LGPL-3 photos; see MODEL_CARD.md)",
        training_data=(
            "left 75 % of the 15 training background photos of causal_transforms.data.splits "
            "(Debian tuxpaint-data, mate-backgrounds, plasma-workspace-wallpapers); no test photo, no bird"
        ),
        command="python benchmarks/train_shipped_gan.py --out /work/runs/bg64 --steps 3500 --extra --no-progress",
        train_size=64,
        metrics={
            "c2st_accuracy": 0.879,
            "c2st_accuracy_spectral": 0.659,
            "c2st_accuracy_noise": 1.0,
            "diversity_across_seeds": 0.263,
            "real_diversity_between_patches": 0.270,
        },
        notes="3500 steps at batch 32, 64 px crops, ~31 min on 2 CPU cores (bf16); recurring dark 'eye' blobs.",
    ),
}


def weights_dir() -> Path:
    """The folder of shipped weights inside the installed package.

    Example:
        >>> weights_dir().name
        'weights'
    """
    return Path(__file__).resolve().parents[2] / "weights"


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 digest of a file, read in chunks.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x"; _ = p.write_bytes(b"")
        >>> sha256_file(p)[:8]
        'e3b0c442'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def resolve_weights(weights: str | os.PathLike[str] | None) -> tuple[Path, Path, str | None]:
    """Turn a weight name or path into ``(safetensors_path, json_path, expected_sha256)``.

    Args:
        weights: A name from :data:`PRETRAINED`, a run directory written by the trainer, or a
            ``.safetensors`` (or ``.pt``/``.pth`` state-dict) file with its ``.json`` config
            next to it. ``None`` picks the first shipped weight set.

    Returns:
        The weights file, its JSON config, and the SHA-256 to check (``None`` for user paths).

    Raises:
        ValueError: No shipped weights exist yet, an unknown name, a missing path, or a file
            that is neither ``.safetensors`` nor ``.pt``/``.pth`` (other pickle files are refused).

    Example:
        >>> resolve_weights("/no/such/run")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        ValueError: weights: ...
    """
    if weights is None:
        if not PRETRAINED:
            raise ValueError(
                "weights: no shipped GAN weights exist yet; train a generator with "
                "`causal-transforms train --images DIR --out RUN_DIR` and pass "
                'weights="path/to/run_dir" (e.g. create_resampler("gan", weights="path/to/run_dir"))'
            )
        weights = next(iter(PRETRAINED))
    if isinstance(weights, str) and weights in PRETRAINED:
        spec = PRETRAINED[weights]
        return spec.path, weights_dir() / spec.config_filename, spec.sha256
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(f"weights: expected a weight name or a path, got {type(weights).__name__}")
    path = Path(weights).expanduser()
    if path.is_dir():
        return path / RUN_DIR_WEIGHTS, path / RUN_DIR_CONFIG, None
    if path.suffix.lower() in _PICKLE_SUFFIXES:
        raise ValueError(
            f"weights: refusing to load {path}: expected .safetensors (or a .pt/.pth state dict, read with "
            "torch.load(weights_only=True)); pickle files (.pkl, .ckpt, ...) can run arbitrary code when "
            "loaded. Pass a run directory written by `causal-transforms train` or a .safetensors file"
        )
    if path.suffix.lower() in (".safetensors", *_TORCH_SUFFIXES):
        if not path.is_file():
            raise ValueError(f"weights: no such file {path}")
        return path, path.with_suffix(".json"), None
    if not path.exists():
        known = sorted(PRETRAINED)
        raise ValueError(
            f"weights: {str(weights)!r} is neither a shipped weight name (known: {known}) nor an existing "
            "run directory or .safetensors file"
        )
    raise ValueError(
        f"weights: refusing to load {path}: expected a run directory, a .safetensors file or a .pt/.pth "
        "state dict (weights are never unpickled beyond torch.load(weights_only=True))"
    )


def _read_config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ValueError(f"weights: the architecture config {path} is missing (expected next to the weights)")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"weights: could not read the JSON config {path}: {exc}") from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("generator"), dict):
        raise ValueError(f"weights: {path} is not a generator config (expected a 'generator' object)")
    fmt = meta.get("format", CONFIG_FORMAT)
    if fmt != CONFIG_FORMAT:
        raise ValueError(f"weights: {path} has format {fmt!r}, expected {CONFIG_FORMAT!r}")
    return meta


def load_generator(
    path_or_run_dir: str | os.PathLike[str] | None, expected_sha256: str | None = None
) -> tuple[BackgroundGenerator, dict[str, Any]]:
    """Load a generator from safetensors weights and its JSON architecture config (never pickle).

    Args:
        path_or_run_dir: A run directory written by the trainer, a ``.safetensors`` file (with
            its ``.json`` next to it), a shipped weight name, or ``None`` for the default
            shipped weights.
        expected_sha256: Hex digest the ``.safetensors`` file must have. A shipped name brings
            its own, and a run directory's ``generator.json`` records the digest written with it;
            both are checked when this is ``None``.

    Returns:
        ``(generator, meta)``: the generator in eval mode on the CPU with gradients off, and
        the JSON config's contents (architecture plus training metadata).

    Raises:
        ValueError: A checksum mismatch, a truncated or corrupt file, a pickle file, or
            weights that do not fit the config; the message names the file.
        ImportError: ``safetensors`` is not installed.

    Example:
        >>> import tempfile
        >>> run = tempfile.mkdtemp()
        >>> g = BackgroundGenerator(GeneratorConfig(channels=(8, 8, 8, 8), style_dim=4, noise_channels=2))
        >>> _ = save_generator(g, run)
        >>> load_generator(run)[0].config.style_dim
        4
    """
    weights_path, config_path, sha = resolve_weights(path_or_run_dir)
    if not weights_path.is_file():
        raise ValueError(f"weights: no such file {weights_path}")
    meta = _read_config(config_path)
    if expected_sha256 is not None:
        sha = expected_sha256
    elif sha is None and isinstance(meta.get("sha256"), str):
        sha = meta["sha256"]
    if sha is not None:
        got = sha256_file(weights_path)
        if got.lower() != str(sha).lower():
            raise ValueError(
                f"weights: sha256 mismatch for {weights_path}: expected {sha}, got {got}; the file is "
                "truncated, corrupt or a different version"
            )
    try:
        config = GeneratorConfig.from_dict(meta["generator"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"weights: invalid generator config in {config_path}: {exc}") from exc
    state = _read_state_dict(weights_path)
    generator = BackgroundGenerator(config)
    try:
        generator.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"weights: {weights_path} does not fit the config in {config_path}: {exc}") from exc
    generator.eval().requires_grad_(False)
    return generator, meta


def _read_state_dict(weights_path: Path) -> dict[str, torch.Tensor]:
    """Tensors from a safetensors file, or from a ``.pt``/``.pth`` with the restricted unpickler."""
    if weights_path.suffix.lower() in _TORCH_SUFFIXES:
        try:
            state = torch.load(weights_path, map_location="cpu", weights_only=True)
        except Exception as exc:  # UnpicklingError for code, RuntimeError/EOFError for damage
            raise ValueError(
                f"weights: refusing {weights_path}: expected a plain state dict that "
                "torch.load(weights_only=True) can read (tensors and containers only); it was refused "
                f"(a pickle that would run code, or a truncated or corrupt file): {type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}"
            ) from exc
        if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
        ):
            raise ValueError(
                f"weights: expected {weights_path} to hold a state dict {{name: tensor}}, got {type(state).__name__}"
            )
        return state
    try:
        from safetensors.torch import load_file
    except ImportError as exc:  # pragma: no cover - safetensors is a core dependency
        raise ImportError("the GAN backend reads weights with safetensors: pip install safetensors") from exc
    try:
        return load_file(str(weights_path), device="cpu")
    except Exception as exc:  # SafetensorError, OSError, ...: always name the file
        raise ValueError(
            f"weights: could not read {weights_path} as safetensors (truncated, corrupt, or not a "
            f"safetensors file): {type(exc).__name__}: {exc}"
        ) from exc


def save_generator(
    generator: BackgroundGenerator,
    run_dir: str | os.PathLike[str],
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write ``generator.safetensors`` and ``generator.json`` into ``run_dir`` atomically.

    Args:
        generator: The generator (its float32 weights are written).
        run_dir: The folder (created if missing).
        metadata: Extra JSON-ready training metadata stored under ``"training"``.

    Returns:
        The weights file's path.

    Example:
        >>> import tempfile
        >>> g = BackgroundGenerator(GeneratorConfig(channels=(8, 8, 8, 8), style_dim=4, noise_channels=2))
        >>> p = save_generator(g, tempfile.mkdtemp())
        >>> load_generator(p.parent)[1]["generator"]["style_dim"]
        4
    """
    from safetensors.torch import save_file

    folder = Path(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().float().contiguous().cpu() for k, v in generator.state_dict().items()}
    weights_path = folder / RUN_DIR_WEIGHTS
    tmp = folder / f".{RUN_DIR_WEIGHTS}.tmp"
    save_file(state, str(tmp))
    sha = sha256_file(tmp)
    meta = {
        "format": CONFIG_FORMAT,
        "version": 1,
        "generator": generator.config.to_dict(),
        "sha256": sha,
        "training": dict(metadata or {}),
    }
    tmp_json = folder / f".{RUN_DIR_CONFIG}.tmp"
    tmp_json.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, weights_path)
    os.replace(tmp_json, folder / RUN_DIR_CONFIG)
    return weights_path
