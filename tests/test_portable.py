"""Dataset records are portable: two installs of one commit in different folders, run from
different working directories, give identical checksums, and a reinstall re-encodes nothing.

The second install is a copy of the repository in another folder, with the ffmpeg wheel and
scikit-image seen through other folders too (symlink trees placed first on PYTHONPATH), so
that every install path the records could pick up differs between the two runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import imageio_ffmpeg
import pytest
import skimage
import yaml

from .conftest import REPO

pytestmark = pytest.mark.slow

SMALL = {
    "sources": {"names": ["chelsea", "coffee"], "session_size": 2,
                "resize": {"width": 240, "height": 176, "filter": "lanczos"}},
    "encode": {"qp": {"min": 27, "max": 42, "step": 5}},
    "quality": {"vmaf": False},
    "labels": {"min_subjects": 5, "simulate": {"metric": "psnr_y", "threshold": 36.0}},
    "patches": {"split": {"ratios": {"train": 1, "val": 0, "test": 0}}},
}  # fmt: skip


def _second_install(root: Path) -> dict[str, str]:
    """A copy of the repository and symlink trees of the wheels; the environment that uses it."""
    repo = root / "elsewhere" / "vvcjnd-checkout"
    ignore = shutil.ignore_patterns(".git", "results", ".snakemake", "__pycache__", "*.egg-info")
    shutil.copytree(REPO, repo, ignore=ignore)
    overlay = root / "other-site-packages"
    overlay.mkdir()
    for package in (imageio_ffmpeg, skimage):
        source = Path(package.__file__).parent
        subprocess.run(["cp", "-rs", str(source), str(overlay / source.name)], check=True)
    path = os.pathsep.join([str(overlay), str(repo), os.environ.get("PYTHONPATH", "")])
    return {"repo": str(repo), "PYTHONPATH": path}


def _snakemake(repo: Path, workdir: Path, env: dict | None, *extra: str) -> str:
    workdir.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    for section, values in SMALL.items():
        config[section] = {**config[section], **values}
    (workdir / "small.yaml").write_text(yaml.safe_dump(config))
    command = [
        "snakemake", "--snakefile", str(repo / "Snakefile"), "--configfile", "small.yaml",
        "--cores", "2", "results/checksums.sha256", *extra,
    ]  # fmt: skip
    result = subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, check=False,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def test_two_installs_give_identical_checksums_and_reuse_the_ladder(tmp_path):
    second = _second_install(tmp_path)
    env = {"PYTHONPATH": second["PYTHONPATH"]}
    _snakemake(REPO, tmp_path / "run-a", None)
    _snakemake(Path(second["repo"]), tmp_path / "work" / "run-b", env)
    first = (tmp_path / "run-a" / "results" / "checksums.sha256").read_text()
    assert first == (tmp_path / "work" / "run-b" / "results" / "checksums.sha256").read_text()
    for path in (tmp_path / "run-a" / "results").rglob("*"):
        if path.is_file() and path.suffix in (".tsv", ".json"):
            text = path.read_text()
            assert str(tmp_path) not in text and "site-packages" not in text, path

    # The other install on run a's finished results: nothing to do, and a forced ladder job
    # reuses every finished QP (no encoder runs).
    logs = tmp_path / "run-a" / "results" / "logs" / "ladder" / "vvenc"
    for log in logs.glob("*.log"):
        log.unlink()
    output = _snakemake(Path(second["repo"]), tmp_path / "run-a", env)
    assert "Nothing to be done" in output
    _snakemake(Path(second["repo"]), tmp_path / "run-a", env, "--forcerun", "encode_ladder")
    encodes = [line for log in logs.glob("*.log") for line in log.read_text().splitlines()
               if line.startswith("$ ") and "libvvenc" in line]  # fmt: skip
    assert len(list(logs.glob("*.log"))) == 2 and encodes == []
    assert (tmp_path / "run-a" / "results" / "checksums.sha256").read_text() == first
