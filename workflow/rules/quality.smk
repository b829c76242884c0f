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


# Target: the decoded ladder of every image and its quality table.
rule distortion:
    input:
        f"{RESULTS}/sources/manifest.tsv",
        f"{RESULTS}/quality/{ENCODER}.tsv",
        f"{RESULTS}/quality/{ENCODER}_rd.png",
    localrule: True
