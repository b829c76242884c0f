"""List the pristine sources with each file's sha256 (rule index_sources)."""

from pathlib import Path

from vvcjnd.sources.index import index_sources
from vvcjnd.sources.prepare import discover
from vvcjnd.workflow import logged

with logged(snakemake.log[0], snakemake.output):
    index_sources(discover(snakemake.params.sources), Path(snakemake.output.index))
