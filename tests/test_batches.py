"""images_per_job: several images per encode_ladder / infer_image job write the files one job
per image writes, and changing it reruns nothing (tests/config_effects.yaml)."""

from __future__ import annotations

import copy
import json
import math
import re
import shutil
from pathlib import Path

import numpy as np

from vvcjnd.config import validate_config
from vvcjnd.distort.codecs import codec_levels
from vvcjnd.distort.costs import ladder_memory_mb, ladder_runtime_minutes
from vvcjnd.images import write_png
from vvcjnd.paths import PROFILE_FILES

from .conftest import REPO
from .test_workflow import job_counts, snakemake

# the ladder records' wall times, the only bytes that differ between two encodes
TIMINGS = {"encode_s", "decode_s"}


def test_dry_run_plans_one_job_per_batch_of_images(tmp_path):
    result = snakemake("-n", "--cores", "2", "--directory", str(tmp_path),
                       "--config", "images_per_job=3")  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    counts = job_counts(result.stdout)
    batches = ["batch1", "batch2", "batch3"]  # the 7 default images: 3 + 3 + 1
    assert {f"encode_ladder_vvenc_{batch}" for batch in batches} <= set(counts)
    assert {f"infer_image_{batch}" for batch in batches} <= set(counts)
    assert "encode_ladder" not in counts and "infer_image" not in counts
    assert counts["image_quality"] == 7
    assert "results/logs/ladder/vvenc/batches/batch3.log" in result.stdout


def _without_timings(node):
    if isinstance(node, dict):
        return {k: _without_timings(v) for k, v in node.items() if k not in TIMINGS}
    if isinstance(node, list):
        return [_without_timings(v) for v in node]
    return node


def _same(clean: Path, batched: Path) -> None:
    if clean.suffix == ".json":
        assert _without_timings(json.loads(batched.read_text())) == _without_timings(
            json.loads(clean.read_text())
        ), batched
    else:
        assert batched.read_bytes() == clean.read_bytes(), batched


