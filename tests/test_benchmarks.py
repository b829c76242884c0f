"""`benchmarks/run_all.py --quick`: every stage's benchmark runs and lands in one table."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
STAGES = {"distort", "labels", "patches", "infer", "model", "gpu", "subjective", "planning"}


@pytest.mark.slow
def test_run_all_quick_prints_one_row_per_figure(tmp_path):
    """About 2 min on 2 cores (the distortion stage runs Snakemake twice). On a machine
    without CUDA its gpu stage is the CPU smoke run of benchmarks/gpu_check.py's checks
    (training float32 and AMP, exact resume, inference), which skips CUDA cleanly."""
    log = tmp_path / "scripts.log"
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks/run_all.py"), "--quick", "--markdown",
         "--log", str(log)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:] + log.read_text()[-4000:]
    assert result.stdout.startswith("Machine: ")
    lines = [line for line in result.stdout.splitlines() if line.startswith("|")]
    assert lines[0] == "| stage | figure | value | target | baseline ratio |"
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]
    assert {row[0] for row in rows} == STAGES
    for stage, figure, value, _target, ratio in rows:
        assert re.fullmatch(r"\d+(\.\d+)? \S+", value), (stage, figure, value)
        assert ratio == "" or re.match(r"\d+(\.\d+)? x \S", ratio), (stage, figure, ratio)
    # each stage's ratio against its baseline is in the table
    ratios = {row[0] for row in rows if row[4]}
    assert ratios == STAGES
    assert [row[2].split()[1] for row in rows if row[0] == "gpu"] == ["patch/s", "ms", "ms"]
    if not torch.cuda.is_available():
        gpu = "\n".join(line for line in log.read_text().splitlines() if line.startswith("[gpu]"))
        assert "CUDA: not available; the CUDA checks are skipped" in gpu
        assert gpu.count("resumed = uninterrupted: bit-identical") == 2
        assert "gpu_check: all checks passed" in gpu
