"""Fit the observer model; write the how-many-subjects table and both figures."""
# ruff: noqa: F821  (snakemake is injected by the script directive)

from vvcjnd.labels.levels import LevelAxis
from vvcjnd.labels.uncertainty import build_observers
from vvcjnd.workflow import logged

with logged(snakemake.log[0], snakemake.output):
    build_observers(
        dict(snakemake.input.items()),
        dict(snakemake.output.items()),
        snakemake.params.jnd,
        snakemake.params.uncertainty,
        snakemake.params.ladder,
        snakemake.params.seed,
        LevelAxis.from_params(snakemake.params.axis),
    )
