rule canonicalise_sources:
    """Decode, check and canonicalise every pristine image; write the sources manifest."""
    input:
        [str(source.path) for source in SOURCES],
    output:
        manifest=f"{RESULTS}/sources/manifest.tsv",
        images=[pristine_png(image) for image in IMAGES],
    log:
        f"{RESULTS}/logs/sources.log",
    benchmark:
        f"{RESULTS}/benchmarks/sources.tsv"
    conda:
        "../../envs/encode.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, input: 1000
        + math.ceil(20 * max(megapixels(path) for path in input) + 10 * len(input)),
        runtime=lambda wildcards, input: 5 + len(input) // 20,
    params:
        sources=config["sources"],
    script:
        "../scripts/sources.py"
