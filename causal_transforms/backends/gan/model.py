"""A small fully convolutional background generator that produces any size from spatial noise.

Design (each choice answers a problem seen in this project's earlier CPU GAN experiments):

* a per-sample **global style vector**, mapped by a small MLP, modulates the per-channel scale
  and shift of every convolution, so one sample is one coherent scene at any size rather than a
  patchwork of independent textures;
* a **local noise grid** at 1/8 resolution (``ceil(H/8) x ceil(W/8)``) gives the layout; with
  ``fine_noise``, 64 more channels of that grid, unpacked to one full-resolution noise map by
  pixel shuffle, add per-pixel stochastic detail to every upsampling stage (learned per-channel
  strengths, as in StyleGAN's noise inputs);
* three x2 stages of **bilinear upsampling + 3x3 convolutions** (nearest-neighbour upsampling and
  transposed convolutions leave a block / checkerboard pattern);
* **no BatchNorm**: per-sample normalisation (instance norm, i.e. AdaIN with the style's scale and
  shift, or pixel norm) has no running statistics, so an averaged (EMA) copy of the weights needs
  no recomputed statistics, and a sample never depends on its batch-mates;
* replicate padding: zero padding tells the network where the border is, and it learns
  border-locked content (stripes along the edges, the same layout in every sample);
* a sigmoid output in [0, 1], cropped to exactly ``(H, W)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from causal_transforms.core.seeding import per_sample_generators

__all__ = ["DOWNSCALE", "PRECISIONS", "BackgroundGenerator", "GeneratorConfig", "resolve_precision"]

#: Accepted values of the ``precision`` options of the GAN backend and the trainer.
PRECISIONS: tuple[str, ...] = ("auto", "float32", "bfloat16")

#: The local noise grid is this many times smaller than the output (three x2 stages).
DOWNSCALE = 8


@dataclass(frozen=True)
class GeneratorConfig:
    """Architecture of a :class:`BackgroundGenerator`.

    Args:
        channels: Widths of the four stages: the 1/8-resolution stem, then after each of the
            three x2 upsamplings.
        style_dim: Size of the per-sample global style vector.
        noise_channels: Channels of the local noise grid at 1/8 resolution that drive the layout.
        fine_noise: Add 64 channels to the grid that unpack (pixel shuffle) into a full-resolution
            noise map injected into every upsampling stage, for fine texture.
        norm: ``"instance"`` (AdaIN: each channel normalised over the sample's pixels, then the
            style sets its scale and shift) or ``"pixel"`` (each pixel's channel vector normalised).
        mapping_layers: Layers of the MLP that maps the style noise to the style vector.
        out_channels: Output channels (3 for RGB).
        negative_slope: Slope of the leaky ReLUs.

    Example:
        >>> GeneratorConfig(channels=(32, 16, 16, 8), style_dim=16).to_dict()["channels"]
        [32, 16, 16, 8]
    """

    channels: tuple[int, int, int, int] = (256, 128, 64, 32)
    style_dim: int = 64
    noise_channels: int = 16
    fine_noise: bool = True
    norm: str = "instance"
    mapping_layers: int = 2
    out_channels: int = 3
    negative_slope: float = 0.2

    def __post_init__(self) -> None:
        channels = tuple(self.channels) if isinstance(self.channels, (list, tuple)) else self.channels
        if (
            not isinstance(channels, tuple)
            or len(channels) != 4
            or not all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in channels)
        ):
            raise ValueError(f"channels: expected 4 positive integers, got {self.channels!r}")
        object.__setattr__(self, "channels", channels)
        for name in ("style_dim", "noise_channels", "out_channels"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        if not isinstance(self.mapping_layers, int) or isinstance(self.mapping_layers, bool) or self.mapping_layers < 0:
            raise ValueError(f"mapping_layers: expected a non-negative integer, got {self.mapping_layers!r}")
        if self.norm not in ("instance", "pixel"):
            raise ValueError(f"norm: expected 'instance' or 'pixel', got {self.norm!r}")
        if not isinstance(self.fine_noise, bool):
            raise ValueError(f"fine_noise: expected a bool, got {self.fine_noise!r}")
        if not isinstance(self.negative_slope, (int, float)) or not 0 <= self.negative_slope < 1:
            raise ValueError(f"negative_slope: expected a number in [0, 1), got {self.negative_slope!r}")

    @property
    def grid_channels(self) -> int:
        """Channels of the 1/8-resolution noise grid: ``noise_channels`` plus 64 with ``fine_noise``.

        Example:
            >>> GeneratorConfig(noise_channels=16, fine_noise=True).grid_channels
            80
        """
        return self.noise_channels + (DOWNSCALE * DOWNSCALE if self.fine_noise else 0)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (the tuple of channels becomes a list).

        Example:
            >>> GeneratorConfig().to_dict()["style_dim"]
            64
        """
        out = asdict(self)
        out["channels"] = list(self.channels)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GeneratorConfig:
        """Build a config from :meth:`to_dict` output; unknown keys raise.

        Args:
            data: The dict.

        Returns:
            The config.

        Raises:
            ValueError: Unknown keys or invalid values.

        Example:
            >>> GeneratorConfig.from_dict({"style_dim": 8}).style_dim
            8
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"generator config: expected a mapping, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"generator config: unknown keys {unknown}; expected some of {sorted(known)}")
        values = dict(data)
        if "channels" in values and isinstance(values["channels"], list):
            values["channels"] = tuple(values["channels"])
        return cls(**values)


class _PixelNorm(nn.Module):
    """Normalise the channel vector of every pixel to unit RMS (batch- and size-independent)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + 1e-8)


