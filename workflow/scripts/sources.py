"""Canonicalise the pristine sources (rule canonicalise_sources)."""

from pathlib import Path

from vvcjnd.sources.prepare import discover, prepare_sources
from vvcjnd.workflow import logged

with logged(snakemake.log[0], snakemake.output):
    sources = snakemake.params.sources
    images = discover(sources)
    image_dir = Path(snakemake.output.images)
    prepare_sources(
        images, sources, image_dir, Path(snakemake.output.manifest), Path(snakemake.input.index)
    )
