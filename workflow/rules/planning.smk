# Protocol planning (docs/subjective.md, "Planning a test"): the label stage's simulated
# observers run through the test's procedures (bisection, QUEST+, collective QUEST+) with a
# simulated answerer, for several panel sizes. No browser, no server, no human data.


rule subjective_planning:
    """Trials per image, time per subject and JND-point error per procedure and panel size."""
    input:
        manifest=f"{RESULTS}/sources/manifest.tsv",
        quality=f"{RESULTS}/quality/{ENCODER}.tsv",
    output:
        table=report(
            f"{RESULTS}/subjective/planning.tsv",
            caption="../report/subjective_planning_table.rst",
            category="2. Subjective labels",
        ),
        figure=report(
            f"{RESULTS}/subjective/planning.png",
            caption="../report/subjective_planning.rst",
            category="2. Subjective labels",
        ),
    log:
        f"{RESULTS}/logs/subjective/planning.log",
    conda:
        "../../envs/labels.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        simulate=planning_observer_settings(),
        quest=quest_settings(),
        planning=settings("subjective")["planning"],
        ladder=QPS,
        axis=AXIS_PARAM,
        seed=config["seed"],
        format=FORMAT["labels"],
    script:
        "../scripts/subjective_planning.py"