class _ModConv(nn.Module):
    """3x3 conv (+ noise), normalisation, per-channel scale and shift from the style, leaky ReLU."""

    def __init__(
        self, c_in: int, c_out: int, style_dim: int, slope: float, noise: bool = False, norm: str = "instance"
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1, padding_mode="replicate")
        self.norm = None if norm == "instance" else _PixelNorm()
        self.affine = nn.Linear(style_dim, 2 * c_out)  # default init: the style matters from the start
        nn.init.zeros_(self.affine.bias)
        self.noise_strength = nn.Parameter(torch.zeros(c_out)) if noise else None
        self.slope = slope

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        x = self.conv(x)
        if self.noise_strength is not None and noise is not None:
            # In place on the conv's output (autograd does not need it) keeps the memory format.
            x = x.addcmul_(self.noise_strength.view(1, -1, 1, 1).to(x.dtype), noise.to(x.dtype))
        scale, shift = self.affine(w)[:, :, None, None].chunk(2, dim=1)
        if self.norm is not None:
            x = self.norm(x)
        elif x.shape[2] * x.shape[3] == 1:  # one pixel has no variance: it normalises to 0
            x = x * 0
        else:
            # AdaIN: each channel normalised over the sample's own pixels (no running statistics;
            # float32 statistics under autocast), then the style's scale and shift below.
            channels_last = x.is_contiguous(memory_format=torch.channels_last)
            x = F.instance_norm(x, eps=1e-5).to(x.dtype)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
        return F.leaky_relu(x.mul((1.0 + scale).to(x.dtype)).add_(shift.to(x.dtype)), self.slope)


