"""Draw sample patch pairs with their SSIM (rule patch_figure)."""

from pathlib import Path

from vvcjnd.patches.figures import plot_sample_pairs
from vvcjnd.workflow import logged

with logged(snakemake.log[0], snakemake.output):
    plot_sample_pairs(
        patch_dir=Path(snakemake.input.index).parent,
        path=Path(snakemake.output.figure),
        n_pairs=snakemake.params.pairs,
        seed=snakemake.params.seed,
    )
