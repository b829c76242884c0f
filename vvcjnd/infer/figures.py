"""The inference stage's pictures: the colour-mapped JND map and the report's gallery.

Free of torch, so that the gallery's job does not load it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib import colormaps

from vvcjnd.colour import luma_uint8
from vvcjnd.errors import VvcjndError
from vvcjnd.images import read_png
from vvcjnd.psnr import psnr

MAP_COLORMAP = "magma"


def colour_map(jnd_map: np.ndarray, map_max: float) -> np.ndarray:
    """uint8 RGB (H, W, 3) picture of a JND map: 0 .. ``map_max`` grey levels on magma."""
    scaled = np.clip(jnd_map / map_max, 0.0, 1.0)
    return (colormaps[MAP_COLORMAP](scaled)[..., :3] * 255.0 + 0.5).astype(np.uint8)


def plot_gallery(
    rows: Sequence[tuple[str, Path, Path, Path]], map_max: float, output: Path
) -> None:
    """Figure: per row (image id, pristine PNG, JND-contaminated PNG, JND map .npy) the
    pristine luma, the JND-contaminated luma and the colour-mapped JND map, side by side."""
    from vvcjnd.figures import Figure, save_figure

    if not rows:
        raise VvcjndError("the JND map gallery needs at least one image")
    figure = Figure(figsize=(11, 3.4 * len(rows)))
    axes = figure.subplots(len(rows), 3, squeeze=False)
    for (image_id, pristine_path, jnd_path, map_path), row_axes in zip(rows, axes, strict=True):
        pixels = read_png(pristine_path)
        luma = luma_uint8(pixels)
        jnd_map = np.load(map_path)
        row_axes[0].imshow(luma, cmap="gray", vmin=0, vmax=255)
        row_axes[0].set_title(f"{image_id}: pristine luma")
        row_axes[1].imshow(read_png(jnd_path), cmap="gray", vmin=0, vmax=255)
        row_axes[1].set_title(f"JND-contaminated, PSNR {psnr(luma, read_png(jnd_path)):.2f} dB")
        shown = row_axes[2].imshow(jnd_map, cmap=MAP_COLORMAP, vmin=0, vmax=map_max)
        row_axes[2].set_title(f"JND map |JND - pristine|, mean {jnd_map.mean():.2f}")
        figure.colorbar(shown, ax=row_axes[2], fraction=0.046, label="grey levels")
        for axis in row_axes:
            axis.set_axis_off()
    figure.tight_layout()
    save_figure(figure, output, dpi=90)