class BackgroundGenerator(nn.Module):
    """Fully convolutional background generator: per-sample style + 1/8-resolution noise -> RGB.

    A sample's output depends only on its seed and the requested size (see :meth:`sample_noise`),
    never on its batch-mates: there is no batch statistic anywhere.

    Args:
        config: The architecture; :class:`GeneratorConfig` defaults (about 1.3 M parameters)
            when ``None``.

    Example:
        >>> g = BackgroundGenerator(GeneratorConfig(channels=(16, 16, 8, 8), style_dim=8, noise_channels=4))
        >>> g.generate(torch.tensor([0, 1]), 37, 53).shape
        torch.Size([2, 3, 37, 53])
    """

    def __init__(self, config: GeneratorConfig | None = None) -> None:
        super().__init__()
        cfg = GeneratorConfig() if config is None else config
        if not isinstance(cfg, GeneratorConfig):
            raise TypeError(f"config: expected a GeneratorConfig, got {type(cfg).__name__}")
        self.config = cfg
        slope = cfg.negative_slope
        layers: list[nn.Module] = [_PixelNorm()]
        for _ in range(cfg.mapping_layers):
            layers += [nn.Linear(cfg.style_dim, cfg.style_dim), nn.LeakyReLU(slope)]
        self.mapping = nn.Sequential(*layers)
        c0, c1, c2, c3 = cfg.channels
        self.stem = nn.Conv2d(cfg.noise_channels, c0, 3, padding=1, padding_mode="replicate")
        self.stem_bias = nn.Linear(cfg.style_dim, c0)
        self.stem_block = _ModConv(c0, c0, cfg.style_dim, slope, norm=cfg.norm)
        self.stages = nn.ModuleList()
        for c_in, c_out in ((c0, c1), (c1, c2), (c2, c3)):
            self.stages.append(
                nn.ModuleList(
                    [
                        _ModConv(c_in, c_out, cfg.style_dim, slope, cfg.fine_noise, cfg.norm),
                        _ModConv(c_out, c_out, cfg.style_dim, slope, cfg.fine_noise, cfg.norm),
                    ]
                )
            )
        self.to_rgb = nn.Conv2d(c3, cfg.out_channels, 3, padding=1, padding_mode="replicate")
        self.slope = slope

    @staticmethod
    def noise_size(height: int, width: int) -> tuple[int, int]:
        """The local noise grid's size for an output of ``height x width``.

        Example:
            >>> BackgroundGenerator.noise_size(37, 53)
            (5, 7)
        """
        return math.ceil(height / DOWNSCALE), math.ceil(width / DOWNSCALE)

    def sample_noise(
        self,
        seeds: torch.Tensor | Sequence[int],
        height: int,
        width: int,
        device: torch.device | str | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw each sample's noise from its own generator seeded with its seed.

        The style vector is drawn first, then the local grid, so a seed gives the same scene
        style at every size and the same noise whatever else is in the batch.

        Args:
            seeds: ``(B,)`` integer seeds.
            height: Output height in pixels.
            width: Output width in pixels.
            device: Where to draw (the CPU by default).

        Returns:
            ``(style_z, local_z)`` of shapes ``(B, style_dim)`` and
            ``(B, grid_channels, ceil(H/8), ceil(W/8))``, float32.

        Example:
            >>> cfg = GeneratorConfig(channels=(8, 8, 8, 8), style_dim=4, noise_channels=2, fine_noise=False)
            >>> [tuple(t.shape) for t in BackgroundGenerator(cfg).sample_noise(torch.tensor([3]), 9, 16)]
            [(1, 4), (1, 2, 2, 2)]
        """
        _check_size(height, width)
        device = torch.device("cpu") if device is None else torch.device(device)
        h8, w8 = self.noise_size(height, width)
        styles, grids = [], []
        for gen in per_sample_generators(seeds, device):
            styles.append(torch.randn(self.config.style_dim, generator=gen, device=device))
            grids.append(torch.randn(self.config.grid_channels, h8, w8, generator=gen, device=device))
        if not styles:
            empty = torch.empty(0, device=device)
            return empty.reshape(0, self.config.style_dim), empty.reshape(0, self.config.grid_channels, h8, w8)
        return torch.stack(styles), torch.stack(grids)

    def forward(self, style_z: torch.Tensor, local_z: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """Generate ``(B, out_channels, height, width)`` in [0, 1].

        Args:
            style_z: ``(B, style_dim)`` global style noise.
            local_z: ``(B, grid_channels, h, w)`` local noise with ``8h >= height`` and
                ``8w >= width``.
            height: Output height.
            width: Output width.

        Returns:
            The generated images, cropped to exactly ``(height, width)``.

        Raises:
            ValueError: Noise shapes that do not fit the config or the size.

        Example:
            >>> g = BackgroundGenerator(GeneratorConfig(channels=(8, 8, 8, 8), style_dim=4, noise_channels=2))
            >>> g(torch.zeros(1, 4), torch.zeros(1, 2 + 64, 1, 1), 5, 7).shape
            torch.Size([1, 3, 5, 7])
        """
        _check_size(height, width)
        cfg = self.config
        if style_z.ndim != 2 or style_z.shape[1] != cfg.style_dim:
            raise ValueError(f"style_z: expected shape (B, {cfg.style_dim}), got {tuple(style_z.shape)}")
        if local_z.ndim != 4 or local_z.shape[0] != style_z.shape[0] or local_z.shape[1] != cfg.grid_channels:
            raise ValueError(
                f"local_z: expected shape ({style_z.shape[0]}, {cfg.grid_channels}, h, w), got {tuple(local_z.shape)}"
            )
        if local_z.shape[2] * DOWNSCALE < height or local_z.shape[3] * DOWNSCALE < width:
            raise ValueError(
                f"local_z: a grid of {tuple(local_z.shape[2:])} cannot cover {height}x{width}; "
                f"expected at least {self.noise_size(height, width)}"
            )
        w = self.mapping(style_z)
        coarse = local_z[:, : cfg.noise_channels]
        fine = F.pixel_shuffle(local_z[:, cfg.noise_channels :], DOWNSCALE) if cfg.fine_noise else None
        x = self.stem(coarse) + self.stem_bias(w)[:, :, None, None]
        x = self.stem_block(F.leaky_relu(x, self.slope), w)
        for i, (first, second) in enumerate(self.stages):
            x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
            noise = None
            if fine is not None:
                pool = 2 ** (len(self.stages) - 1 - i)  # 4, 2, 1: unit-variance noise at this stage's size
                noise = F.avg_pool2d(fine, pool) * pool if pool > 1 else fine
            x = second(first(x, w, noise), w, noise)
        out = torch.sigmoid(self.to_rgb(x))
        return out[:, :, :height, :width]

    @torch.no_grad()
    def generate(
        self, seeds: torch.Tensor | Sequence[int], height: int, width: int, device: torch.device | str | None = None
    ) -> torch.Tensor:
        """Sample noise from ``seeds`` and generate (no autocast, float32).

        Args:
            seeds: ``(B,)`` integer seeds.
            height: Output height.
            width: Output width.
            device: Where to run; the device of the weights when ``None``.

        Returns:
            ``(B, out_channels, height, width)`` in [0, 1].

        Example:
            >>> g = BackgroundGenerator(GeneratorConfig(channels=(8, 8, 8, 8), style_dim=4, noise_channels=2))
            >>> bool(torch.equal(g.generate([5], 8, 8), g.generate([5], 8, 8)))
            True
        """
        if device is None:
            device = next(self.parameters()).device
        style_z, local_z = self.sample_noise(seeds, height, width, device)
        return self(style_z, local_z, height, width)


def _cpu_bf16_supported() -> bool:
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - builds without oneDNN
        return False


def resolve_precision(precision: str, device: torch.device | str) -> tuple[torch.dtype | None, bool]:
    """Choose the autocast dtype and memory format for running on ``device``.

    ``"auto"`` uses bfloat16 autocast where the hardware supports it (oneDNN bf16 on the CPU,
    ``torch.cuda.is_bf16_supported()`` on CUDA) and float32 elsewhere; channels-last is used on
    the CPU (it is faster there in both precisions) and with bfloat16 on CUDA.

    Args:
        precision: ``"auto"``, ``"float32"`` or ``"bfloat16"``.
        device: Where the model runs.

    Returns:
        ``(autocast_dtype or None for plain float32, use_channels_last)``.

    Raises:
        ValueError: Unknown precision.

    Example:
        >>> resolve_precision("float32", "cpu")
        (None, True)
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision: expected one of {list(PRECISIONS)}, got {precision!r}")
    device = torch.device(device)
    if precision == "float32":
        dtype = None
    elif precision == "bfloat16":
        dtype = torch.bfloat16
    elif device.type == "cpu":
        dtype = torch.bfloat16 if _cpu_bf16_supported() else None
    elif device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    else:
        dtype = None
    channels_last = device.type == "cpu" or (device.type == "cuda" and dtype is not None)
    return dtype, channels_last


def _check_size(height: object, width: object) -> None:
    for name, value in (("height", height), ("width", width)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name}: expected a positive integer, got {value!r}")
