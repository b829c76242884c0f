from vvcjnd.paths import KINDS, SPLITS


rule patch_dataset:
    """Paired pristine / JND-level luma patches of every image, split by image (uint8 .npy)."""
    input:
        manifest=f"{RESULTS}/sources/manifest.tsv",
        labels=f"{RESULTS}/labels/jnd.tsv",
        images=PRISTINE_DIR,
        ladders=ladder_jsons(),
    output:
        arrays=[
            str(patch_array(f"{RESULTS}/patches", split, kind))
            for split in SPLITS
            for kind in KINDS
        ],
        index=f"{RESULTS}/patches/index.tsv",
        splits=f"{RESULTS}/patches/splits.tsv",
        summary=f"{RESULTS}/patches/summary.json",
    log:
        f"{RESULTS}/logs/patches/dataset.log",
    benchmark:
        f"{RESULTS}/benchmarks/patches/dataset.tsv"
    conda:
        "../../envs/encode.yaml"
    threads: 2
    resources:
        mem_mb=1000,
        runtime=lambda wildcards: 5 + math.ceil(sum(pristine_megapixels()) / 60),
    params:
        ladder_dir=folder_of("ladders"),
        settings=settings("patches", "figure_pairs"),
        axis=AXIS_PARAM,
        seed=config["seed"],
        format=FORMAT["patches"],
    script:
        "../scripts/patches_dataset.py"


rule patch_figure:
    """Sample pristine / JND-level patch pairs with their SSIM, for the report."""
    input:
        arrays=rules.patch_dataset.output.arrays,
        index=f"{RESULTS}/patches/index.tsv",
    output:
        figure=report(
            f"{RESULTS}/patches/samples.png",
            caption="../report/patches_samples.rst",
            category="3. Patch dataset",
        ),
    log:
        f"{RESULTS}/logs/patches/figure.log",
    conda:
        "../../envs/encode.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        pairs=config["patches"]["figure_pairs"],
        seed=config["seed"],
        format=FORMAT["patches"],
    script:
        "../scripts/patches_figure.py"


# Target: the paired patch dataset, its split manifest and the sample figure.
rule patches:
    input:
        rules.patch_dataset.output,
        rules.patch_figure.output,
    localrule: True
