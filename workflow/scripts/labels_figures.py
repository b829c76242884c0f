"""Draw the labels stage's report figures."""
# ruff: noqa: F821  (snakemake is injected by the script directive)

from vvcjnd.labels.figures import write_figures
from vvcjnd.labels.levels import LevelAxis
from vvcjnd.workflow import logged

with logged(snakemake.log[0], snakemake.output):
    write_figures(
        dict(snakemake.input.items()),
        dict(snakemake.output.items()),
        snakemake.params.ladder,
        LevelAxis.from_params(snakemake.params.axis),
    )
