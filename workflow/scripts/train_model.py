"""Train the structural-visibility network (rule train)."""

from pathlib import Path

import torch

from vvcjnd.model.training import train
from vvcjnd.workflow import logged

with logged(snakemake.log[0], snakemake.output):
    torch.set_num_threads(snakemake.threads)
    operational = {
        "threads": snakemake.threads,
        "eval_batch_size": snakemake.resources.eval_batch_size,
        "num_workers": snakemake.resources.num_workers,
        "progress": bool(snakemake.resources.progress),
        "resume": bool(snakemake.resources.resume),
    }
    train(
        config={"train": {**snakemake.params.train, **operational}, "seed": snakemake.params.seed},
        patches_dir=Path(snakemake.input.train_pristine).parent,
        out_dir=Path(snakemake.output.last).parent,
        state_dir=Path(snakemake.params.state_dir),
    )
