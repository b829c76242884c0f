"""Planning at scale: wall time and peak memory of ``snakemake -n`` for many images.

Generates ``--images`` small PNG images (16x16, distinct, seeded) in a temporary folder, writes
the embedded default config with ``sources.kind: folder`` pointing at them (sessions of
``--session-size`` images) and ``images_per_job: --images-per-job``, and times
``snakemake -n --cores 2`` on it, its job list printed to /dev/null as a user's dry run prints
it: wall seconds and the child's peak resident memory (``wait4``). Targets: 5,000 images in
<= 30 s and <= 1 GB; 50,000 in <= 5 min (``--images 50000 --no-baseline``, minutes; run it
once). Baselines, in the same run: the same images at one image per job (the ratio is the
batching's gain), and ``--baseline-images`` images (500 by default) at ``--images-per-job``,
whose ratio of seconds per image shows how far planning is from linear (1.0: linear).

    python benchmarks/bench_planning.py [--images 5000] [--images-per-job 20]
        [--baseline-images 500] [--no-baseline] [--repeats 3] [--summary PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from summary import Row, add_summary_argument, write_summary

from vvcjnd.images import write_png

REPO = Path(__file__).resolve().parent.parent
SIDE_PX = 16


def write_images(folder: Path, count: int) -> None:
    """``count`` distinct seeded 16x16 RGB PNGs ``img00000.png`` ... in ``folder``."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(2021)
    for index in range(count):
        pixels = rng.integers(0, 256, (SIDE_PX, SIDE_PX, 3), dtype=np.uint8)
        write_png(folder / f"img{index:05d}.png", pixels)


def write_config(path: Path, images: Path, session_size: int, images_per_job: int) -> Path:
    """The embedded default with its sources replaced by the folder ``images``."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    sources = {key: value for key, value in config["sources"].items() if key != "names"}
    config["sources"] = {**sources, "kind": "folder", "path": str(images),
                         "session_size": session_size}  # fmt: skip
    config["images_per_job"] = images_per_job
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def dry_run(workdir: Path, config: Path) -> tuple[float, float, float, int]:
    """(wall seconds, CPU seconds, peak RSS in MB, planned jobs) of one ``snakemake -n``."""
    workdir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "snakemake", "-n", "--cores", "2",
               "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
               "--configfile", str(config)]  # fmt: skip
    listing = workdir / "dry-run.txt"
    start = time.perf_counter()
    with open(listing, "w", encoding="utf-8") as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    text = listing.read_text(encoding="utf-8", errors="replace")
    if child.returncode != 0:
        raise SystemExit(f"snakemake -n failed ({child.returncode}):\n{text[-3000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, planned_jobs(text)


def planned_jobs(listing: str) -> int:
    """The total of Snakemake's job-stats table in a dry run's output."""
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0] == "total" and fields[1].isdigit():
            return int(fields[1])
    raise SystemExit("no job stats ('total N') in the dry run's output")


def measure(
    tmp: Path, count: int, images_per_job: int, session_size: int, repeats: int
) -> tuple[float, float, int]:
    """Median wall seconds, largest peak RSS (MB) and job count of ``repeats`` dry runs; prints
    each run with its CPU seconds, which other work on a shared machine does not inflate."""
    images = tmp / f"images{count}"
    if not images.exists():
        start = time.perf_counter()
        write_images(images, count)
        print(f"{count} images written in {time.perf_counter() - start:.1f} s", flush=True)
    name = f"{count}-{images_per_job}"
    config = write_config(tmp / f"config{name}.yaml", images, session_size, images_per_job)
    walls, peaks = [], []
    for repeat in range(repeats):
        wall, cpu, peak, jobs = dry_run(tmp / f"run{name}-{repeat}", config)
        walls.append(wall)
        peaks.append(peak)
        print(f"{count} images, {images_per_job} per job: snakemake -n {wall:.1f} s "
              f"({cpu:.1f} s CPU), peak RSS {peak:.0f} MB, {jobs} jobs "
              f"(load {' '.join(f'{v:.2f}' for v in os.getloadavg())})", flush=True)  # fmt: skip
    return statistics.median(walls), max(peaks), jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--images-per-job", type=int, default=20)
    parser.add_argument("--baseline-images", type=int, default=500)
    parser.add_argument("--no-baseline", action="store_true", help="skip the baselines")
    parser.add_argument("--session-size", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3, help="median of this many runs")
    add_summary_argument(parser)
    args = parser.parse_args()
    count, per_job = args.images, args.images_per_job
    with tempfile.TemporaryDirectory(prefix="vvcjnd-bench-planning-") as tmp:
        tmp = Path(tmp)
        wall, peak, jobs = measure(tmp, count, per_job, args.session_size, args.repeats)
        single = small = None
        if not args.no_baseline:
            single = measure(tmp, count, 1, args.session_size, args.repeats)
            small = measure(tmp, args.baseline_images, per_job, args.session_size, args.repeats)
    target_s = "<= 30 s" if count <= 5000 else "<= 300 s" if count <= 50000 else ""
    print()
    print("figure                                                  median      target")
    print(f"snakemake -n, {count} images, {per_job} per job ({jobs} jobs), s {wall:10.1f}"
          f"     {target_s}")  # fmt: skip
    print(f"  peak resident memory, MB                              {peak:10.0f}"
          "     <= 1024 (5,000)")  # fmt: skip
    per_image_ms = 1000 * wall / count
    linear = None
    if single is not None:
        print(f"snakemake -n, {count} images, 1 per job ({single[2]} jobs), s {single[0]:10.1f}"
              f"     ratio {wall / single[0]:.2f}")  # fmt: skip
        linear = per_image_ms / (1000 * small[0] / args.baseline_images)
        print(f"ms per image, {count} vs {args.baseline_images} images             "
              f"{per_image_ms:10.2f}     ratio {linear:.2f} (1.0: linear)")  # fmt: skip
    write_summary(args.summary, [
        Row("planning", f"snakemake -n, {count} images, {per_job} per job ({jobs} jobs)",
            wall, "s", target_s, "1 image per job" if single else "",
            wall / single[0] if single else None),
        Row("planning", f"peak RSS of snakemake -n, {count} images", peak, "MB",
            "<= 1024 MB" if count <= 5000 else ""),
        Row("planning", f"planning time per image, {count} images", per_image_ms, "ms", "",
            f"ms/image at {args.baseline_images} images" if single else "", linear),
    ])  # fmt: skip


if __name__ == "__main__":
    main()
