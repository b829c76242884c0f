"""`benchmarks/run_all.py --quick`: every stage's benchmark runs and lands in one table."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
STAGES = {"distort", "labels", "patches", "infer", "model", "subjective"}


@pytest.mark.slow
def test_run_all_quick_prints_one_row_per_figure():
    """About 1 min on 2 cores (the distortion stage runs Snakemake twice)."""
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
