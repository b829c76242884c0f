"""The Snakemake workflow: dry-run plans, start-up errors, and one small end-to-end run."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import skimage.data
import yaml
from PIL import Image

from .conftest import REPO, small_filesystem


def snakemake(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["snakemake", "--snakefile", str(REPO / "Snakefile"), *args],
        cwd=cwd, capture_output=True, text=True, check=False,
    )  # fmt: skip


def job_counts(output: str) -> dict[str, int]:
    block = output.split("Job stats:", 1)[1]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", block, re.M)}


def test_dry_run_plans_the_default_jobs(tmp_path):
    result = snakemake("-n", "--cores", "2", "--directory", str(tmp_path))
    assert result.returncode == 0, result.stderr + result.stdout
    counts = job_counts(result.stdout)
    assert counts["canonicalise_sources"] == 1
    assert counts["encode_ladder"] == 7
    assert counts["image_quality"] == 7
    assert counts["quality_table"] == 1


@pytest.mark.parametrize(
    ("override", "named"),
    [("encode={'qp': {'max': 99}}", "encode.qp.max"), ("colur={}", "'colur'")],
)
def test_bad_config_fails_before_any_job_naming_the_key(tmp_path, override, named):
    result = snakemake("-n", "--cores", "1", "--directory", str(tmp_path), "--config", override)
    assert result.returncode != 0
    assert named in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def _fake_vtm(tmp_path: Path) -> dict:
    paths = {}
    for name in ("EncoderApp", "DecoderApp"):
        tool = tmp_path / "vtm" / "bin" / name
        tool.parent.mkdir(parents=True, exist_ok=True)
        tool.write_text("#!/bin/sh\nexit 1\n")
        tool.chmod(0o755)
        paths[name] = str(tool)
    cfg = tmp_path / "vtm" / "cfg" / "encoder_intra_vtm.cfg"
    cfg.parent.mkdir(parents=True)
    cfg.write_text("# cfg\n")
    return {"encoder": paths["EncoderApp"], "decoder": paths["DecoderApp"], "cfg": str(cfg)}


def test_paper_config_plans_once_vtm_paths_exist(tmp_path):
    images = tmp_path / "pristine"
    images.mkdir()
    for index in range(3):
        Image.fromarray(skimage.data.astronaut()).save(images / f"raise_{index}.png")
    paper = yaml.safe_load((REPO / "configs" / "paper.yaml").read_text())
    paper["sources"]["path"] = str(images)
    paper["encode"]["vtm"].update(_fake_vtm(tmp_path))
    samples = tmp_path / "jnd_samples.tsv"
    samples.write_text("image_id\tsubject_id\tjnd_qp\n")  # only needs to exist for planning
    paper["labels"]["tidy"]["path"] = str(samples)
    config = tmp_path / "paper.yaml"
    config.write_text(yaml.safe_dump(paper))
    result = snakemake(
        "-n", "--cores", "8", "--directory", str(tmp_path), "--configfile", str(config)
    )
    assert result.returncode == 0, result.stderr + result.stdout
    counts = job_counts(result.stdout)
    assert counts["encode_ladder"] == 3 and counts["train"] == 1 and counts["infer_image"] == 3
    missing = snakemake(
        "-n", "--cores", "1", "--directory", str(tmp_path), "--configfile", str(config),
        "--config", "encode={'encoder': 'vtm', 'vtm': {'encoder': '/no/EncoderApp'}}",
    )  # fmt: skip
    assert missing.returncode != 0 and "encode.vtm.encoder" in missing.stdout + missing.stderr


@pytest.mark.parametrize(
    ("read_only", "message"),
    [
        (False, r"cannot write \S*results/sources/images/\w+\.png: No space left on device"),
        (True, r"results/sources\.\s+OSError: \[Errno 30\] Read-only file system"),
    ],
)
def test_full_or_read_only_results_folder_fails_clearly_leaving_nothing(
    tmp_path, read_only, message
):
    # 1 MB holds two or three of the seven canonical PNGs: the source job fails part-way.
    with small_filesystem(tmp_path / "results", size_kb=1024, read_only=read_only) as results:
        result = snakemake(
            "results/sources/manifest.tsv", "--cores", "2", "--directory", str(tmp_path)
        )
        assert result.returncode != 0
        assert re.search(message, result.stdout + result.stderr), result.stderr[-3000:]
        # Snakemake removed the failed job's outputs; our atomic writes left no temporaries.
        # The sources index (1 kB) is the finished job before it.
        left = {path.relative_to(results).as_posix() for path in results.rglob("*")}
        assert not {name for name in left if name.startswith("sources/")} - {
            "sources",
            "sources/images",
            "sources/index.tsv",
        }
        assert not [name for name in left if name.endswith(".tmp")]
