"""Reading and writing the project's canonical images (8-bit RGB PNG, uint8 0..255)."""

from __future__ import annotations

import os
import struct
import zlib

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
    """Encode uint8 pixels, (H, W) or (H, W, 3), as an 8-bit PNG with no metadata (byte-stable).

    Every row uses PNG filter 2 ("Up": the difference from the row above) and the image data
    is deflated at zlib level 1 with the run-length strategy. On photographs this is about
    twice as fast as Pillow's adaptive per-row filtering at level 3 for files 0-9 % larger;
    each ladder point writes one PNG while encoders run beside it.
    """
    if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3) or pixels.shape[2:] not in ((), (3,)):
        raise VvcjndError(f"PNG pixels must be uint8 (H, W) or (H, W, 3), got {pixels.dtype} "
                          f"{pixels.shape}")  # fmt: skip
    height, width = pixels.shape[:2]
    rows = pixels.reshape(height, -1)
    filtered = np.empty((height, rows.shape[1] + 1), np.uint8)
    filtered[:, 0] = _PNG_FILTER_UP
    filtered[0, 1:] = rows[0]  # the row above the first one counts as zeros
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])  # modulo 256, as PNG wants
    deflate = zlib.compressobj(1, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    idat = deflate.compress(filtered.tobytes()) + deflate.flush()
    colour_type = 2 if pixels.ndim == 3 else 0  # truecolour or greyscale
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"".join(
        [_PNG_SIGNATURE, _png_chunk(b"IHDR", header), _png_chunk(b"IDAT", idat),
         _png_chunk(b"IEND", b"")]
    )  # fmt: skip


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_FILTER_UP = 2


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk: length, type, body, CRC-32 of type and body."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def write_png(path: str | os.PathLike, pixels: np.ndarray) -> None:
    """Write uint8 pixels, (H, W) or (H, W, 3), to ``path`` as a PNG, atomically."""
    write_bytes(path, png_bytes(pixels))
