"""Training data for the background GAN: random crops of the user's images, backgrounds only.

With masks, only crops that are (almost) entirely non-causal (mask == 0) are used, so the
generator learns backgrounds and never the objects. Every batch is a pure function of
``(seed, rank, step)``: a resumed run sees exactly the crops an uninterrupted run would have
seen, whatever the number of DataLoader workers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["IMAGE_EXTENSIONS", "BackgroundCrops", "StepBatches"]

#: File extensions read as images (and masks).
IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


class BackgroundCrops:
    """Square crops of background pixels, sampled uniformly over all valid crop positions.

    Args:
        images: ``(H, W, 3)`` uint8 RGB arrays.
        masks: One ``(H, W)`` object mask per image (non-zero = object) or ``None`` for an image
            that is all background; ``None`` for no masks at all.
        size: Crop size in pixels.
        max_object_fraction: Crops whose fraction of object pixels exceeds this are rejected.
        names: A name per image, for errors and metadata.
        source: Where the images came from, for errors and metadata.

    Raises:
        ValueError: Bad arrays, a mask whose size differs from its image, or no usable crop.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> crops = BackgroundCrops.from_arrays([rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)], size=32)
        >>> crops.sample(4, rng).shape
        (4, 32, 32, 3)
    """

    def __init__(
        self,
        images: Sequence[np.ndarray],
        masks: Sequence[np.ndarray | None] | None = None,
        size: int = 64,
        max_object_fraction: float = 0.0,
        names: Sequence[str] | None = None,
        source: str = "arrays",
    ) -> None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ValueError(f"size: expected a positive integer, got {size!r}")
        if not 0 <= float(max_object_fraction) <= 1:
            raise ValueError(f"max_object_fraction: expected a number in [0, 1], got {max_object_fraction!r}")
        images = list(images)
        masks = [None] * len(images) if masks is None else list(masks)
        names = [f"image {i}" for i in range(len(images))] if names is None else list(names)
        if len(masks) != len(images) or len(names) != len(images):
            raise ValueError(
                f"masks: expected one mask (or None) per image, got {len(masks)} masks for {len(images)} images"
            )
        self.size = size
        self.max_object_fraction = float(max_object_fraction)
        self.source = source
        self.images: list[np.ndarray] = []
        self.names: list[str] = []
        self._valid: list[np.ndarray | None] = []  # flat indices of valid top-left corners, None = all
        self._grid_w: list[int] = []
        counts: list[int] = []
        self.skipped: list[str] = []
        limit = int(np.floor(self.max_object_fraction * size * size + 1e-9))
        for image, mask, name in zip(images, masks, names, strict=True):
            if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
                raise ValueError(f"images: expected (H, W, 3) uint8 RGB arrays, got {got} for {name}")
            h, w = image.shape[:2]
            if h < size or w < size:
                self.skipped.append(name)
                continue
            gh, gw = h - size + 1, w - size + 1
            valid = None
            if mask is not None:
                mask = np.asarray(mask)
                if mask.ndim == 3:
                    mask = mask.any(axis=2)
                if mask.shape != (h, w):
                    raise ValueError(f"masks: the mask of {name} has shape {mask.shape}, expected {(h, w)}")
                if mask.any():
                    obj = np.zeros((h + 1, w + 1), np.int64)
                    obj[1:, 1:] = (mask != 0).cumsum(0).cumsum(1)
                    count = obj[size:, size:] - obj[:-size, size:] - obj[size:, :-size] + obj[:-size, :-size]
                    valid = np.flatnonzero(count.reshape(-1) <= limit).astype(np.int64)
                    if valid.size == 0:
                        self.skipped.append(name)
                        continue
            self.images.append(np.ascontiguousarray(image))
            self.names.append(name)
            self._valid.append(valid)
            self._grid_w.append(gw)
            counts.append(gh * gw if valid is None else int(valid.size))
        if not counts:
            raise ValueError(
                f"images: no usable {size}x{size} crop in {source}: every image is smaller than the crop"
                + (
                    f" or every crop has more than {self.max_object_fraction:.0%} object pixels"
                    if any(m is not None for m in masks)
                    else ""
                )
                + f" ({len(images)} images); use smaller --size, larger images or a larger max_object_fraction"
            )
        self._cum = np.cumsum(np.asarray(counts, np.int64))

    @classmethod
    def from_arrays(
        cls,
        images: Sequence[np.ndarray],
        masks: Sequence[np.ndarray | None] | None = None,
        size: int = 64,
        max_object_fraction: float = 0.0,
        names: Sequence[str] | None = None,
    ) -> BackgroundCrops:
        """Crops of in-memory RGB arrays (e.g. ``[b.rgb for b in load_backgrounds()]``).

        Args:
            images: ``(H, W, 3)`` uint8 RGB arrays.
            masks: Object masks (non-zero = object) or ``None`` entries; ``None`` for no masks.
            size: Crop size.
            max_object_fraction: See the class.
            names: Names for errors and metadata.

        Returns:
            The crops.

        Example:
            >>> BackgroundCrops.from_arrays([np.zeros((8, 8, 3), np.uint8)], size=8).num_positions
            1
        """
        return cls(images, masks, size, max_object_fraction, names, source="arrays")

    @classmethod
    def from_dirs(
        cls,
        images_dir: str | os.PathLike[str],
        masks_dir: str | os.PathLike[str] | None = None,
        size: int = 64,
        max_object_fraction: float = 0.0,
        short_side: int | None = None,
    ) -> BackgroundCrops:
        """Read every image under ``images_dir`` (recursively) and the matching masks with OpenCV.

        A mask matches an image with the same relative path and stem, in any image format;
        images without a mask are taken as all background.

        Args:
            images_dir: Folder of images.
            masks_dir: Optional folder of masks (non-zero = object).
            size: Crop size.
            max_object_fraction: See the class.
            short_side: Downscale each image (area) and mask (nearest) so the short side is at most this.

        Returns:
            The crops.

        Raises:
            ValueError: Missing folder, no images, an unreadable file, or no usable crop.

        Example:
            >>> import tempfile, cv2
            >>> d = tempfile.mkdtemp(); _ = cv2.imwrite(f"{d}/a.png", np.zeros((16, 16, 3), np.uint8))
            >>> BackgroundCrops.from_dirs(d, size=8).num_positions
            81
        """
        import cv2

        root = Path(images_dir)
        if not root.is_dir():
            raise ValueError(f"images: {root} is not a folder")
        mask_root = Path(masks_dir) if masks_dir is not None else None
        if mask_root is not None and not mask_root.is_dir():
            raise ValueError(f"masks: {mask_root} is not a folder")
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise ValueError(f"images: no image files ({', '.join(IMAGE_EXTENSIONS)}) in {root}")
        mask_files: dict[str, Path] = {}
        if mask_root is not None:
            for p in sorted(mask_root.rglob("*")):
                if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS:
                    mask_files.setdefault(str(p.relative_to(mask_root).with_suffix("")), p)
        images, masks, names = [], [], []
        for path in files:
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                raise ValueError(f"images: cannot read {path} as an image")
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            key = str(path.relative_to(root).with_suffix(""))
            mask = None
            if key in mask_files:
                mask = cv2.imread(str(mask_files[key]), cv2.IMREAD_UNCHANGED)
                if mask is None:
                    raise ValueError(f"masks: cannot read {mask_files[key]} as an image")
                mask = (mask.any(axis=2) if mask.ndim == 3 else mask != 0).astype(np.uint8)
                if mask.shape != rgb.shape[:2]:
                    raise ValueError(
                        f"masks: {mask_files[key]} is {mask.shape[1]}x{mask.shape[0]}, but its image {path} is "
                        f"{rgb.shape[1]}x{rgb.shape[0]}"
                    )
            if short_side is not None and min(rgb.shape[:2]) > short_side:
                scale = short_side / min(rgb.shape[:2])
                new = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
                rgb = cv2.resize(rgb, new, interpolation=cv2.INTER_AREA)
                if mask is not None:
                    mask = cv2.resize(mask, new, interpolation=cv2.INTER_NEAREST)
            images.append(rgb)
            masks.append(mask)
            names.append(str(path))
        source = str(root) if mask_root is None else f"{root} (masks {mask_root})"
        return cls(images, masks if mask_root is not None else None, size, max_object_fraction, names, source)

    @property
    def num_positions(self) -> int:
        """Number of distinct valid crops (top-left corners over all images)."""
        return int(self._cum[-1])

    def sample(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``batch_size`` crops uniformly over all valid crops.

        Args:
            batch_size: Number of crops.
            rng: The random generator.

        Returns:
            ``(batch_size, size, size, 3)`` uint8 RGB.

        Example:
            >>> crops = BackgroundCrops.from_arrays([np.zeros((9, 9, 3), np.uint8)], size=8)
            >>> crops.sample(2, np.random.default_rng(0)).shape
            (2, 8, 8, 3)
        """
        picks = rng.integers(0, self.num_positions, size=batch_size)
        which = np.searchsorted(self._cum, picks, side="right")
        out = np.empty((batch_size, self.size, self.size, 3), np.uint8)
        s = self.size
        for i, (k, pick) in enumerate(zip(which.tolist(), picks.tolist(), strict=True)):
            local = pick - (int(self._cum[k - 1]) if k else 0)
            valid = self._valid[k]
            flat = local if valid is None else int(valid[local])
            y, x = divmod(flat, self._grid_w[k])
            out[i] = self.images[k][y : y + s, x : x + s]
        return out

    def describe(self) -> dict[str, Any]:
        """JSON-ready metadata: source, image count, crop size, valid crop positions.

        Example:
            >>> BackgroundCrops.from_arrays([np.zeros((8, 8, 3), np.uint8)], size=8).describe()["images"]
            1
        """
        return {
            "source": self.source,
            "images": len(self.images),
            "skipped_images": len(self.skipped),
            "crop_size": self.size,
            "max_object_fraction": self.max_object_fraction,
            "crop_positions": self.num_positions,
        }


class StepBatches(torch.utils.data.Dataset):
    """Map-style dataset whose item ``i`` is the batch of training step ``start + i``.

    The batch is drawn from ``np.random.default_rng([seed, rank, step])``, so it depends only on
    the seed, the process rank and the step (exact resume, any number of workers).

    Args:
        crops: The crop source.
        batch_size: Crops per batch.
        seed: The run's seed.
        rank: This process's rank (ranks draw different crops).
        start: First step.
        stop: One past the last step.

    Example:
        >>> crops = BackgroundCrops.from_arrays([np.zeros((9, 9, 3), np.uint8)], size=8)
        >>> StepBatches(crops, 2, seed=0, rank=0, start=3, stop=5)[0].shape
        torch.Size([2, 3, 8, 8])
    """

    def __init__(self, crops: BackgroundCrops, batch_size: int, seed: int, rank: int, start: int, stop: int) -> None:
        self.crops = crops
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.start = start
        self.stop = stop

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def __getitem__(self, index: int) -> torch.Tensor:
        if not 0 <= index < len(self):
            raise IndexError(index)
        rng = np.random.default_rng([self.seed, self.rank, self.start + index])
        batch = self.crops.sample(self.batch_size, rng)
        return torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous()
