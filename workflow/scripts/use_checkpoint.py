"""The network of train.checkpoint in place of training (rule use_checkpoint)."""

from pathlib import Path

from vvcjnd.model.authors import use_checkpoint
from vvcjnd.model.checkpoint import describe_origin
from vvcjnd.workflow import logged

with logged(snakemake.log[0], snakemake.output) as logger:
    state = use_checkpoint(Path(snakemake.input.checkpoint), Path(snakemake.output.checkpoint))
    logger.info("using %s instead of training", describe_origin(state))
