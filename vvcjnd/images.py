"""Reading and writing the project's canonical images (8-bit RGB PNG, uint8 0..255)."""

from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image

from vvcjnd.errors import VvcjndError
from vvcjnd.io import write_bytes


def read_png(path: str | os.PathLike) -> np.ndarray:
    """Read a PNG written by :func:`write_png`: uint8, (H, W, 3) for RGB or (H, W) for gray."""
    try:
        with Image.open(path) as image:
            image.load()
            return np.asarray(image)
    except (OSError, ValueError) as exc:
        raise VvcjndError(f"cannot read image {path}: {exc}") from exc


def png_bytes(pixels: np.ndarray) -> bytes:
    """Encode uint8 pixels, (H, W) or (H, W, 3), as a PNG with no metadata (byte-stable)."""
    if pixels.dtype != np.uint8:
        raise VvcjndError(f"PNG pixels must be uint8 0..255, got {pixels.dtype}")
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=3)  # fast, ~2% larger
    return buffer.getvalue()


def write_png(path: str | os.PathLike, pixels: np.ndarray) -> None:
    """Write uint8 pixels, (H, W) or (H, W, 3), to ``path`` as a PNG, atomically."""
    write_bytes(path, png_bytes(pixels))
