"""The real Waterbirds dataset in the WILDS layout, for users who have it on disk.

The layout is a folder of images plus ``metadata.csv`` with the columns ``img_filename``
(relative path), ``y`` (1 = water bird), ``place`` (1 = water background) and ``split``
(0 train, 1 validation, 2 test). Masks (non-zero = bird) may come from a separate folder that
mirrors the image paths, e.g. the CUB segmentations. Nothing is downloaded.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from causal_transforms.data.tuxbirds_benchmark import GroupSet

__all__ = ["SPLIT_CODES", "load_waterbirds"]

SPLIT_CODES: dict[str, int] = {"train": 0, "val": 1, "test": 2}
_COLUMNS = ("img_filename", "y", "place", "split")


def _read(path: Path, flags: int, size: int | None, interpolation: int) -> np.ndarray:
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, flags) if data.size else None
    if image is None:
        raise ValueError(f"root: could not read {path}")
    if size is not None:
        image = cv2.resize(image, (size, size), interpolation=interpolation)
    return image


def load_waterbirds(
    root: str | os.PathLike[str],
    split: Literal["train", "val", "test"] = "train",
    *,
    masks: str | os.PathLike[str] | None = None,
    size: int | None = 64,
) -> GroupSet:
    """Load one split of a Waterbirds folder in the WILDS layout.

    Args:
        root: The folder holding ``metadata.csv`` and the images.
        split: ``"train"``, ``"val"`` or ``"test"``.
        masks: Optional folder of masks mirroring the image paths (any image format with the
            same stem; non-zero = bird). Without it the masks are all zero.
        size: Resize every image (and mask) to ``size x size``; ``None`` keeps the size (all
            images must then share one).

    Returns:
        A :class:`~causal_transforms.data.tuxbirds_benchmark.GroupSet`.

    Raises:
        ValueError: A missing ``metadata.csv`` or column, an unknown split, an unreadable image,
            or a missing mask (named).

    Example:
        >>> load_waterbirds("/no/such/folder")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        ValueError: root: ...
    """
    if split not in SPLIT_CODES:
        raise ValueError(f"split: expected one of {list(SPLIT_CODES)}, got {split!r}")
    root = Path(root)
    meta = root / "metadata.csv"
    if not meta.is_file():
        raise ValueError(f"root: expected {meta} (the WILDS Waterbirds layout), but it does not exist")
    with meta.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in _COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"root: {meta} lacks the columns {missing}; found {reader.fieldnames}")
        rows = [r for r in reader if int(r["split"]) == SPLIT_CODES[split]]
    images, mask_list = [], []
    for row in rows:
        rel = Path(row["img_filename"])
        bgr = _read(root / rel, cv2.IMREAD_COLOR, size, cv2.INTER_AREA)
        images.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        if masks is None:
            mask_list.append(np.zeros(bgr.shape[:2], np.uint8))
            continue
        candidates = sorted((Path(masks) / rel.parent).glob(rel.stem + ".*"))
        if not candidates:
            raise ValueError(f"masks: no mask for {rel} under {masks}")
        mask = _read(candidates[0], cv2.IMREAD_GRAYSCALE, size, cv2.INTER_NEAREST)
        mask_list.append((mask > 0).astype(np.uint8))
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise ValueError(f"size: images have different shapes {sorted(shapes)}; pass size=N to resize them")
    empty = (0, size or 0, size or 0)
    return GroupSet(
        np.stack(images) if images else np.empty((*empty, 3), np.uint8),
        np.stack(mask_list) if mask_list else np.empty(empty, np.uint8),
        np.array([int(r["y"]) for r in rows], np.int64),
        np.array([int(r["place"]) for r in rows], np.int64),
        tuple(Path(r["img_filename"]).parent.name for r in rows),
        tuple(r["img_filename"] for r in rows),
    )
