"""The workflow on a real one-node SLURM cluster (tests/slurm/run_cluster.sh).

The cluster tests need root and Debian's packages (installed with apt-get when missing); they
skip with the reason where SLURM cannot be started, except under CI=true, where they fail.
The profile checks at the top run everywhere.
"""

from __future__ import annotations

import copy
import csv
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from .conftest import cannot_run

SLURM_TEST = "SLURM cluster test"

REPO = Path(__file__).resolve().parents[1]
CLUSTER_SCRIPT = REPO / "tests" / "slurm" / "run_cluster.sh"
TEST_PROFILE_OVERRIDES = REPO / "tests" / "slurm" / "profile" / "config.yaml"
SLURM_PROFILE = REPO / "profiles" / "slurm" / "config.yaml"
DEFAULT_PROFILE = REPO / "profiles" / "default" / "config.yaml"
CLUSTER_EXECUTORS = {"slurm", "cluster-generic", "cluster-sync", "lsf", "googlebatch", "kubernetes"}
SIGINT_GRACE_S = 60
SLURM_PLUGIN = "snakemake_executor_plugin_slurm"


def load_yaml(path: Path) -> dict:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def deep_merge(base: dict, overrides: dict) -> dict:
    """Copy of base with overrides applied key by key, descending into nested mappings."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def write_test_profile(folder: Path, extra: dict | None = None) -> Path:
    """Write profiles/slurm merged with the test overrides (and extra) to folder/config.yaml."""
    profile = deep_merge(load_yaml(SLURM_PROFILE), load_yaml(TEST_PROFILE_OVERRIDES))
    profile = deep_merge(profile, extra or {})
    profile["cores"] = min(profile["cores"], os.cpu_count() or 1)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return folder


def cluster_min_job_age() -> int:
    """MinJobAge (seconds) that run_cluster.sh writes into slurm.conf."""
    match = re.search(r"^MinJobAge=(\d+)$", CLUSTER_SCRIPT.read_text(), flags=re.MULTILINE)
    assert match, f"{CLUSTER_SCRIPT} writes no MinJobAge"
    return int(match.group(1))


# --- profile checks (no cluster needed) -------------------------------------------------


def test_default_profile_never_selects_a_cluster_executor():
    profile = load_yaml(DEFAULT_PROFILE)
    assert profile.get("executor", "local") not in CLUSTER_EXECUTORS
    assert not any(key.startswith(("slurm", "cluster")) for key in profile)


def test_slurm_profile_selects_slurm_and_asks_a_gpu_for_training():
    profile = load_yaml(SLURM_PROFILE)
    assert profile["executor"] == "slurm"
    assert {"mem_mb", "runtime"} <= set(profile["default-resources"])
    train = profile["set-resources"]["train"]
    assert train.get("gpu", 0) >= 1 or "gpu" in str(train.get("gres", ""))
    assert all(size >= 1 for size in profile["group-components"].values())
    assert profile["group-components"]["metrics"] >= 2  # many per-image jobs share one


def test_test_profile_status_checks_fit_the_cluster_min_job_age():
    """squeue forgets a finished job after MinJobAge; the plugin needs 3 x the first delay."""
    overrides = load_yaml(TEST_PROFILE_OVERRIDES)
    assert overrides["slurm-status-command"] == "squeue"
    assert cluster_min_job_age() >= 3 * overrides["slurm-init-seconds-before-status-checks"]


def declared_rules_and_groups() -> tuple[set[str], set[str]]:
    """Rule names and `group:` names declared in workflow/rules/*.smk and the Snakefile (a
    per-image step counts under its per-image rule name; its batch rules are not grouped)."""
    texts = [path.read_text() for path in (REPO / "workflow" / "rules").glob("*.smk")]
    texts.append((REPO / "Snakefile").read_text())
    rules, groups = set(), set()
    for text in texts:
        rules |= set(re.findall(r"^rule (\w+):", text, flags=re.MULTILINE))
        # per-image steps whose rules common.smk's image_jobs() declares in a loop
        rules |= set(re.findall(r"^for \w+ in image_jobs\(\"(\w+)\"", text, flags=re.MULTILINE))
        groups |= set(re.findall(r"^\s+group:\s*\n\s+[\"'](\w+)[\"']", text, re.MULTILINE))
    return rules, groups


def test_slurm_profile_names_rules_and_groups_of_the_workflow():
    """Per-rule resources, groups and group sizes refer to what the workflow declares, and every
    group (of a rule or of the profile) has a size (an unsized group would submit each
    connected piece as its own job)."""
    profile = load_yaml(SLURM_PROFILE)
    rules, groups = declared_rules_and_groups()
    assert set(profile["set-resources"]) <= rules, sorted(set(profile["set-resources"]) - rules)
    assert set(profile["groups"]) <= rules, sorted(set(profile["groups"]) - rules)
    groups |= set(profile["groups"].values())
    sizes = set(profile["group-components"])
    assert sizes == groups, (
        f"profiles/slurm group-components {sorted(sizes)} != groups of the rules {sorted(groups)}"
    )


def test_slurm_executor_is_the_slurm_extra_only():
    """A local install (the README's `.[dev]`) has no SLURM plugin: Snakemake imports every
    installed executor plugin at each start, and this one then runs `scontrol show config`,
    which waits about 10 s where a SLURM client is installed but no controller answers."""
    with open(REPO / "pyproject.toml", "rb") as handle:
        project = tomllib.load(handle)["project"]
    plugin = SLURM_PLUGIN.replace("_", "-")
    extras = project["optional-dependencies"]
    assert not [r for r in project["dependencies"] + extras["dev"] if r.startswith(plugin)]
    assert [r for r in extras["slurm"] if r.startswith(plugin)]
    # the cluster's docs and CI install that extra
    assert ".[slurm]" in (REPO / "docs" / "cluster.md").read_text()
    assert '".[slurm]"' in (REPO / ".ci" / "run").read_text()


def test_deep_merge_keeps_sibling_keys():
    base = {"default-resources": {"mem_mb": 2000, "runtime": 30}, "jobs": 100}
    merged = deep_merge(base, {"default-resources": {"slurm_partition": "debug"}, "jobs": 4})
    assert merged == {
        "default-resources": {"mem_mb": 2000, "runtime": 30, "slurm_partition": "debug"},
        "jobs": 4,
    }
    assert base["default-resources"] == {"mem_mb": 2000, "runtime": 30}


# --- the cluster --------------------------------------------------------------------------


def cluster_is_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    status = subprocess.run(
        ["bash", str(CLUSTER_SCRIPT), "status"], capture_output=True, text=True, timeout=60
    )
    return status.returncode == 0


@pytest.fixture(scope="module")
def slurm_cluster():
    """A running one-node cluster; started (and stopped afterwards) unless already up."""
    if importlib.util.find_spec(SLURM_PLUGIN) is None:
        cannot_run(SLURM_TEST, "needs the SLURM executor plugin: pip install -e '.[slurm]'")
    if os.geteuid() != 0:
        cannot_run(SLURM_TEST, "needs root to install and start SLURM (tests/slurm/run_cluster.sh)")
    if shutil.which("slurmctld") is None and shutil.which("apt-get") is None:
        cannot_run(SLURM_TEST, "SLURM is not installed and there is no apt-get to install it")
    started_here = not cluster_is_up()
    if started_here:
        start = subprocess.run(
            ["bash", str(CLUSTER_SCRIPT), "start"], capture_output=True, text=True, timeout=900
        )
        if start.returncode != 0:
            cannot_run(SLURM_TEST, f"run_cluster.sh start failed:\n{start.stderr[-3000:]}")
    yield
    if started_here:
        subprocess.run(["bash", str(CLUSTER_SCRIPT), "stop"], check=True, timeout=120)


def cancel_jobs_under(folder: Path) -> None:
    """scancel every SLURM job whose working directory lies in folder."""
    listing = subprocess.run(
        ["squeue", "--noheader", "--format=%i|%Z"], capture_output=True, text=True, timeout=60
    )
    for line in listing.stdout.splitlines():
        job_id, _, workdir = line.partition("|")
        if Path(workdir).resolve().is_relative_to(folder.resolve()):
            subprocess.run(["scancel", job_id], timeout=60)


def start_snakemake(args: list[str], workdir: Path) -> subprocess.Popen:
    """Start Snakemake in workdir, its output going to workdir/snakemake.out."""
    command = [sys.executable, "-m", "snakemake", "--directory", str(workdir), *args]
    with open(workdir / "snakemake.out", "w", encoding="utf-8") as log:
        return subprocess.Popen(command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)


def finish_snakemake(process: subprocess.Popen, workdir: Path, timeout_s: float) -> str:
    """Wait for a started Snakemake and return its output; SIGINT on timeout, then clean up.

    SIGTERM does not stop a Snakemake that waits on SLURM; SIGINT makes it cancel its jobs.
    """
    try:
        returncode = process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=SIGINT_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if shutil.which("squeue"):
            cancel_jobs_under(workdir)
        output = (workdir / "snakemake.out").read_text(encoding="utf-8", errors="replace")
        pytest.fail(
            f"snakemake in {workdir} ran past {timeout_s} s; output tail:\n{output[-4000:]}"
        )
    output = (workdir / "snakemake.out").read_text(encoding="utf-8", errors="replace")
    assert returncode == 0, f"snakemake in {workdir} failed ({returncode}):\n{output[-6000:]}"
    return output


TOY_SNAKEFILE = """
rule all:
    input:
        expand("tiny/{i}.txt", i=range(3)),
        "wide.txt",


rule tiny:
    output:
        "tiny/{i}.txt",
    group:
        "toy"
    resources:
        mem_mb=100,
        runtime=2,
    shell:
        "echo $SLURM_JOB_ID > {output}"


rule wide:
    output:
        "wide.txt",
    threads: 64
    group:
        "toy"
    resources:
        mem_mb=100,
        runtime=2,
    shell:
        "echo {threads} $SLURM_CPUS_PER_TASK $SLURM_JOB_ID > {output}"
"""


@pytest.mark.slurm
def test_toy_workflow_runs_on_slurm_grouped_and_capped(slurm_cluster, tmp_path):
    """Grouped jobs share one SLURM job; a rule asking 64 threads is capped, not left PENDING."""
    profile = write_test_profile(tmp_path / "profile", {"group-components": {"toy": 4}})
    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / "Snakefile").write_text(TOY_SNAKEFILE)
    process = start_snakemake(["--workflow-profile", str(profile)], workdir)
    finish_snakemake(process, workdir, timeout_s=120)

    threads, cpus_per_task, wide_job = (workdir / "wide.txt").read_text().split()
    job_ids = {(workdir / f"tiny/{i}.txt").read_text().strip() for i in range(3)} | {wide_job}
    assert len(job_ids) == 1 and job_ids != {""}, f"grouped jobs ran as SLURM jobs {job_ids}"
    cores = load_yaml(profile / "config.yaml")["cores"]
    assert int(threads) == int(cpus_per_task) == cores


# --- the real workflow: SLURM and local runs give the same files -------------------------

SMALL_CONFIG = {
    "sources": {"names": ["astronaut", "chelsea"]},
    "encode": {"qp": {"min": 32, "max": 36, "step": 4}, "threads": 1},
}
TARGET = "distortion"
# Wall-clock seconds, recorded beside the results; the only fields that may differ.
WALL_CLOCK_FIELDS = {"encode_s", "decode_s"}
# Logs and benchmarks describe the run itself, not its results.
RUN_RECORDS = ("results/logs", "results/benchmarks")


def without_wall_clock(path: Path):
    """A JSON record or TSV table without its wall-clock fields; other files as bytes."""
    if path.suffix == ".json":

        def strip(value):
            if isinstance(value, dict):
                return {k: strip(v) for k, v in value.items() if k not in WALL_CLOCK_FIELDS}
            if isinstance(value, list):
                return [strip(v) for v in value]
            return value

        return strip(json.loads(path.read_text()))
    if path.suffix == ".tsv":
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle, delimiter="\t"))
        keep = [i for i, name in enumerate(rows[0]) if name not in WALL_CLOCK_FIELDS]
        return [[row[i] for i in keep] for row in rows]
    return path.read_bytes()


def result_files(workdir: Path) -> set[str]:
    return {
        path.relative_to(workdir).as_posix()
        for path in (workdir / "results").rglob("*")
        if path.is_file() and not path.relative_to(workdir).as_posix().startswith(RUN_RECORDS)
    }


def slurm_job_comments(workdir: Path) -> list[str]:
    """Comments (rule or group names) of the SLURM jobs that ran in workdir."""
    listing = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--format=%Z|%k"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [
        comment
        for folder, _, comment in (line.partition("|") for line in listing.stdout.splitlines())
        if Path(folder).resolve() == workdir.resolve()
    ]


@pytest.mark.slurm
def test_workflow_on_slurm_equals_local_run(slurm_cluster, tmp_path):
    """profiles/slurm runs a small config of the real workflow to the same bytes as a local run."""
    config = deep_merge(load_yaml(REPO / "config.yaml"), SMALL_CONFIG)
    profile = write_test_profile(tmp_path / "profile")
    runs = {}
    for name in ("local", "slurm"):
        runs[name] = tmp_path / name
        runs[name].mkdir()
        (runs[name] / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    common = ["--snakefile", str(REPO / "Snakefile"), "--configfile", "config.yaml"]
    # Side by side, to keep the test short. The local run gets profiles/default, which
    # Snakemake loads from beside the Snakefile.
    slurm_run = start_snakemake(
        [*common, "--workflow-profile", str(profile), TARGET], runs["slurm"]
    )
    local_run = start_snakemake([*common, "--cores", "1", TARGET], runs["local"])
    try:
        finish_snakemake(slurm_run, runs["slurm"], timeout_s=210)
        finish_snakemake(local_run, runs["local"], timeout_s=30)
    finally:
        for process in (slurm_run, local_run):
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                process.wait(timeout=SIGINT_GRACE_S)

    local, slurm = result_files(runs["local"]), result_files(runs["slurm"])
    assert local == slurm, f"only local: {local - slurm}; only slurm: {slurm - local}"
    byte_equal = {
        f for f in local if (runs["local"] / f).read_bytes() == (runs["slurm"] / f).read_bytes()
    }
    differing = sorted(
        f
        for f in local - byte_equal
        if without_wall_clock(runs["local"] / f) != without_wall_clock(runs["slurm"] / f)
    )
    assert not differing, f"SLURM and local results differ in {differing}"
    images = SMALL_CONFIG["sources"]["names"]
    assert sum(f.endswith(".png") and "/ladder/" in f for f in byte_equal) == 2 * len(images)

    comments = slurm_job_comments(runs["slurm"])
    assert sum("encode_ladder" in c for c in comments) == len(images), comments
    assert sum("image_quality" in c for c in comments) == 1, f"metrics not grouped: {comments}"
