for jobs in image_jobs("encode_ladder", per_codec=True):

    rule:
        """Encode and decode images at every level of one codec's ladder: one image per job
        (or a batch, by images_per_job); finished levels survive a kill."""
        name:
            jobs.name
        input:
            images=PRISTINE_DIR,
        output:
            records=jobs.files(ladder_json),
        log:
            f"{RESULTS}/logs/{jobs.log_stem('ladder')}.log",
        benchmark:
            f"{RESULTS}/benchmarks/{jobs.log_stem('ladder')}.tsv"
        conda:
            "../../envs/encode.yaml"
        threads: config["encode"]["threads"]
        resources:
            mem_mb=jobs.sized(ladder_mem_mb),
            runtime=jobs.sized(ladder_runtime_min),
            # operational: a time-out cannot change a result, so it is no param (never reruns)
            timeout_s=config["encode"]["timeout_s"],
        params:
            encode=jobs.codec_value(ENCODE_SETTINGS),
            colour=settings("colour"),
            levels=jobs.codec_value(LEVELS),
            format=FORMAT["distort"],
        script:
            "../scripts/encode_ladder.py"
