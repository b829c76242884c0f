rule encode_ladder:
    """Encode and decode one image at every level of one codec's ladder (finished levels
    survive a kill)."""
    input:
        images=PRISTINE_DIR,
    output:
        record=ladder_json("{image}", "{encoder}"),
    log:
        f"{RESULTS}/logs/ladder/{{encoder}}/{{image}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/ladder/{{encoder}}/{{image}}.tsv"
    conda:
        "../../envs/encode.yaml"
    threads: config["encode"]["threads"]
    resources:
        mem_mb=ladder_mem_mb,
        runtime=ladder_runtime_min,
        # operational: a time-out cannot change a result, so it is no param (never reruns)
        timeout_s=config["encode"]["timeout_s"],
    params:
        encode=lambda wildcards: ENCODE_SETTINGS[wildcards.encoder],
        colour=settings("colour"),
        levels=lambda wildcards: LEVELS[wildcards.encoder],
        format=FORMAT["distort"],
    script:
        "../scripts/encode_ladder.py"
