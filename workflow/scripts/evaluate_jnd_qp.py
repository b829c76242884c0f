"""JND-QP prediction against the subjective labels (rule evaluate_jnd_qp)."""

from pathlib import Path

from vvcjnd.evaluate.figures import plot_jnd_qp
from vvcjnd.evaluate.jnd_qp import (
    JND_QP_PREDICTORS,
    JND_QP_TITLE,
    evaluate_jnd_qp,
    jnd_qp_note,
)
from vvcjnd.evaluate.report import write_html_table
from vvcjnd.io import write_table
from vvcjnd.labels.levels import LevelAxis
from vvcjnd.model.checkpoint import describe_origin, read_checkpoint
from vvcjnd.paths import decoded_png, pristine_png, profile_paths
from vvcjnd.workflow import logged

with logged(snakemake.log[0], snakemake.output) as logger:
    axis = LevelAxis.from_params(snakemake.params.axis)
    infer_dir, images_dir = Path(snakemake.params.infer_dir), Path(snakemake.params.images_dir)
    ladder_dir = Path(snakemake.params.ladder_dir)
    table, summary, threshold = evaluate_jnd_qp(
        labels_path=Path(snakemake.input.labels),
        splits_path=Path(snakemake.input.splits),
        quality_path=Path(snakemake.input.quality),
        summary_json=lambda image: profile_paths(infer_dir / image)["summary"],
        pristine_png=lambda image: pristine_png(images_dir, image),
        ladder_png=lambda image, position: decoded_png(ladder_dir, image, axis.stem(position)),
        qps=snakemake.params.qps,
        size=snakemake.params.size,
        stride=snakemake.params.stride,
        axis=axis,
    )
    table = axis.to_levels(table, also=JND_QP_PREDICTORS)
    summary = axis.to_levels(summary)
    write_table(snakemake.output.table, table)
    write_table(snakemake.output.summary, summary)
    origin = describe_origin(read_checkpoint(Path(snakemake.input.checkpoint)))
    logger.info("our model: %s", origin)
    note = f"{jnd_qp_note(threshold)} Our model: {origin}."
    write_html_table(Path(snakemake.output.html), summary, JND_QP_TITLE, note)
    plot_jnd_qp(table, Path(snakemake.output.figure), axis.column("jnd_qp"))
    logger.info("JND-QP summary:\n%s", summary.to_string())
