"""Helpers shared by the sub-commands: user errors and atomic file writes."""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

__all__ = ["CLIError", "DefaultsHelpFormatter", "atomic_write_bytes", "encode_png", "write_if_changed"]


class CLIError(Exception):
    """A mistake in the command line or the user's files; printed without a traceback."""


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    A reader sees the old file or the new one, never a partial file.

    Args:
        path: The destination; its folder must exist.
        data: The bytes to write.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
        >>> atomic_write_bytes(p, b"hi"); p.read_bytes()
        b'hi'
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_if_changed(path: str | os.PathLike[str], data: bytes) -> bool:
    """Atomically write ``data`` unless ``path`` already holds exactly these bytes.

    Args:
        path: The destination.
        data: The bytes to write.

    Returns:
        ``True`` when the file was written.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
        >>> write_if_changed(p, b"x"), write_if_changed(p, b"x")
        (True, False)
    """
    path = Path(path)
    try:
        if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except OSError:
        pass
    atomic_write_bytes(path, data)
    return True


def encode_png(image: np.ndarray) -> bytes:
    r"""Encode an RGB ``(H, W, 3)``, RGBA ``(H, W, 4)`` or single-channel array as PNG bytes.

    Args:
        image: ``uint8`` or ``uint16`` array in RGB(A) channel order.

    Returns:
        The PNG file's bytes.

    Example:
        >>> encode_png(np.zeros((2, 2, 3), np.uint8))[:4]
        b'\x89PNG'
    """
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA)
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(image))
    if not ok:  # pragma: no cover - cv2 encodes every uint8/uint16 array
        raise RuntimeError(f"could not encode an array of shape {image.shape} and dtype {image.dtype} as PNG")
    return buf.tobytes()


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Help that shows an option's default unless it says nothing or the help already names it.

    Defaults of ``None`` and ``False`` (flags) are left out, as is a default the help text
    already describes.

    Example:
        >>> parser = argparse.ArgumentParser(formatter_class=DefaultsHelpFormatter)
        >>> _ = parser.add_argument("--k", default=4, help="variants")
        >>> _ = parser.add_argument("--out", help="folder")
        >>> text = parser.format_help()
        >>> "variants (default: 4)" in text, "default: None" in text
        (True, False)

    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "default" in text
            or action.default is None
            or action.default is False
            or action.default == argparse.SUPPRESS
            or not action.option_strings
        ):
            return text
        return f"{text} (default: %(default)s)"
