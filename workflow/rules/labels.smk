# Subjective labels: raw JND samples -> screened samples -> one JND QP per image.
# Source (config labels.source): a simulated panel (NOT human data; the embedded default),
# the published per-session MAT files, or a tidy CSV/TSV. See docs/labels.md.

from vvcjnd.paths import raw_label_files

LABELS = f"{RESULTS}/labels"
LABEL_SESSIONS = sorted(set(SESSION.values()))
LABEL_SOURCE_SECTIONS = {
    "simulated": "simulate",
    "mat": "mat",
    "tidy": "tidy",
    "test": "test",
}


def label_settings():
    """The labels section with only the configured source's own sub-section."""
    source = config["labels"]["source"]
    inactive = [s for k, s in LABEL_SOURCE_SECTIONS.items() if k != source]
    return settings("labels", *inactive)


rule labels_simulate:
    """A simulated observer panel (NOT human data) in the published per-session MAT layout."""
    input:
        manifest=f"{RESULTS}/sources/manifest.tsv",
        quality=f"{RESULTS}/quality/{ENCODER}.tsv",
    output:
        mats=expand(
            f"{LABELS}/simulated/f_session{{session}}.mat", session=LABEL_SESSIONS
        ),
        latent=f"{LABELS}/simulated/latent.tsv",
        panel=f"{LABELS}/simulated/panel.tsv",
    log:
        f"{RESULTS}/logs/labels/simulate.log",
    group:
        "labels"
    conda:
        "../../envs/labels.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        simulate=config["labels"]["simulate"],
        ladder=QPS,
        seed=config["seed"],
        format=FORMAT["labels"],
    script:
        "../scripts/labels_simulate.py"


rule labels_jnd:
    """Ingest the raw samples, screen observers, derive each image's JND QP and SUR curve."""
    input:
        manifest=f"{RESULTS}/sources/manifest.tsv",
        raw=raw_label_files(config["labels"], LABELS, LABEL_SESSIONS),
    output:
        jnd=f"{LABELS}/jnd.tsv",
        samples=f"{LABELS}/samples.tsv",
        screening=f"{LABELS}/screening.tsv",
        sur=f"{LABELS}/sur.tsv",
        record=f"{LABELS}/labels.json",
    log:
        f"{RESULTS}/logs/labels/jnd.log",
    benchmark:
        f"{RESULTS}/benchmarks/labels/jnd.tsv"
    group:
        "labels"
    conda:
        "../../envs/labels.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        labels=label_settings(),
        qp=config["encode"]["qp"],
        seed=config["seed"],
        format=FORMAT["labels"],
    script:
        "../scripts/labels_jnd.py"


rule labels_figures:
    """SUR curves, the JND-QP histogram and the subjects' mean offsets."""
    input:
        jnd=f"{LABELS}/jnd.tsv",
        samples=f"{LABELS}/samples.tsv",
        screening=f"{LABELS}/screening.tsv",
        sur=f"{LABELS}/sur.tsv",
    output:
        sur=report(
            f"{LABELS}/sur_curves.png",
            caption="../report/labels_sur.rst",
            category="2. Subjective labels",
        ),
        histogram=report(
            f"{LABELS}/jnd_histogram.png",
            caption="../report/labels_histogram.rst",
            category="2. Subjective labels",
        ),
        offsets=report(
            f"{LABELS}/subject_offsets.png",
            caption="../report/labels_offsets.rst",
            category="2. Subjective labels",
        ),
    log:
        f"{RESULTS}/logs/labels/figures.log",
    group:
        "labels"
    conda:
        "../../envs/labels.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        ladder=QPS,
        format=FORMAT["labels"],
    script:
        "../scripts/labels_figures.py"


rule labels:
    input:
        rules.labels_jnd.output,
        rules.labels_figures.output,
    localrule: True
