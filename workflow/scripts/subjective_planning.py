"""The protocol-planning table and figure (rule subjective_planning; simulated, NOT human data)."""
# ruff: noqa: F821  (snakemake is injected by the script directive)

from vvcjnd.labels.levels import LevelAxis
from vvcjnd.labels.protocols import write_planning
from vvcjnd.workflow import logged

with logged(snakemake.log[0], snakemake.output):
    write_planning(
        snakemake.input.quality,
        snakemake.input.manifest,
        snakemake.params.ladder,
        snakemake.params.simulate,
        snakemake.params.quest,
        snakemake.params.planning,
        snakemake.params.seed,
        snakemake.output.table,
        snakemake.output.figure,
        LevelAxis.from_params(snakemake.params.axis),
    )
