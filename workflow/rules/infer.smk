rule infer_image:
    """JND profile of one image: JND-contaminated luma, JND map (.npy and colour PNG), PSNR."""
    input:
        images=PRISTINE_DIR,
        checkpoint=MODEL_CHECKPOINT,
    output:
        **{key: profile_file("{image}", key) for key in PROFILE_FILES},
    log:
        f"{RESULTS}/logs/infer/{{image}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/infer/{{image}}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["infer"]["threads"]
    resources:
        # about 15 s per 1080p image on 2 cores at the paper's width; 1.5 GB at batch 64
        mem_mb=lambda wildcards: 1000 + math.ceil(250 * image_megapixels(wildcards)),
        runtime=lambda wildcards: 5 + math.ceil(image_megapixels(wildcards)),
        batch_size=config["infer"]["batch_size"],
    params:
        infer=settings("infer", "gallery_images"),
        patch_size=config["patches"]["size"],
        seed=config["seed"],
        format=FORMAT["infer"],
    script:
        "../scripts/infer_image.py"


rule infer_gallery:
    """Report figure: pristine luma, JND-contaminated luma and JND map of test images."""
    input:
        splits=f"{RESULTS}/patches/splits.tsv",
        images=PRISTINE_DIR,
        profiles=[profile_file(image, key) for image in IMAGES for key in PROFILE_FILES],
    output:
        figure=report(
            f"{INFER}/gallery.png",
            caption="../report/infer_gallery.rst",
            category="5. JND profiles",
        ),
    log:
        f"{RESULTS}/logs/infer/gallery.log",
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=5,
    params:
        infer_dir=folder_of("profiles", up=2),
        images_dir=input_of("images"),
        gallery_images=config["infer"]["gallery_images"],
        map_max=config["infer"]["map_max"],
        format=FORMAT["infer"],
    script:
        "../scripts/infer_gallery.py"


# Target: the JND profile of every image and the report's gallery of test images.
rule infer:
    input:
        rules.infer_gallery.input.profiles,
        rules.infer_gallery.output,
    localrule: True
