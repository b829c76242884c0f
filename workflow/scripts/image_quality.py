"""Quality rows of one image's ladder (rule image_quality)."""

from vvcjnd.io import write_table
from vvcjnd.quality.table import image_quality
from vvcjnd.workflow import logged

with logged(snakemake.log[0], snakemake.output):
    table = image_quality(
        snakemake.input.record,
        session=snakemake.params.session,
        use_vmaf=snakemake.params.vmaf,
        threads=snakemake.threads,
    )
    write_table(snakemake.output.table, table)
