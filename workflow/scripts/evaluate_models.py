"""Own-level and equal-PSNR evaluation of the test split (rule evaluate_models)."""

from pathlib import Path

from vvcjnd.evaluate.equal_psnr import (
    PROPOSED,
    TABLE_IV_TITLE,
    evaluate_models,
    table_iv,
    table_iv_note,
)
from vvcjnd.evaluate.report import write_html_table
from vvcjnd.io import write_table
from vvcjnd.model.checkpoint import describe_origin, origin_label, read_checkpoint
from vvcjnd.patches.split import read_split_ids
from vvcjnd.paths import pristine_png, profile_paths
from vvcjnd.workflow import logged

with logged(snakemake.log[0], snakemake.output) as logger:
    infer_dir, images_dir = Path(snakemake.params.infer_dir), Path(snakemake.params.images_dir)
    settings = snakemake.params.settings
    own, equal = evaluate_models(
        read_split_ids(Path(snakemake.input.splits)),
        pristine_png=lambda image: pristine_png(images_dir, image),
        residual_npy=lambda image: profile_paths(infer_dir / image)["residual_npy"],
        seed=snakemake.params.seed,
        settings={**settings, "threads": snakemake.threads},
    )
    table = table_iv(equal)
    checkpoint = read_checkpoint(Path(snakemake.input.checkpoint))
    origin = describe_origin(checkpoint)
    # the proposed model's row names where its network comes from
    table.loc[table["model"] == PROPOSED, "row"] = (
        f"Shen 2021 patch-level ({origin_label(checkpoint)})"
    )
    logger.info("our model: %s", origin)
    write_table(snakemake.output.own_level, own)
    write_table(snakemake.output.equal_psnr, equal)
    write_table(snakemake.output.table, table)
    write_html_table(
        Path(snakemake.output.html),
        table,
        TABLE_IV_TITLE,
        f"{table_iv_note(settings['target_psnr_db'])} Our model: {origin}.",
    )
    logger.info("equal-PSNR table:\n%s", table.to_string())
