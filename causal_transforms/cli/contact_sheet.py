"""A contact sheet: one row per source image (original | mask | variants), with text labels."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

__all__ = ["contact_sheet_size", "make_contact_sheet"]

PAD = 6
HEADER_H = 26
TITLE_H = 22
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_BG = (250, 250, 250)
_CELL_BG = (128, 128, 128)
_TEXT = (20, 20, 20)


def contact_sheet_size(n_rows: int, n_cols: int, cell: int) -> tuple[int, int]:
    """Return the ``(height, width)`` in pixels of a sheet from :func:`make_contact_sheet`.

    Args:
        n_rows: Number of source images.
        n_cols: Cells per row (original, mask and the variants).
        cell: Side of each square cell.

    Returns:
        ``(height, width)``.

    Example:
        >>> contact_sheet_size(2, 4, 64)
        (210, 286)
    """
    width = PAD + n_cols * (cell + PAD)
    height = HEADER_H + n_rows * (TITLE_H + cell + PAD)
    return height, width


def _fit_text(text: str, max_width: int, scale: float) -> str:
    if cv2.getTextSize(text, _FONT, scale, 1)[0][0] <= max_width:
        return text
    while text and cv2.getTextSize(text + "...", _FONT, scale, 1)[0][0] > max_width:
        text = text[:-1]
    return text + "..."


def _put(canvas: np.ndarray, text: str, x: int, baseline: int, max_width: int, scale: float = 0.5) -> None:
    text = _fit_text(text.encode("ascii", "replace").decode(), max_width, scale)
    cv2.putText(canvas, text, (x, baseline), _FONT, scale, _TEXT, 1, cv2.LINE_AA)


def _as_rgb(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8:
        raise ValueError(f"rows: expected uint8 images, got dtype {image.dtype}")
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    if image.ndim == 3 and image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return image[..., :3]
    raise ValueError(f"rows: expected (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) images, got {image.shape}")


def _letterbox(image: np.ndarray, cell: int) -> np.ndarray:
    rgb = _as_rgb(image)
    h, w = rgb.shape[:2]
    scale = cell / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_NEAREST
    resized = cv2.resize(np.ascontiguousarray(rgb), (nw, nh), interpolation=interp).reshape(nh, nw, 3)
    out = np.empty((cell, cell, 3), np.uint8)
    out[:] = _CELL_BG
    top, left = (cell - nh) // 2, (cell - nw) // 2
    out[top : top + nh, left : left + nw] = resized
    return out


def make_contact_sheet(
    rows: Sequence[tuple[str, Sequence[np.ndarray]]],
    column_labels: Sequence[str],
    cell: int = 256,
) -> np.ndarray:
    """Lay images out in a labelled grid, one row per source image.

    Each image is scaled to fit a square cell (upscaled with nearest neighbour, so pixels stay
    visible; downscaled with area averaging) on a grey letterbox. A header names the columns;
    a title line above each row names the source.

    Args:
        rows: ``(title, images)`` per row; every row has ``len(column_labels)`` uint8 images,
            ``(H, W)`` masks or ``(H, W, 3)`` RGB.
        column_labels: One label per column, e.g. ``["original", "mask", "variant 1"]``.
        cell: Side of each square cell in pixels (at least 16).

    Returns:
        An RGB uint8 image of shape ``(*contact_sheet_size(len(rows), len(column_labels), cell), 3)``.

    Raises:
        ValueError: A row with the wrong number of images, a bad image, or a bad ``cell``.

    Example:
        >>> img = np.zeros((8, 8, 3), np.uint8); mask = np.zeros((8, 8), np.uint8)
        >>> make_contact_sheet([("a", [img, mask])], ["original", "mask"], cell=32).shape
        (86, 82, 3)
    """
    if isinstance(cell, bool) or not isinstance(cell, int) or cell < 16:
        raise ValueError(f"cell: expected an integer >= 16, got {cell!r}")
    n_cols = len(column_labels)
    if n_cols < 1:
        raise ValueError("column_labels: expected at least one column")
    height, width = contact_sheet_size(len(rows), n_cols, cell)
    sheet = np.empty((height, width, 3), np.uint8)
    sheet[:] = _BG
    for j, label in enumerate(column_labels):
        _put(sheet, label, PAD + j * (cell + PAD) + 2, HEADER_H - 8, cell - 4, scale=0.55)
    for i, (title, images) in enumerate(rows):
        if len(images) != n_cols:
            raise ValueError(f"rows: row {i} ({title!r}) has {len(images)} images, expected {n_cols}")
        top = HEADER_H + i * (TITLE_H + cell + PAD)
        _put(sheet, title, PAD, top + TITLE_H - 6, width - 2 * PAD)
        for j, image in enumerate(images):
            left = PAD + j * (cell + PAD)
            sheet[top + TITLE_H : top + TITLE_H + cell, left : left + cell] = _letterbox(image, cell)
    return sheet
