"""Build the paired patch dataset (rule patch_dataset)."""

from pathlib import Path

from vvcjnd.labels.levels import LevelAxis
from vvcjnd.patches.build import build_patch_dataset
from vvcjnd.workflow import logged

with logged(snakemake.log[0], snakemake.output):
    build_patch_dataset(
        manifest_path=Path(snakemake.input.manifest),
        labels_path=Path(snakemake.input.labels),
        images_dir=Path(snakemake.input.images),
        ladder_dir=Path(snakemake.params.ladder_dir),
        out_dir=Path(snakemake.output.index).parent,
        patches_config=snakemake.params.settings,
        seed=snakemake.params.seed,
        workers=snakemake.threads,
        axis=LevelAxis.from_params(snakemake.params.axis),
    )
