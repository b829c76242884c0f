"""Encode/decode the ladders of one codec for a job's images (rule encode_ladder)."""

from pathlib import Path

from vvcjnd.colour import YuvFormat
from vvcjnd.distort.codecs import codec_from_config
from vvcjnd.distort.ladder import run_ladder
from vvcjnd.paths import ladder_points_dir, pristine_png, record_image_id
from vvcjnd.workflow import logged

with logged(snakemake.log[0], snakemake.output):
    codec = codec_from_config(snakemake.params.encode)
    yuv = YuvFormat.from_config(snakemake.params.colour)
    for record in map(Path, snakemake.output.records):
        run_ladder(
            pristine_png=pristine_png(snakemake.input.images, record_image_id(record)),
            out_dir=ladder_points_dir(record),
            record_path=record,
            codec=codec,
            yuv=yuv,
            levels=snakemake.params.levels,
            workers=snakemake.threads,
            timeout_s=snakemake.resources.timeout_s,
            log=Path(snakemake.log[0]),
        )
