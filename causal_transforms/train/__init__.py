"""Train a background GAN on your own images: ``causal-transforms train`` or :func:`train`.

The run directory it writes is what ``create_resampler("gan", weights=run_dir)`` loads. Nothing
heavy is imported until first use (no ``torch.distributed``, no OpenCV at import).

Example:
    >>> from causal_transforms.train import TrainConfig
    >>> TrainConfig(images="photos", out="runs/bg").size
    64
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from causal_transforms._lazy import lazy_attributes

__all__ = ["BackgroundCrops", "TrainConfig", "latest_checkpoint", "train"]

_LAZY = {
    "TrainConfig": "causal_transforms.train.config",
    "BackgroundCrops": "causal_transforms.train.data",
    "latest_checkpoint": "causal_transforms.train.loop",
    "train": "causal_transforms.train.loop",
}

if TYPE_CHECKING:  # pragma: no cover
    from causal_transforms.train.config import TrainConfig
    from causal_transforms.train.data import BackgroundCrops
    from causal_transforms.train.loop import latest_checkpoint, train


__getattr__, __dir__ = lazy_attributes(__name__, globals(), _LAZY)
