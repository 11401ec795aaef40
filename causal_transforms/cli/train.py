"""``causal-transforms train``: train a background GAN on your own images (also ``torchrun``-able).

The same flags work as ``python -m causal_transforms.train ...`` and, for several processes,
``torchrun --nproc_per_node=N -m causal_transforms.train ...``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from causal_transforms.train.config import TrainConfig

__all__ = ["add_arguments", "add_parser", "config_from_args", "run"]

# Flag destination -> TrainConfig field, for the flags that override the config.
_OVERRIDES = {
    "images": "images",
    "masks": "masks",
    "out": "out",
    "steps": "steps",
    "batch_size": "batch_size",
    "size": "size",
    "seed": "seed",
    "precision": "precision",
    "sample_every": "sample_every",
    "checkpoint_every": "checkpoint_every",
    "num_workers": "num_workers",
    "max_object_fraction": "max_object_fraction",
    "short_side": "short_side",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the trainer's flags to ``parser`` (every default is ``None``: unset flags do not override).

    Args:
        parser: The parser to extend.

    Example:
        >>> p = argparse.ArgumentParser(); add_arguments(p)
        >>> p.parse_args(["--out", "run", "--steps", "5"]).steps
        5

    """
    parser.add_argument("--images", metavar="DIR", help="folder of training images (searched recursively)")
    parser.add_argument(
        "--masks",
        metavar="DIR",
        help="folder of object masks matched by file name (non-zero = object); only background crops are used",
    )
    parser.add_argument("--out", metavar="RUN_DIR", required=True, help="the run directory")
    parser.add_argument("--config", metavar="FILE", help="JSON or YAML file of settings (flags override it)")
    parser.add_argument("--steps", type=int, metavar="N", help="total training steps (default 10000)")
    parser.add_argument("--batch-size", type=int, metavar="N", help="crops per step and process (default 32)")
    parser.add_argument("--size", type=int, metavar="N", help="crop size, a multiple of 8 (default 64)")
    parser.add_argument(
        "--resume",
        action="store_true",
        default=None,
        help="continue from the latest complete checkpoint in RUN_DIR (its config.json is the base)",
    )
    parser.add_argument("--seed", type=int, metavar="N", help="random seed (default 0)")
    parser.add_argument(
        "--precision",
        choices=["auto", "float32", "bfloat16"],
        help="autocast precision (default auto: bfloat16 where the hardware supports it)",
    )
    parser.add_argument("--sample-every", type=int, metavar="N", help="write a sample grid every N steps")
    parser.add_argument("--checkpoint-every", type=int, metavar="N", help="write a checkpoint every N steps")
    parser.add_argument("--num-workers", type=int, metavar="N", help="DataLoader workers cutting crops (default 0)")
    parser.add_argument(
        "--max-object-fraction",
        type=float,
        metavar="F",
        help="with masks, reject crops with more object pixels than this fraction (default 0)",
    )
    parser.add_argument(
        "--short-side", type=int, metavar="N", help="downscale images so their short side is at most N first"
    )
    parser.add_argument("--no-progress", dest="progress", action="store_false", default=None, help="no progress bar")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Resolve the run's :class:`~causal_transforms.train.config.TrainConfig` from parsed flags.

    Precedence, lowest first: defaults, ``RUN_DIR/config.json`` when resuming, ``--config``,
    then the flags given.

    Args:
        args: Parsed flags (from :func:`add_arguments`).

    Returns:
        The resolved config.

    Raises:
        ValueError: Invalid settings (named) or an unreadable config file.

    Example:
        >>> p = argparse.ArgumentParser(); add_arguments(p)
        >>> config_from_args(p.parse_args(["--out", "run", "--size", "32"])).size
        32

    """
    from causal_transforms.train.config import CONFIG_NAME, TrainConfig

    config = TrainConfig()
    saved = Path(args.out) / CONFIG_NAME
    if args.resume and saved.is_file():
        config = TrainConfig.from_file(saved, config)
    if args.config is not None:
        config = TrainConfig.from_file(args.config, config)
    overrides = {field: getattr(args, dest) for dest, field in _OVERRIDES.items() if getattr(args, dest) is not None}
    if args.progress is not None:
        overrides["progress"] = args.progress
    overrides["resume"] = bool(args.resume)
    return TrainConfig.from_dict(overrides, config)


def run(args: argparse.Namespace) -> int:
    """Train and print the run directory.

    Args:
        args: The parsed command line.

    Returns:
        The exit code, 0.

    Example:
        >>> import tempfile, cv2, numpy as np
        >>> d = tempfile.mkdtemp(); _ = cv2.imwrite(f"{d}/a.png", np.full((24, 24, 3), 90, np.uint8))
        >>> cfg = f"{d}/tiny.json"
        >>> _ = open(cfg, "w").write('{"generator": {"channels": [8, 8, 8, 8], "style_dim": 4}, "d_channels": 4}')
        >>> p = argparse.ArgumentParser(); add_arguments(p)
        >>> run(p.parse_args(["--images", d, "--out", f"{d}/run", "--config", cfg, "--steps", "1",
        ...                   "--size", "16", "--batch-size", "2", "--no-progress"]))  # doctest: +ELLIPSIS
        trained generator: .../run/generator.safetensors
        use it with create_resampler("gan", weights=".../run")
        0

    """
    from causal_transforms.train.loop import train

    run_dir = train(config_from_args(args))
    if int(os.environ.get("RANK", "0") or 0) == 0:
        print(f"trained generator: {run_dir / 'generator.safetensors'}")
        print(f'use it with create_resampler("gan", weights="{run_dir}")')
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``train`` sub-command.

    Args:
        subparsers: The top-level sub-parser collection.

    Returns:
        The new parser.

    Example:
        >>> sub = argparse.ArgumentParser().add_subparsers()
        >>> add_parser(sub).get_default("func") is run
        True

    """
    parser = subparsers.add_parser(
        "train",
        help="train a background GAN on your own images",
        description=(
            "Train the fully convolutional background generator on random crops of your images (with "
            "--masks, only crops without object pixels), with progress, sample grids, checkpoints and "
            "--resume. Several processes: torchrun --nproc_per_node=N -m causal_transforms.train ... "
            'The run directory loads with create_resampler("gan", weights=RUN_DIR).'
        ),
    )
    add_arguments(parser)
    parser.set_defaults(func=run)
    return parser
