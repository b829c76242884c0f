# The subjective JND test's stimulus set (docs/subjective.md). The test itself runs outside the
# DAG: python -m vvcjnd subjective serve --db results/subjective/test.sqlite; with
# labels.source test the label stage reads that database.

SUBJECTIVE = f"{RESULTS}/subjective"


rule subjective_stimuli:
    """Pristine and decoded images under opaque names, their manifest (sha256), the test plan."""
    input:
        manifest=f"{RESULTS}/sources/manifest.tsv",
        images=PRISTINE_DIR,
        records=ladder_jsons(),
    output:
        stimuli=directory(f"{SUBJECTIVE}/stimuli"),
        table=f"{SUBJECTIVE}/stimuli.tsv",
        plan=f"{SUBJECTIVE}/plan.json",
    log:
        f"{RESULTS}/logs/subjective/stimuli.log",
    conda:
        "../../envs/subjective.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        subjective=settings("subjective", "planning"),  # planning: rule subjective_planning's
        ladder=QPS,
        axis=AXIS_PARAM,
        seed=config["seed"],
        format=FORMAT["subjective"],
        images_dir=input_of("images"),
        ladder_dir=folder_of("records"),
    script:
        "../scripts/subjective_stimuli.py"
