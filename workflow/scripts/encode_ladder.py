"""Encode/decode one image's QP ladder (rule encode_ladder)."""

from pathlib import Path

from vvcjnd.colour import YuvFormat
from vvcjnd.encoders import codec_from_config
from vvcjnd.ladder import run_ladder
from vvcjnd.workflow import logged

with logged(snakemake.log[0], snakemake.output):
    record = Path(snakemake.output.record)
    run_ladder(
        pristine_png=Path(snakemake.input.image),
        out_dir=record.with_suffix(""),
        record_path=record,
        codec=codec_from_config(snakemake.params.encode),
        yuv=YuvFormat.from_config(snakemake.params.colour),
        qps=snakemake.params.qps,
        workers=snakemake.threads,
        timeout_s=snakemake.params.encode["timeout_s"],
        log=Path(snakemake.log[0]),
    )
