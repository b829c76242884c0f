"""vvcjnd: VVC just-noticeable-distortion dataset and patch-level JND model.

Run on the embedded default with `snakemake --cores 8`; see README.md.
"""

from pathlib import Path

from vvcjnd.config import validate_config


configfile: "config.yaml"


validate_config(config, Path(workflow.basedir) / "workflow" / "schemas")


include: "workflow/rules/common.smk"
include: "workflow/rules/sources.smk"
include: "workflow/rules/distort.smk"
include: "workflow/rules/quality.smk"
include: "workflow/rules/labels.smk"
include: "workflow/rules/patches.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/infer.smk"
include: "workflow/rules/evaluate.smk"


rule all:
    default_target: True
    input:
        rules.dataset.input,
