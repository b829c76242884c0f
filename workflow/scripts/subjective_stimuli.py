"""The subjective test's stimulus set from the ladder (rule subjective_stimuli)."""

from vvcjnd.labels.levels import LevelAxis
from vvcjnd.subjective.stimuli import build_stimuli
from vvcjnd.workflow import logged

with logged(snakemake.log[0], snakemake.output):
    build_stimuli(
        snakemake.input.manifest,
        snakemake.params.images_dir,
        snakemake.params.ladder_dir,
        snakemake.params.ladder,
        snakemake.params.subjective,
        snakemake.params.seed,
        snakemake.output.stimuli,
        snakemake.output.table,
        snakemake.output.plan,
        LevelAxis.from_params(snakemake.params.axis).sign,
    )
