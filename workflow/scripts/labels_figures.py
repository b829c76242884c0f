"""Draw the labels stage's report figures."""
# ruff: noqa: F821  (snakemake is injected by the script directive)

import logging

from vvcjnd.labels.figures import write_figures

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
write_figures(
    dict(snakemake.input.items()), dict(snakemake.output.items()), snakemake.params.ladder
)
