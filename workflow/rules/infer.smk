for jobs in image_jobs("infer_image", per_codec=False):

    rule:
        """JND profiles of one image (or a batch, by images_per_job): JND-contaminated luma,
        JND map (.npy and colour PNG), PSNR."""
        name:
            jobs.name
        input:
            images=PRISTINE_DIR,
            checkpoint=MODEL_CHECKPOINT,
        output:
            # each image's PROFILE_FILES, in their order
            profiles=[
                path
                for image_files in jobs.files(profile_files)
                for path in image_files
            ],
        log:
            f"{RESULTS}/logs/{jobs.log_stem('infer')}.log",
        benchmark:
            f"{RESULTS}/benchmarks/{jobs.log_stem('infer')}.tsv"
        conda:
            "../../envs/torch.yaml"
        threads: config["infer"]["threads"]
        resources:
            # about 15 s per 1080p image on 2 cores at the paper's width; 1.5 GB at batch 64
            mem_mb=jobs.sized(
                lambda codec, sizes, threads: 1000 + math.ceil(250 * max(sizes))
            ),
            runtime=jobs.sized(
                lambda codec, sizes, threads: 5
                + sum(math.ceil(size) for size in sizes)
            ),
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
        # the two files of each image the gallery reads (fewer inputs plan faster)
        profiles=[profile_file(image, key) for image in IMAGES for key in GALLERY_FILES],
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
        [profile_file(image, key) for image in IMAGES for key in PROFILE_FILES],
        rules.infer_gallery.output,
    localrule: True