def _rerun_batches(run: Path, rules: list[str], targets: list[Path]) -> dict[str, int]:
    """Run ``rules`` again at two images per job for ``targets`` only: the job counts."""
    result = snakemake(
        "--directory", str(run), "--configfile", str(run / "config.yaml"), "--cores", "2",
        "--config", "images_per_job=2", "--forcerun", *rules,
        "--", *[str(path.relative_to(run)) for path in targets],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return job_counts(result.stderr)  # a run's job stats go to stderr


def test_batched_jobs_write_what_one_job_per_image_writes(finished_small_run, tmp_path):
    clean, _ = finished_small_run
    run = tmp_path / "run"
    shutil.copytree(clean, run, symlinks=True)
    # the profiles first: the ladders encoded again would be newer than the checkpoint
    infer = ["infer_image_batch1", "infer_image_batch2"]
    counts = _rerun_batches(run, infer, sorted((run / "results/infer").glob("*/*.*")))
    assert counts == {**dict.fromkeys(infer, 1), "total": 2}
    # no finished levels to reuse: every level is encoded again, by the batched jobs
    for folder in (run / "results/ladder/vvenc").iterdir():
        if folder.is_dir():
            shutil.rmtree(folder)
    ladder = ["encode_ladder_vvenc_batch1", "encode_ladder_vvenc_batch2"]
    counts = _rerun_batches(run, ladder, sorted((run / "results/ladder/vvenc").glob("*.json")))
    assert counts == {**dict.fromkeys(ladder, 1), "total": 2}
    compared = 0
    for folder in ("ladder", "infer"):
        for path in sorted((clean / "results" / folder).rglob("*")):
            if path.is_file():
                _same(path, run / path.relative_to(clean))
                compared += 1
    assert compared > 3 * 4 * 2  # three images, four levels, bitstream and decoded PNG
    log = (run / "results/logs/ladder/vvenc/batches/batch1.log").read_text()
    assert "chelsea" in log and "coffee" in log


def test_all_asks_for_every_profile_file(finished_small_run, tmp_path):
    """A missing profile file of any kind is made again, also one whose readers (the gallery,
    the evaluation) are up to date: Snakemake makes a missing file again only for a job that
    needs it, so `all` lists them all (each image misses one file per plan)."""
    clean, _ = finished_small_run
    run = tmp_path / "run"
    shutil.copytree(clean, run, symlinks=True)
    images = sorted(path.name for path in (run / "results/infer").iterdir() if path.is_dir())
    keys = list(PROFILE_FILES)
    for plan_keys in (keys[: len(images)], keys[len(images) :]):
        removed = []
        for image, key in zip(images, plan_keys, strict=False):
            removed.append(run / "results/infer" / image / PROFILE_FILES[key])
            removed[-1].rename(removed[-1].with_suffix(".kept"))
        result = snakemake("-n", "--directory", str(run), "--configfile", str(run / "config.yaml"))
        assert result.returncode == 0, result.stderr[-2000:]
        assert "Job stats:" in result.stdout, (plan_keys, result.stdout[-2000:])
        planned = job_counts(result.stdout)
        assert planned.get("infer_image") == len(removed), (plan_keys, planned)
        for path in removed:
            path.with_suffix(".kept").rename(path)


def _job_resources(listing: str) -> dict[tuple[str, str], dict[str, int]]:
    """{(rule, image wildcard or ""): integer resources} of a dry run's job list."""
    jobs = {}
    for block in listing.split("\n\n"):
        rule = re.search(r"^(?:local)?rule (\w+):", block, re.M)
        resources = re.search(r"^\s+resources: (.*)$", block, re.M)
        if rule and resources:
            image = re.search(r"^\s+wildcards: .*\bimage=([\w.-]+)", block, re.M)
            values = dict(item.split("=", 1) for item in resources.group(1).split(", "))
            jobs[rule.group(1), image.group(1) if image else ""] = {
                key: int(value) for key, value in values.items() if value.isdigit()
            }
    return jobs


def test_jobs_ask_for_resources_by_their_images_sizes(finished_small_run, tmp_path):
    """A job's memory and runtime follow the sizes of its pristine images, read from the
    files: a batch asks for the sum of its images' ladder runtimes and for its largest image's
    memory; image_quality for its one image's."""
    clean, config = finished_small_run
    config = copy.deepcopy(config)
    validate_config(config, REPO / "workflow/schemas")  # fills in the schema's defaults
    run = tmp_path / "run"
    shutil.copytree(clean, run, symlinks=True)
    big = run / "results/sources/images/coffee.png"  # chelsea and coffee: the first batch
    write_png(big, np.zeros((800, 1000, 3), np.uint8))
    result = snakemake(
        "-n", "--directory", str(run), "--configfile", str(run / "config.yaml"),
        "--config", "images_per_job=2", "--forcerun", "encode_ladder_vvenc_batch1",
        "image_quality", "--", "results/quality/vvenc.tsv",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    jobs = _job_resources(result.stdout)
    threads, levels = config["encode"]["threads"], codec_levels(config["encode"], "vvenc")
    resize = config["sources"]["resize"]
    sizes = {"chelsea": resize["width"] * resize["height"] / 1e6, "coffee": 0.8}
    runtime = sum(
        ladder_runtime_minutes(
            "vvenc", config["encode"]["vtm"]["seconds_per_megapixel"], levels, size, threads
        )
        for size in sizes.values()
    )
    assert jobs["encode_ladder_vvenc_batch1", ""]["runtime"] == runtime
    assert jobs["encode_ladder_vvenc_batch1", ""]["mem_mb"] == ladder_memory_mb(0.8, threads)
    for image, size in sizes.items():
        assert jobs["image_quality", image]["mem_mb"] == 500 + math.ceil(200 * size), image
