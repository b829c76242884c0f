rule image_quality:
    """Quality of one image's decoded ladder: PSNR, SSIM, MS-SSIM and VMAF per QP."""
    input:
        record=ladder_json("{image}", "{encoder}"),
        images=PRISTINE_DIR,
    output:
        table=f"{RESULTS}/quality/{{encoder}}/{{image}}.tsv",
    log:
        f"{RESULTS}/logs/quality/{{encoder}}/{{image}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/quality/{{encoder}}/{{image}}.tsv"
    conda:
        "../../envs/encode.yaml"
    threads: config["quality"]["threads"]
    resources:
        mem_mb=lambda wildcards: 500 + math.ceil(200 * image_megapixels(wildcards)),
        runtime=lambda wildcards: 5
        + math.ceil(len(QPS) * image_megapixels(wildcards) / 10),
    params:
        session=lambda wildcards: SESSION[wildcards.image],
        vmaf=config["quality"]["vmaf"],
        format=FORMAT["quality"],
    script:
        "../scripts/image_quality.py"


rule quality_table:
    """One quality table for the whole ladder and its rate-distortion figure."""
    input:
        tables=expand(f"{RESULTS}/quality/{{{{encoder}}}}/{{image}}.tsv", image=IMAGES),
    output:
        table=f"{RESULTS}/quality/{{encoder}}.tsv",
        figure=report(
            f"{RESULTS}/quality/{{encoder}}_rd.png",
            caption="../report/rate_distortion.rst",
            category="1. Distortion ladder",
        ),
    log:
        f"{RESULTS}/logs/quality/{{encoder}}.log",
    conda:
        "../../envs/encode.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        format=FORMAT["quality"],
    script:
        "../scripts/quality_table.py"


rule compare_codecs:
    """Every codec's quality table in one, their rate-distortion overlay and BD-rates
    against the encoder (built when encode.codecs names further codecs)."""
    input:
        tables=expand(f"{RESULTS}/quality/{{encoder}}.tsv", encoder=CODEC_NAMES),
    output:
        table=f"{COMPARE}/quality.tsv",
        figure=report(
            f"{COMPARE}/rate_distortion.png",
            caption="../report/compare_codecs.rst",
            category="1. Distortion ladder",
        ),
        bd_rate=f"{COMPARE}/bd_rate.tsv",
        bd_rate_summary=report(
            f"{COMPARE}/bd_rate_summary.tsv",
            caption="../report/bd_rate.rst",
            category="1. Distortion ladder",
        ),
    log:
        f"{RESULTS}/logs/quality/compare_codecs.log",
    conda:
        "../../envs/encode.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        anchor=ENCODER,
        format=FORMAT["quality"],
    script:
        "../scripts/compare_codecs.py"


# Target: the decoded ladders of every image and codec, their quality tables and, with
# several codecs, their comparison.
rule distortion:
    input:
        f"{RESULTS}/sources/manifest.tsv",
        expand(f"{RESULTS}/quality/{{encoder}}.tsv", encoder=CODEC_NAMES),
        expand(f"{RESULTS}/quality/{{encoder}}_rd.png", encoder=CODEC_NAMES),
        rules.compare_codecs.output if len(CODEC_NAMES) > 1 else [],
    localrule: True
