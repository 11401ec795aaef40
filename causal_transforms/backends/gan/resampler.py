"""``gan``: new backgrounds drawn by a pretrained fully convolutional generator, from the seed alone."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import cast

import torch

from causal_transforms.backends.base import Resampler
from causal_transforms.backends.gan.model import PRECISIONS, BackgroundGenerator, resolve_precision
from causal_transforms.backends.gan.weights import load_generator
from causal_transforms.core.devices import check_device

__all__ = ["GANResampler"]

_LUMA = (0.299, 0.587, 0.114)


class GANResampler(Resampler):
    """Fill the background with a scene drawn by a :class:`BackgroundGenerator` from the seed.

    The generator is unconditional: by default the new content depends only on the sample's
    seed and the image size, never on the object or the rest of the image (an intervention
    ``do(background := B')``). It runs under ``torch.inference_mode()`` at the image's own size,
    one sample at a time on the CPU (so a sample's content never depends on its batch-mates),
    with bfloat16 autocast and channels-last where the hardware supports it.

    Channels: a 3-channel image gets RGB; a 1- or 2-channel image gets the generated luminance in
    its first channel; channels beyond the generated ones (e.g. alpha) are copied from the image.

    Args:
        weights: A shipped weight name (see :data:`~causal_transforms.backends.gan.weights.PRETRAINED`),
            a run directory written by ``causal-transforms train``, or a ``.safetensors`` file
            with its ``.json`` config next to it. ``None`` picks the first shipped weight set.
        precision: ``"auto"`` (bfloat16 where supported), ``"float32"`` or ``"bfloat16"``.
        match_background_stats: Shift and scale each channel of the generated content to the
            mean and standard deviation of the image's own non-causal pixels. The content then
            depends on the image's background (not on the object), trading some independence
            for colours that fit the dataset.
        compile: Run the generator through :func:`torch.compile` (TorchInductor; on the CPU it
            needs a C++ compiler). Each process compiles on its first call (about 40 s for the
            shipped generator on 2 CPU cores; Inductor's on-disk cache makes later processes
            faster), and a second image size triggers one more compile with dynamic shapes. Pays
            off for long runs at a fixed size: measured here, 1.4-1.7x faster at 256 px
            (``benchmarks/throughput.py``, ``limit`` section). Content differs from the eager
            generator's by bfloat16 rounding, and stays a function of the seed and size alone.

    Raises:
        ValueError: No weights given while none are shipped, unknown or unsafe weights (pickle
            files are refused), a checksum mismatch or a corrupt file, or a bad option.

    Example:
        >>> import tempfile
        >>> from causal_transforms.backends.gan.model import GeneratorConfig
        >>> from causal_transforms.backends.gan.weights import save_generator
        >>> run = tempfile.mkdtemp()
        >>> cfg = GeneratorConfig(channels=(8, 8, 8, 8), style_dim=4, noise_channels=2)
        >>> _ = save_generator(BackgroundGenerator(cfg), run)
        >>> r = GANResampler(weights=run)
        >>> r(torch.rand(2, 3, 12, 9), torch.zeros(2, 1, 12, 9), torch.tensor([0, 1])).shape
        torch.Size([2, 3, 12, 9])
    """

    bounded = True  # generate() clamps to [0, 1]

    conditional = False
    stochastic = True

    def __init__(
        self,
        weights: str | os.PathLike[str] | None = None,
        precision: str = "auto",
        match_background_stats: bool = False,
        compile: bool = False,
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision: expected one of {list(PRECISIONS)}, got {precision!r}")
        if not isinstance(match_background_stats, bool):
            raise ValueError(f"match_background_stats: expected a bool, got {match_background_stats!r}")
        if not isinstance(compile, bool):
            raise ValueError(f"compile: expected a bool, got {compile!r}")
        self.weights = str(weights) if isinstance(weights, Path) else weights
        self.precision = precision
        self.match_background_stats = match_background_stats
        self.compile = compile
        self.generator, self.meta = load_generator(weights)
        self._lock = threading.Lock()
        self._placed: dict[tuple[str, str, bool], BackgroundGenerator] = {}

    def _model_for(self, device: torch.device, dtype: torch.dtype, channels_last: bool) -> BackgroundGenerator:
        """A copy of the generator on ``device`` with ``dtype`` weights, built once and cached.

        Inference runs on a bfloat16 copy of the weights rather than under autocast: autocast
        would re-cast every weight on every call (its cache only covers tensors that require
        gradients). With ``compile`` the copy is wrapped by :func:`torch.compile` (compiled
        lazily, on its first call).
        """
        key = (str(device), str(dtype), channels_last)
        with self._lock:
            model = self._placed.get(key)
            if model is None:
                if device.type == "cpu" and dtype == torch.float32 and not channels_last:
                    model = self.generator
                else:
                    model = BackgroundGenerator(self.generator.config)
                    model.load_state_dict(self.generator.state_dict())
                    model.eval().requires_grad_(False)
                    model = model.to(device, dtype, memory_format=torch.channels_last if channels_last else None)
                if self.compile:
                    # The compiled wrapper hands attributes (sample_noise, config) to the module.
                    model = cast(BackgroundGenerator, torch.compile(model))
                self._placed[key] = model
            return model

    def draw(self, seeds: torch.Tensor, height: int, width: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """Generate ``(B, 3, height, width)`` float32 RGB in [0, 1] from ``seeds`` alone.

        Args:
            seeds: ``(B,)`` int64 seeds.
            height: Output height.
            width: Output width.
            device: Where to run.

        Returns:
            A float32 tensor on ``device`` (a normal tensor, not an inference tensor).

        Example:
            >>> import tempfile
            >>> from causal_transforms.backends.gan.model import GeneratorConfig
            >>> from causal_transforms.backends.gan.weights import save_generator
            >>> run = tempfile.mkdtemp()
            >>> _ = save_generator(BackgroundGenerator(GeneratorConfig((8, 8, 8, 8), 4, 2)), run)
            >>> GANResampler(weights=run).draw(torch.tensor([3]), 5, 6).shape
            torch.Size([1, 3, 5, 6])
        """
        device = check_device(device)
        dtype, channels_last = resolve_precision(self.precision, device)
        dtype = dtype or torch.float32
        model = self._model_for(device, dtype, channels_last)
        given = torch.as_tensor(seeds)
        if given.is_floating_point() or given.is_complex() or given.dtype == torch.bool or given.ndim != 1:
            raise TypeError(
                f"seeds: expected a 1-D integer tensor or list, got {given.dtype} of shape {tuple(given.shape)}"
            )
        seeds = given.to(torch.int64).cpu()
        # On the CPU one sample at a time: oneDNN may pick another kernel for another batch
        # size, and the content of a sample must not depend on its batch-mates (it is not slower).
        step = 1 if device.type == "cpu" else max(1, int(seeds.numel()))
        outs = []
        with torch.inference_mode():
            style_z, local_z = model.sample_noise(seeds, height, width, device)
            style_z, local_z = style_z.to(dtype), local_z.to(dtype)
            for start in range(0, int(seeds.numel()), step):
                z = local_z[start : start + step]
                if channels_last:
                    z = z.contiguous(memory_format=torch.channels_last)
                outs.append(model(style_z[start : start + step], z, height, width).float())
            rgb = torch.cat(outs) if outs else torch.empty(0, 3, height, width, device=device)
        return rgb.contiguous().clone()  # outside inference mode: an ordinary tensor

    def generate(self, image, keep, seeds, donors=None):  # noqa: D102
        _, c, h, w = image.shape
        rgb = self.draw(seeds, h, w, image.device)
        work = torch.float64 if image.dtype == torch.float64 else torch.float32
        rgb = rgb.to(work)
        if c >= 3:
            content = torch.cat([rgb[:, :3], image[:, 3:].to(work)], dim=1) if c > 3 else rgb[:, :3]
        else:
            luma = sum(k * rgb[:, i : i + 1] for i, k in enumerate(_LUMA))
            content = torch.cat([luma, image[:, 1:].to(work)], dim=1) if c > 1 else luma
        if self.match_background_stats:
            content = _match_stats(content, image.to(work), keep.to(work), min(c, 3))
        return content.clamp(0.0, 1.0).to(image.dtype)

    def __repr__(self) -> str:
        opts = [f"weights={self.weights!r}", f"precision={self.precision!r}"]
        if self.match_background_stats:
            opts.append("match_background_stats=True")
        if self.compile:
            opts.append("compile=True")
        return f"GANResampler({', '.join(opts)})"


def _match_stats(content: torch.Tensor, image: torch.Tensor, keep: torch.Tensor, channels: int) -> torch.Tensor:
    """Give the first ``channels`` channels of ``content`` the background's mean and std."""
    weight = (1.0 - keep).clamp_min(0)
    total = weight.sum(dim=(2, 3), keepdim=True).clamp_min(1e-6)

    def stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = (x * weight).sum(dim=(2, 3), keepdim=True) / total
        var = ((x - mean) ** 2 * weight).sum(dim=(2, 3), keepdim=True) / total
        return mean, var.sqrt()

    target_mean, target_std = stats(image[:, :channels])
    own_mean, own_std = stats(content[:, :channels])
    matched = (content[:, :channels] - own_mean) * (target_std / own_std.clamp_min(1e-6)) + target_mean
    return torch.cat([matched, content[:, channels:]], dim=1)
