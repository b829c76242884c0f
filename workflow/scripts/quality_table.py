"""Combine the per-image quality tables; draw the rate-distortion figure (rule quality_table)."""

from pathlib import Path

from vvcjnd.quality.table import combine, plot_rate_distortion
from vvcjnd.workflow import logged

with logged(snakemake.log[0], snakemake.output):
    table = combine([Path(path) for path in snakemake.input.tables], Path(snakemake.output.table))
    plot_rate_distortion(table, Path(snakemake.output.figure))
