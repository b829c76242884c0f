"""Encode/decode one image's ladder of one codec (rule encode_ladder)."""

from pathlib import Path

from vvcjnd.colour import YuvFormat
from vvcjnd.distort.codecs import codec_from_config
from vvcjnd.distort.ladder import run_ladder
from vvcjnd.paths import ladder_points_dir, pristine_png
from vvcjnd.workflow import logged

with logged(snakemake.log[0], snakemake.output):
    record = Path(snakemake.output.record)
    run_ladder(
        pristine_png=pristine_png(snakemake.input.images, snakemake.wildcards.image),
        out_dir=ladder_points_dir(record),
        record_path=record,
        codec=codec_from_config(snakemake.params.encode),
        yuv=YuvFormat.from_config(snakemake.params.colour),
        levels=snakemake.params.levels,
        workers=snakemake.threads,
        timeout_s=snakemake.resources.timeout_s,
        log=Path(snakemake.log[0]),
    )
