rule checksums:
    """sha256 of every dataset file (`sha256  path` lines), to compare runs byte for byte."""
    input:
        rules.dataset.input,
    output:
        f"{RESULTS}/checksums.sha256",
    log:
        f"{RESULTS}/logs/checksums.log",
    conda:
        "../../envs/encode.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=lambda wildcards: 5 + len(IMAGES) * len(QPS) // 500,
    script:
        "../scripts/checksums.py"
