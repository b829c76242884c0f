"""Write the simulated panel's per-session MAT files (NOT human data)."""
# ruff: noqa: F821  (snakemake is injected by the script directive)

import logging
from pathlib import Path

from vvcjnd.labels.simulate import PanelSettings, simulate_from_files

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
simulate_from_files(
    Path(snakemake.output.latent).parent,
    snakemake.input.quality,
    snakemake.input.manifest,
    snakemake.params.ladder,
    PanelSettings.from_config(snakemake.params.simulate),
    snakemake.params.seed,
)
