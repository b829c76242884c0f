"""JND profiles of a job's images (rule infer_image)."""

from dataclasses import replace
from pathlib import Path

import torch

from vvcjnd.infer.profile import InferSettings, infer_image_file, load_inference_model
from vvcjnd.paths import PROFILE_FILES, pristine_png, profile_image_id
from vvcjnd.workflow import logged

with logged(snakemake.log[0], snakemake.output) as logger:
    torch.set_num_threads(snakemake.threads)
    settings = replace(
        InferSettings.from_config(snakemake.params.infer),
        patch_size=snakemake.params.patch_size,
        batch_size=snakemake.resources.batch_size,
    )
    checkpoint = Path(snakemake.input.checkpoint)
    model = load_inference_model(checkpoint)
    outputs = [Path(path) for path in snakemake.output.profiles]
    for start in range(0, len(outputs), len(PROFILE_FILES)):
        paths = dict(zip(PROFILE_FILES, outputs[start : start + len(PROFILE_FILES)], strict=True))
        image_id = profile_image_id(paths["summary"])
        summary = infer_image_file(
            model,
            pristine_png(snakemake.input.images, image_id),
            paths,
            settings,
            seed=snakemake.params.seed,
            image_id=image_id,
            checkpoint=checkpoint,
        )
        logger.info("%s: sign %+d, PSNR %.3f dB", image_id, summary["sign"], summary["psnr_db"])
