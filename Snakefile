"""vvcjnd: VVC just-noticeable-distortion dataset and patch-level JND model.

Run on the embedded default with `snakemake --cores 8`; see README.md.
"""

from pathlib import Path

from snakemake.utils import min_version

from vvcjnd.config import validate_config
from vvcjnd.errors import VvcjndError

min_version("9.27")


configfile: Path(workflow.basedir) / "config.yaml"


try:
    validate_config(config, Path(workflow.basedir) / "workflow" / "schemas")
except VvcjndError as error:
    raise WorkflowError(str(error)) from None


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/sources.smk"
include: "workflow/rules/distort.smk"
include: "workflow/rules/quality.smk"
include: "workflow/rules/subjective.smk"
include: "workflow/rules/planning.smk"
include: "workflow/rules/labels.smk"
include: "workflow/rules/patches.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/infer.smk"
include: "workflow/rules/evaluate.smk"


# Target: the JND dataset (sources, ladder, quality, labels, patch arrays).
rule dataset:
    input:
        rules.distortion.input,
        rules.labels.input,
        rules.patches.input,
    localrule: True


include: "workflow/rules/checksums.smk"


# Target: everything, from the sources to the evaluation and the checksums.
rule all:
    default_target: True
    input:
        rules.dataset.input,
        rules.checksums.output,
        rules.model.input,
        rules.infer.input,
        rules.evaluate.input,
        rules.subjective_planning.output,
    localrule: True
