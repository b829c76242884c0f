"""Ingest the raw samples, screen observers, derive JND levels and SUR curves."""
# ruff: noqa: F821  (snakemake is injected by the script directive)

from pathlib import Path

from vvcjnd.labels.stage import build_labels
from vvcjnd.workflow import logged

with logged(snakemake.log[0], snakemake.output):
    build_labels(
        {
            "labels": snakemake.params.labels,
            "encode": snakemake.params.encode,
            "subjective": {"procedure": snakemake.params.procedure},
            "seed": snakemake.params.seed,
        },
        snakemake.input.manifest,
        dict(snakemake.output.items()),
        simulated_dir=Path(snakemake.input.raw[0]).parent,
    )
