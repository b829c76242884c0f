"""`benchmarks/run_all.py --quick`: every stage's benchmark runs and lands in one table."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
STAGES = {"distort", "labels", "patches", "infer", "model", "gpu", "subjective", "planning"}


@pytest.mark.slow
def test_run_all_quick_prints_one_row_per_figure():
    """About 2 min on 2 cores (the distortion stage runs Snakemake twice)."""
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks/run_all.py"), "--quick", "--markdown"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
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


def test_gpu_check_runs_and_skips_cuda_cleanly_on_the_cpu(tmp_path):
    """benchmarks/gpu_check.py on a machine without CUDA: the CPU smoke run of its checks
    (training float32 and AMP, exact resume, inference), about 10 s."""
    if torch.cuda.is_available():
        pytest.skip("a CUDA machine runs the full check: python benchmarks/gpu_check.py")
    summary = tmp_path / "gpu.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks/gpu_check.py"), "--summary", str(summary)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "CUDA: not available; the CUDA checks are skipped" in result.stdout
    assert result.stdout.count("resumed = uninterrupted: bit-identical") == 2
    assert "gpu_check: all checks passed" in result.stdout
    rows = json.loads(summary.read_text())
    assert [row["unit"] for row in rows] == ["patch/s", "ms", "ms"]
    assert all(row["stage"] == "gpu" and row["value"] > 0 for row in rows)
