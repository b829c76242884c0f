rule canonicalise_sources:
    """Decode, check and canonicalise every pristine image; write the sources manifest."""
    input:
        [str(source.path) for source in SOURCES],
    output:
        manifest=f"{RESULTS}/sources/manifest.tsv",
        images=[pristine_png(image) for image in IMAGES],
    params:
        sources=config["sources"],
    log:
        f"{RESULTS}/logs/sources.log",
    benchmark:
        f"{RESULTS}/benchmarks/sources.tsv"
    threads: 1
    resources:
        mem_mb=lambda wildcards, input: 1000
        + 10 * len(input)
        + math.ceil(20 * max(megapixels(path) for path in input)),
        runtime=lambda wildcards, input: 5 + len(input) // 20,
    conda:
        "../../envs/encode.yaml"
    script:
        "../scripts/sources.py"
