"""Write the simulated panel's per-session MAT files (NOT human data)."""
# ruff: noqa: F821  (snakemake is injected by the script directive)

from pathlib import Path

from vvcjnd.labels.levels import LevelAxis
from vvcjnd.labels.simulate import PanelSettings, simulate_from_files
from vvcjnd.workflow import logged

with logged(snakemake.log[0], snakemake.output):
    simulate_from_files(
        Path(snakemake.output.latent).parent,
        snakemake.input.quality,
        snakemake.input.manifest,
        snakemake.params.ladder,
        PanelSettings.from_config(snakemake.params.simulate),
        snakemake.params.seed,
        LevelAxis.from_params(snakemake.params.axis),
    )
