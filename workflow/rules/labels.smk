# Subjective labels: raw JND samples -> screened samples -> one JND QP per image.
# Source (config labels.source): a simulated panel (NOT human data; the embedded default),
# the published per-session MAT files, or a tidy CSV/TSV. See docs/labels.md.

from vvcjnd.paths import raw_label_files

LABELS = f"{RESULTS}/labels"
LABEL_SESSIONS = sorted(set(SESSION.values()))
# A collective QUEST+ test has no per-subject samples: no observer model, no per-subject fits.
TEST_PROCEDURE = (
    config["subjective"]["procedure"] if config["labels"]["source"] == "test" else None
)
PER_SUBJECT_SAMPLES = TEST_PROCEDURE != "quest_collective"


rule labels_simulate:
    """A simulated observer panel (NOT human data) in the published per-session MAT layout."""
    input:
        manifest=f"{RESULTS}/sources/manifest.tsv",
        quality=f"{RESULTS}/quality/{ENCODER}.tsv",
        fit_from=(
            [config["labels"]["simulate"]["fit_from"]]
            if config["labels"]["simulate"]["fit_from"]
            else []
        ),
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
        simulate=settings("labels")["simulate"],
        ladder=QPS,
        axis=AXIS_PARAM,
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
        encode=ladder_settings(),
        procedure=TEST_PROCEDURE,  # the test database's, checked
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
        axis=AXIS_PARAM,
        format=FORMAT["labels"],
    script:
        "../scripts/labels_figures.py"


rule labels_observers:
    """The observer model of the screened samples, the how-many-subjects table, both figures."""
    input:
        samples=f"{LABELS}/samples.tsv",
        jnd=f"{LABELS}/jnd.tsv",
    output:
        subjects=report(
            f"{LABELS}/observers.tsv",
            caption="../report/labels_observers_table.rst",
            category="2. Subjective labels",
        ),
        images=f"{LABELS}/latent_jnd.tsv",
        planning=report(
            f"{LABELS}/subjects_needed.tsv",
            caption="../report/labels_subjects_needed_table.rst",
            category="2. Subjective labels",
        ),
        record=f"{LABELS}/observers.json",
        observers_figure=report(
            f"{LABELS}/observers.png",
            caption="../report/labels_observers.rst",
            category="2. Subjective labels",
        ),
        planning_figure=report(
            f"{LABELS}/subjects_needed.png",
            caption="../report/labels_subjects_needed.rst",
            category="2. Subjective labels",
        ),
    log:
        f"{RESULTS}/logs/labels/observers.log",
    group:
        "labels"
    conda:
        "../../envs/labels.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        jnd=settings("labels")["jnd"],
        uncertainty={
            k: v
            for k, v in settings("labels")["uncertainty"].items()
            if k != "bootstrap"
        },
        ladder=QPS,
        axis=AXIS_PARAM,
        seed=config["seed"],
        format=FORMAT["labels"],
    script:
        "../scripts/labels_observers.py"


rule labels_trials:
    """Psychometric fits of the subjective test's trials (labels.source: test only)."""
    input:
        trials=config["labels"]["test"]["path"],
        samples=f"{LABELS}/samples.tsv",
    output:
        images=f"{LABELS}/trials/psychometric.tsv",
        subjects=f"{LABELS}/trials/thresholds.tsv",
        figure=report(
            f"{LABELS}/trials/thresholds.png",
            caption="../report/labels_trials.rst",
            category="2. Subjective labels",
        ),
    log:
        f"{RESULTS}/logs/labels/trials.log",
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
        axis=AXIS_PARAM,
        format=FORMAT["labels"],
    script:
        "../scripts/labels_trials.py"


rule labels:
    input:
        rules.labels_jnd.output,
        rules.labels_figures.output,
        rules.labels_observers.output if PER_SUBJECT_SAMPLES else [],
        (
            rules.labels_trials.output
            if TEST_PROCEDURE is not None and PER_SUBJECT_SAMPLES
            else []
        ),
    localrule: True
