"""The report figure of sample patch pairs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vvcjnd.errors import VvcjndError
from vvcjnd.io import read_table
from vvcjnd.paths import KINDS, patch_array
from vvcjnd.seeds import rng as seeded_rng


def sample_pairs(index: pd.DataFrame, n_pairs: int, seed: int) -> pd.DataFrame:
    """``n_pairs`` rows of ``index`` spread over the pristine contrast range (one per quantile)."""
    n_pairs = min(n_pairs, len(index))
    rng = seeded_rng(seed, "patch_figure")
    by_contrast = index.sort_values(["pristine_c", "split", "patch_id"], kind="stable")
    bins = np.array_split(np.arange(len(by_contrast)), n_pairs)
    rows = [int(rng.choice(members)) for members in bins]
    return by_contrast.iloc[rows]


def plot_sample_pairs(patch_dir: str | Path, path: str | Path, n_pairs: int, seed: int) -> None:
    """Write a PNG grid of sample (pristine, JND-level) pairs with their SSIM to ``path``."""
    from skimage.metrics import structural_similarity

    from vvcjnd.figures import Figure, save_figure

    patch_dir = Path(patch_dir)
    index = read_table(patch_dir / "index.tsv")
    if index.empty:
        raise VvcjndError(f"{patch_dir / 'index.tsv'} holds no patch pairs to show")
    samples = sample_pairs(index, n_pairs, seed)
    arrays = {
        (split, kind): np.load(patch_array(patch_dir, split, kind), mmap_mode="r")
        for split in samples["split"].unique()
        for kind in KINDS
    }
    columns = min(4, len(samples))
    rows = -(-len(samples) // columns)
    figure = Figure(figsize=(2.2 * 2 * columns, 2.4 * rows))
    axes = figure.subplots(rows, 2 * columns, squeeze=False)
    for axis in axes.ravel():
        axis.set_axis_off()
    for k, pair in enumerate(samples.itertuples()):
        pristine = arrays[pair.split, "pristine"][pair.patch_id]
        jnd = arrays[pair.split, "jnd"][pair.patch_id]
        ssim = structural_similarity(pristine, jnd, data_range=255)
        row, column = divmod(k, columns)
        level = f"QP {pair.jnd_qp}" if "jnd_qp" in samples else f"level {pair.jnd_level}"
        titles = (f"{pair.image_id} pristine", f"{level}, SSIM {ssim:.3f}")
        for offset, (patch, title) in enumerate(zip((pristine, jnd), titles, strict=True)):
            axis = axes[row, 2 * column + offset]
            axis.imshow(patch, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            axis.set_title(title, fontsize=8)
    figure.suptitle("Luma patch pairs: pristine (left) and at the image's JND level (right)")
    figure.tight_layout()
    save_figure(figure, path, dpi=100)
