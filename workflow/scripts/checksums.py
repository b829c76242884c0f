"""sha256 manifest of the dataset files (rule checksums)."""

from pathlib import Path

from vvcjnd.checksums import write_checksums
from vvcjnd.workflow import logged

with logged(snakemake.log[0], snakemake.output):
    write_checksums(Path(snakemake.output[0]).parent, Path(snakemake.output[0]))
