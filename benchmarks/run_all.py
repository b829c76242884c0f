"""Run every stage's benchmark and print one table of the headline figures.

Each ``bench_*.py`` script runs in turn as a child process with ``--summary FILE``; its own
output streams to stderr (or ``--log FILE``), and the table (stage, figure, value, target,
ratio to a baseline measured in the same run) goes to stdout, under a line naming the
machine and the load average before and after. Full settings are the scripts' defaults
(several minutes; the distortion stage alone about 6 on 2 cores); ``--quick`` is a smoke
run of under 1 min whose figures are not comparable with the targets.

    python benchmarks/run_all.py [--quick] [--only STAGE ...] [--markdown] [--log FILE]
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from summary import Row, read_summary

HERE = Path(__file__).resolve().parent

# stage -> (script, arguments of --quick); full runs use the scripts' defaults
STAGES = {
    "distort": ("bench_distort.py", ["--images", "1", "--qp-step", "19"]),
    "planning": (
        "bench_planning.py",
        ["--images", "200", "--images-per-job", "10", "--baseline-images", "50", "--repeats", "1"],
    ),
    "labels": ("bench_labels.py", ["--resamples", "200", "--repeats", "1"]),
    "patches": ("bench_patches.py", ["--images", "4", "--repeats", "3"]),
    "infer": ("bench_infer.py", ["--repeats", "1", "--width", "8", "--size", "640x360"]),
    "model": (
        "bench_model.py",
        ["--width", "8", "--repeats", "1", "--batches", "16", "--train-batch", "4"],
    ),
    "gpu": ("gpu_check.py", []),  # CUDA checks; without CUDA a CPU smoke run (about 10 s)
    "subjective": (
        "bench_subjective.py",
        ["--subjects", "5", "--think-ms", "100", "--max-seconds", "30", "--kill"],
    ),
}
COLUMNS = ["stage", "figure", "value", "target", "baseline ratio"]


def cpu_model() -> str:
    """The CPU model name from ``lscpu`` (else platform.processor() or the architecture)."""
    try:
        lines = subprocess.run(
            ["lscpu"], capture_output=True, text=True, check=True, env={**os.environ, "LC_ALL": "C"}
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        lines = []
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() == "Model name" and value.strip():
            return value.strip()
    return platform.processor() or platform.machine()


def memory_gib() -> float | None:
    """Total memory in GiB from /proc/meminfo (None where there is none)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20  # kB
    except OSError:
        pass
    return None


def machine() -> str:
    """One line naming the machine, the Python and torch versions and the date."""
    cpus = f"{os.cpu_count()} CPUs"
    if hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) != os.cpu_count():
        cpus += f" ({len(os.sched_getaffinity(0))} usable)"
    memory = memory_gib()
    try:
        torch = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch = "not installed"
    return (
        f"{cpu_model()}, {cpus}, "
        + (f"{memory:.1f} GiB memory, " if memory is not None else "")
        + f"{platform.system()} {platform.release()}; Python {platform.python_version()}, "
        f"torch {torch}; {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %z}"
    )


def load() -> str:
    """Load average over 1, 5 and 15 min."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def run_stage(stage: str, quick: bool, log, summary: Path) -> int:
    """Run one benchmark script, its output prefixed with ``[stage]`` into ``log``; exit status."""
    script, quick_args = STAGES[stage]
    command = [sys.executable, str(HERE / script), "--summary", str(summary)]
    command += quick_args if quick else []
    print(f"[{stage}] $ {' '.join(command)}", file=log, flush=True)
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as child:
        for line in child.stdout:
            log.write(f"[{stage}] {line}")
            log.flush()
    return child.returncode


def number(value: float) -> str:
    """Three significant digits, without an exponent."""
    if value == 0 or not abs(value) < float("inf"):
        return f"{value:g}"
    digits = 2 - int(f"{abs(value):e}".split("e")[1])
    return f"{value:.{max(digits, 0)}f}"


def cells(row: Row) -> list[str]:
    ratio = "" if row.ratio is None else f"{number(row.ratio)} x {row.baseline}"
    return [row.stage, row.figure, f"{number(row.value)} {row.unit}", row.target, ratio]


def table(rows: list[Row], markdown: bool) -> str:
    body = [cells(row) for row in rows]
    if markdown:
        lines = [COLUMNS, ["---"] * len(COLUMNS), *body]
        return "\n".join("| " + " | ".join(line) + " |" for line in lines)
    widths = [max(len(line[i]) for line in [COLUMNS, *body]) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [COLUMNS, ["-" * width for width in widths], *body]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small settings (smoke run)")
    parser.add_argument(
        "--only", action="append", choices=list(STAGES), metavar="STAGE",
        help=f"run only this stage (repeatable): {', '.join(STAGES)}",
    )  # fmt: skip
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--log", type=Path, help="write the scripts' output here, not stderr")
    args = parser.parse_args()
    stages = [stage for stage in STAGES if not args.only or stage in args.only]

    header = f"Machine: {machine()}"
    load_before, start = load(), time.perf_counter()
    rows, failed = [], []
    log = args.log.open("a") if args.log else sys.stderr
    try:
        with tempfile.TemporaryDirectory(prefix="vvcjnd-run-all-") as tmp:
            for stage in stages:
                summary = Path(tmp) / f"{stage}.json"
                status = run_stage(stage, args.quick, log, summary)
                if status != 0 or not summary.is_file():
                    why = f"exit status {status}" if status else "no summary written"
                    failed.append(f"benchmarks/{STAGES[stage][0]} ({why})")
                    continue
                rows += read_summary(summary)
    finally:
        if args.log:
            log.close()

    settings = "quick (smoke run; not comparable with the targets)" if args.quick else "full"
    print(header, end="\n\n" if args.markdown else "\n")  # Markdown: two paragraphs
    print(
        f"Settings: {settings}; {time.perf_counter() - start:.0f} s in all; "
        f"load average (1, 5, 15 min) {load_before} before, {load()} after"
    )
    print()
    print(table(rows, args.markdown))
    for failure in failed:
        print(f"run_all: FAILED: {failure}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
