"""The whole workflow end to end on a small config: report, determinism, and recovery from kills.

One clean run is the reference: the session's finished small run (tests/conftest.py), which
tests/test_golden.py and tests/test_config_effects.py read too, so these tests only read it
(one edits a copy). A second run of its config is killed with SIGKILL (Snakemake and all its
jobs) three times, mid-encode, mid-label stage and mid-training, and resumed with the
README's recovery commands (`snakemake --unlock`, then the run command); its dataset
checksums must equal the clean run's, training must resume from its last per-epoch
checkpoint, and no temporary file of the killed jobs may remain.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import REPO

pytestmark = pytest.mark.slow


def _command(workdir: Path, config: Path, *extra: str) -> list[str]:
    return [
        "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
        "--configfile", str(config), "--cores", "2", *extra,
    ]  # fmt: skip


def _run(workdir: Path, config: Path, *extra: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        _command(workdir, config, *extra), capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def _kill_when(workdir: Path, config: Path, ready, timeout_s: float = 240) -> None:
    """Start the run; SIGKILL Snakemake and every job it started once ``ready()`` holds."""
    process = subprocess.Popen(
        _command(workdir, config),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout_s
    try:
        while not ready():
            assert process.poll() is None, "the run ended before the kill point"
            assert time.monotonic() < deadline, "the kill point was never reached"
            time.sleep(0.05)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    # A killed Snakemake leaves its lock behind; README: `snakemake --unlock`, then run again.
    _run(workdir, config, "--unlock")


@pytest.fixture(scope="module")
def clean_run(finished_small_run) -> Path:
    """The working directory of the finished small run (read only)."""
    return finished_small_run[0]


@pytest.fixture(scope="module")
def small_config(clean_run) -> Path:
    return clean_run / "config.yaml"


def test_clean_run_produces_every_stage_and_the_report(clean_run, small_config, tmp_path):
    results = clean_run / "results"
    for name in [
        "quality/vvenc.tsv", "labels/jnd.tsv", "patches/train_pristine.npy",
        "train/checkpoint_best.pt", "evaluate/table_iv.tsv", "evaluate/jnd_qp_summary.tsv",
        "checksums.sha256",
    ]:  # fmt: skip
        assert (results / name).is_file(), name
    assert "simulated" in (results / "labels/jnd.tsv").read_text()
    _run(clean_run, small_config, "--report", str(tmp_path / "report.html"))
    report = (tmp_path / "report.html").read_text(errors="replace")
    assert "simulated" in report.lower()


def test_killed_run_resumes_to_identical_dataset(clean_run, small_config, tmp_path):
    workdir = tmp_path / "killed"
    ladder = workdir / "results/ladder/vvenc"
    _kill_when(workdir, small_config, lambda: len(list(ladder.glob("*/qp*.png"))) >= 3)
    assert not (workdir / "results/quality/vvenc.tsv").exists()
    label_log = workdir / "results/logs/labels/jnd.log"  # written once the job's imports are done
    _kill_when(workdir, small_config, label_log.exists)
    assert not (workdir / "results/labels/jnd.tsv").exists()
    state = workdir / "results/train/state"
    _kill_when(workdir, small_config, lambda: len(list(state.glob("*.pt"))) > 0)
    assert not (workdir / "results/train/checkpoint_best.pt").exists()
    _run(workdir, small_config)
    assert "resuming" in (workdir / "results/logs/train/train.log").read_text()
    temporary = (".tmp", ".part", ".decoded.yuv", "source.yuv")
    assert not [p for p in (workdir / "results").rglob("*") if p.name.endswith(temporary)]
    clean = (clean_run / "results/checksums.sha256").read_text()
    assert (workdir / "results/checksums.sha256").read_text() == clean
    clean_log = (clean_run / "results/train/log.csv").read_text().splitlines()
    resumed_log = (workdir / "results/train/log.csv").read_text().splitlines()
    losses = [line.split(",")[1:4] for line in clean_log]
    assert [line.split(",")[1:4] for line in resumed_log] == losses


def test_label_file_changed_after_ingestion_reruns_what_depends_on_it(clean_run, tmp_path):
    run = tmp_path / "run"  # a copy (times kept): the finished run stays as it is
    shutil.copytree(clean_run, run, symlinks=True)
    raw = run / "results/labels/simulated/f_session1.mat"
    raw.write_bytes(raw.read_bytes() + b"\0")  # edited after ingestion (a touch alone is not)
    planned = _run(run, run / "config.yaml", "-n").stdout
    for rule in ["labels_jnd", "patch_dataset", "train", "evaluate_models"]:
        assert re.search(rf"^\s*rule {rule}:", planned, re.M), rule
    assert not re.search(r"^\s*rule encode_ladder:", planned, re.M)
