"""JND profile of one image (rule infer_image)."""

from dataclasses import replace
from pathlib import Path

import torch

from vvcjnd.infer.profile import InferSettings, infer_image_file, load_inference_model
from vvcjnd.paths import pristine_png
from vvcjnd.workflow import logged

with logged(snakemake.log[0], snakemake.output) as logger:
    torch.set_num_threads(snakemake.threads)
    settings = replace(
        InferSettings.from_config(snakemake.params.infer),
        patch_size=snakemake.params.patch_size,
        batch_size=snakemake.resources.batch_size,
    )
    checkpoint = Path(snakemake.input.checkpoint)
    paths = {key: Path(path) for key, path in snakemake.output.items()}
    summary = infer_image_file(
        load_inference_model(checkpoint),
        pristine_png(snakemake.input.images, snakemake.wildcards.image),
        paths,
        settings,
        seed=snakemake.params.seed,
        image_id=snakemake.wildcards.image,
        checkpoint=checkpoint,
    )
    logger.info("sign %+d, PSNR %.3f dB", summary["sign"], summary["psnr_db"])
