"""All codecs' quality tables in one, their rate-distortion overlay and BD-rates against the
encoder (rule compare_codecs)."""

from pathlib import Path

from vvcjnd.io import write_table
from vvcjnd.quality.compare import bd_rate_summary, bd_rate_table, plot_overlay
from vvcjnd.quality.table import combine
from vvcjnd.workflow import logged

with logged(snakemake.log[0], snakemake.output):
    table = combine([Path(path) for path in snakemake.input.tables], Path(snakemake.output.table))
    plot_overlay(table, Path(snakemake.output.figure))
    bd_rates = bd_rate_table(table, snakemake.params.anchor)
    write_table(snakemake.output.bd_rate, bd_rates)
    write_table(snakemake.output.bd_rate_summary, bd_rate_summary(bd_rates))
