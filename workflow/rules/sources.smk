rule index_sources:
    """List the pristine sources with each file's sha256: the one job whose inputs are all the
    source files (see PRISTINE_DIR)."""
    input:
        source_files(),
    output:
        index=SOURCE_INDEX,
    log:
        f"{RESULTS}/logs/sources_index.log",
    conda:
        "../../envs/encode.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=lambda wildcards: 5 + len(SOURCES) // 200,
    params:
        sources=source_settings(*CANONICAL_KEYS),
        # scikit-image's own images are no inputs (their install path differs between
        # installs): the package version stands for them
        shipped_images=shipped_images_version(),
    script:
        "../scripts/sources_index.py"


rule canonicalise_sources:
    """Decode, check and canonicalise every pristine image; write the sources manifest."""
    input:
        index=SOURCE_INDEX,
    output:
        manifest=f"{RESULTS}/sources/manifest.tsv",
        images=directory(PRISTINE_DIR),
    log:
        f"{RESULTS}/logs/sources.log",
    benchmark:
        f"{RESULTS}/benchmarks/sources.tsv"
    conda:
        "../../envs/encode.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards: 1000
        + math.ceil(20 * max(megapixels(s.path) for s in SOURCES) + 10 * len(SOURCES)),
        runtime=lambda wildcards: 5 + len(SOURCES) // 20,
    params:
        sources=source_settings(),
        format=FORMAT["sources"],
    script:
        "../scripts/sources.py"
