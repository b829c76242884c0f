EVALUATE = f"{RESULTS}/evaluate"


rule evaluate_models:
    """Own-level PSNR and equal-PSNR quality (SSIM, VIF, MS-SSIM, VMAF) of every model."""
    input:
        splits=f"{RESULTS}/patches/splits.tsv",
        images=PRISTINE_DIR,
        residuals=[profile_file(image, "residual_npy") for image in IMAGES],
        checkpoint=MODEL_CHECKPOINT,
    output:
        own_level=f"{EVALUATE}/own_level.tsv",
        equal_psnr=f"{EVALUATE}/equal_psnr.tsv",
        table=f"{EVALUATE}/table_iv.tsv",
        html=report(
            f"{EVALUATE}/table_iv.html",
            caption="../report/evaluate_table_iv.rst",
            category="6. Evaluation",
        ),
    log:
        f"{RESULTS}/logs/evaluate/models.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate/models.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["evaluate"]["threads"]
    resources:
        mem_mb=lambda wildcards: 1000 + math.ceil(300 * max(pristine_megapixels())),
        # per test image: 4 models x (bisection + SSIM, VIF, MS-SSIM, VMAF), about 1 min at 1080p
        runtime=lambda wildcards: 10 + len(IMAGES),
    params:
        infer_dir=folder_of("residuals", up=2),
        images_dir=input_of("images"),
        settings=settings("evaluate"),
        seed=config["seed"],
        format=FORMAT["evaluate"],
    script:
        "../scripts/evaluate_models.py"


rule evaluate_jnd_qp:
    """Predicted vs subjective JND QP of the test images: ours, constant, PSNR threshold."""
    input:
        labels=f"{RESULTS}/labels/jnd.tsv",
        splits=f"{RESULTS}/patches/splits.tsv",
        quality=f"{RESULTS}/quality/{ENCODER}.tsv",
        images=PRISTINE_DIR,
        ladders=ladder_jsons(),
        summaries=[profile_file(image, "summary") for image in IMAGES],
        checkpoint=MODEL_CHECKPOINT,
    output:
        table=f"{EVALUATE}/jnd_qp.tsv",
        summary=f"{EVALUATE}/jnd_qp_summary.tsv",
        html=report(
            f"{EVALUATE}/jnd_qp_summary.html",
            caption="../report/evaluate_jnd_qp.rst",
            category="6. Evaluation",
        ),
        figure=report(
            f"{EVALUATE}/jnd_qp.png",
            caption="../report/evaluate_jnd_qp_figure.rst",
            category="6. Evaluation",
        ),
    log:
        f"{RESULTS}/logs/evaluate/jnd_qp.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate/jnd_qp.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards: 1000 + math.ceil(100 * max(pristine_megapixels())),
        runtime=lambda wildcards: 5 + math.ceil(len(IMAGES) * len(QPS) / 60),
    params:
        infer_dir=folder_of("summaries", up=2),
        images_dir=input_of("images"),
        ladder_dir=folder_of("ladders"),
        qps=QPS,
        axis=AXIS_PARAM,
        size=config["patches"]["size"],
        stride=config["infer"]["stride"],
        format=FORMAT["evaluate"],
    script:
        "../scripts/evaluate_jnd_qp.py"


# Target: the evaluation tables and figures of the test split.
rule evaluate:
    input:
        rules.evaluate_models.output,
        rules.evaluate_jnd_qp.output,
    localrule: True
