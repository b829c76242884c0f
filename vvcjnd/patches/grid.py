"""64x64 luma patches: the grid, extraction and the (mean, contrast, structure) decomposition
that the patch stage, inference and evaluation share.

Conventions: luma planes and stored patches are uint8 0..255; positions are (top, left) pixel
coordinates of a patch's upper-left corner, row-major over the grid; the decomposition works in
float64 on the 0..255 scale. The network sees patches in [-1, 1] (:func:`to_unit_range`).
"""

from __future__ import annotations

import logging

import numpy as np

from vvcjnd.errors import VvcjndError

LOG = logging.getLogger(__name__)

# A patch whose contrast c (0..255 units) is at most this is treated as flat by the
# decomposition: its structure is 0 and it reconstructs as its mean. Any non-constant
# patch of integer samples has c >= sqrt(1 - 1/N) ~ 1, far above it.
FLAT_EPSILON = 1e-6


# -- luma and the patch grid -------------------------------------------------------------------


def _grid_axis(length: int, size: int, stride: int, cover_border: bool) -> np.ndarray:
    starts = np.arange(0, length - size + 1, stride)
    if cover_border and starts[-1] + size < length:
        starts = np.append(starts, length - size)
    return starts


def grid_positions(
    height: int, width: int, size: int = 64, stride: int = 64, cover_border: bool = False
) -> np.ndarray:
    """(top, left) of every ``size`` x ``size`` patch on a grid of ``stride`` pixels, row-major.

    Returns an int64 array of shape (rows * cols, 2). The plain grid (``cover_border=False``)
    has floor((H - size) / stride) + 1 rows (1080 -> 16 at stride 64, 21 at stride 50) and
    likewise columns; ``cover_border=True`` adds a last row/column flush with the bottom/right
    edge when the plain grid leaves a strip uncovered, so the patches cover the whole image.
    """
    if size < 1 or stride < 1:
        raise VvcjndError(f"patch size and stride must be >= 1, got size {size}, stride {stride}")
    if height < size or width < size:
        raise VvcjndError(f"a {width}x{height} image is smaller than one {size}x{size} patch")
    tops = _grid_axis(height, size, stride, cover_border)
    lefts = _grid_axis(width, size, stride, cover_border)
    top_grid, left_grid = np.meshgrid(tops, lefts, indexing="ij")
    return np.stack([top_grid.ravel(), left_grid.ravel()], axis=1).astype(np.int64)


def grid_shape(positions: np.ndarray) -> tuple[int, int]:
    """(rows, cols) of a row-major grid made by :func:`grid_positions`."""
    return len(np.unique(positions[:, 0])), len(np.unique(positions[:, 1]))


def extract_patches(plane: np.ndarray, positions: np.ndarray, size: int = 64) -> np.ndarray:
    """Copy the ``size`` x ``size`` patches at ``positions`` (N, 2) out of a 2-D ``plane``.

    Returns (N, size, size) with the plane's dtype; vectorised (no per-patch Python loop).
    """
    if plane.ndim != 2:
        raise VvcjndError(f"expected a 2-D plane, got shape {plane.shape}")
    positions = np.asarray(positions, dtype=np.int64).reshape(-1, 2)
    height, width = plane.shape
    if len(positions) and (
        positions.min() < 0
        or positions[:, 0].max() > height - size
        or positions[:, 1].max() > width - size
    ):
        raise VvcjndError(
            f"patch positions fall outside the {width}x{height} plane for size {size}"
        )
    windows = np.lib.stride_tricks.sliding_window_view(plane, (size, size))
    return windows[positions[:, 0], positions[:, 1]]


# -- the decomposition x = mu + c * s ----------------------------------------------------------


def _centre(patches: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mu (N,), deviation x - mu (N, h, w), c (N,)) in float64."""
    x = np.asarray(patches, dtype=np.float64)
    mu = x.mean(axis=(-2, -1))
    deviation = x - mu[..., None, None]
    c = np.sqrt(np.einsum("...ij,...ij->...", deviation, deviation))
    return mu, deviation, c


def decompose(patches: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split patches (N, h, w), any real dtype on the 0..255 scale, into float64 components.

    mu (N,): mean intensity; c (N,): contrast, the L2 norm of the deviations from mu (not the
    standard deviation: c = sqrt(h * w) * std); s (N, h, w): structure (x - mu) / c, unit L2
    norm, and 0 where c <= :data:`FLAT_EPSILON` (a flat patch).
    """
    mu, deviation, c = _centre(patches)
    flat = c <= FLAT_EPSILON
    s = deviation / np.where(flat, 1.0, c)[..., None, None]
    s[flat] = 0.0
    return mu, c, s


def compose(mu: np.ndarray, c: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Inverse of :func:`decompose`: patches mu + c * s, float64 (N, h, w), unclipped."""
    mu = np.asarray(mu, dtype=np.float64)
    c = np.asarray(c, dtype=np.float64)
    return mu[..., None, None] + c[..., None, None] * np.asarray(s, dtype=np.float64)


def patch_statistics(patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mu, c) of uint8 patches (N, h, w) as :func:`decompose` defines them, float64 0..255 units.

    Exact integer sums: c**2 = (n * sum(x**2) - sum(x)**2) / n, so a flat patch has c = 0 exactly.
    """
    x = patches.reshape(len(patches), -1)
    n = x.shape[1]
    total = x.sum(axis=1, dtype=np.int64)
    squares = np.einsum("ij,ij->i", x, x, dtype=np.int64)
    return total / n, np.sqrt((n * squares - total * total) / n)


def is_flat(c: np.ndarray, patch_pixels: int, flat_std: float) -> np.ndarray:
    """Flat-patch flag: RMS deviation c / sqrt(pixels) below ``flat_std`` gray levels (0..255)."""
    return np.asarray(c) / np.sqrt(patch_pixels) < flat_std


# -- [-1, 1] scaling for the network -----------------------------------------------------------


def to_unit_range(pixels) -> np.ndarray:
    """uint8 0..255 (any shape) -> float32 in [-1, 1]: x / 127.5 - 1."""
    return np.asarray(pixels, dtype=np.float32) / np.float32(127.5) - np.float32(1.0)


def from_unit_range(values) -> np.ndarray:
    """[-1, 1] floats (numpy or CPU tensor) -> uint8 0..255, rounded to nearest and clipped."""
    scaled = (np.asarray(values, dtype=np.float64) + 1.0) * 127.5
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
