"""images_per_job: several images per encode_ladder / infer_image job write the files one job
per image writes, and changing it reruns nothing (tests/config_effects.yaml)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from vvcjnd.paths import PROFILE_FILES

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
