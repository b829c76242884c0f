"""Psychometric fits of the subjective test's trials against the bisection end points."""
# ruff: noqa: F821  (snakemake is injected by the script directive)

from vvcjnd.labels.levels import LevelAxis
from vvcjnd.labels.psychometric import build_trial_fits
from vvcjnd.workflow import logged

with logged(snakemake.log[0], snakemake.output):
    build_trial_fits(
        snakemake.input.trials,
        snakemake.input.samples,
        dict(snakemake.output.items()),
        snakemake.params.ladder,
        LevelAxis.from_params(snakemake.params.axis),
    )
