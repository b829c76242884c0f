"""Distortion-stage overhead and memory: Snakemake vs the bare encoder/decoder commands.

Runs the ladder jobs of the embedded default (or a subset) under ``snakemake --cores 2``,
then runs the very same encoder and decoder command lines one after another outside
Snakemake, and prints

    overhead ratio = snakemake wall time / (sum of bare command wall times / 2)

(target <= 1.05 with the ``faster`` preset), the same ratio of the time inside the ladder jobs
(Snakemake's benchmark files: the jobs' own overhead, without Snakemake's start-up and
scheduling), the medians over ``--repeats`` runs, and the
peak memory (max RSS, from Snakemake's benchmark files) of any ladder job, also for one
1920x1080 image (target <= 1 GB).

    python benchmarks/bench_distort.py [--repeats 1] [--qp-step 1] [--images 7] [--summary PATH]
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml
from summary import Row, add_summary_argument, write_summary

from vvcjnd.colour import YuvFormat
from vvcjnd.distort.codecs import bundled_ffmpeg
from vvcjnd.images import read_png

REPO = Path(__file__).resolve().parent.parent


def snakemake(workdir: Path, config: Path, targets: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        ["snakemake", *targets, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
         "--configfile", str(config), "--cores", "2", "--quiet", "all"],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - start


def ladder_targets(workdir: Path) -> list[str]:
    manifest = pd.read_csv(workdir / "results/sources/manifest.tsv", sep="\t")
    return [f"results/ladder/vvenc/{image}.json" for image in manifest["image_id"]]


def bare_commands_seconds(workdir: Path, colour: dict) -> float:
    """Re-run every recorded encode and decode command sequentially in a copy; sum wall times.

    Records name the tool by its file name (portable records); it is the bundled ffmpeg.
    """
    ffmpeg = bundled_ffmpeg()
    total = 0.0
    yuv = YuvFormat.from_config(colour)
    for record_path in sorted((workdir / "results/ladder/vvenc").glob("*.json")):
        record = json.loads(record_path.read_text())
        ladder = record_path.with_suffix("")
        source = ladder / "source.yuv"
        source.write_bytes(
            yuv.to_bytes(*yuv.rgb_to_yuv(read_png(workdir / record["pristine_png"])))
        )
        for point in record["points"]:
            for command in (point["encode_cmd"], point["decode_cmd"]):
                start = time.perf_counter()
                args = shlex.split(command)
                if args[0] == Path(ffmpeg).name:
                    args[0] = ffmpeg
                subprocess.run(args, cwd=workdir, check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
                total += time.perf_counter() - start
        source.unlink()
        for leftover in ladder.glob("*.decoded.yuv"):
            leftover.unlink()
    return total


def ladder_jobs_seconds(workdir: Path) -> float:
    """Sum of the ladder jobs' own wall times (Snakemake's benchmark files)."""
    files = (workdir / "results/benchmarks/ladder").rglob("*.tsv")
    return sum(pd.read_csv(path, sep="\t")["s"].sum() for path in files)


def peak_rss_mb(workdir: Path) -> float:
    files = (workdir / "results/benchmarks/ladder").rglob("*.tsv")
    return max(pd.read_csv(path, sep="\t")["max_rss"].max() for path in files)


def write_config(path: Path, overrides: dict) -> Path:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    for section, values in overrides.items():
        config[section] = {**config.get(section, {}), **values}
    path.write_text(yaml.safe_dump(config))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--qp-step", type=int, default=1)
    parser.add_argument("--images", type=int, default=7, help="first N default images")
    add_summary_argument(parser)
    args = parser.parse_args()
    defaults = yaml.safe_load((REPO / "config.yaml").read_text())
    overrides = {
        "sources": {"names": defaults["sources"]["names"][: args.images]},
        "encode": {"qp": {"min": 13, "max": 51, "step": args.qp_step}, "threads": 2},
    }
    ratios, job_ratios, stage_s, bare_s, jobs_s = [], [], [], [], []
    with tempfile.TemporaryDirectory(prefix="vvcjnd-bench-") as tmp:
        tmp = Path(tmp)
        config = write_config(tmp / "config.yaml", overrides)
        for repeat in range(args.repeats):
            workdir = tmp / f"run{repeat}"
            snakemake(workdir, config, ["results/sources/manifest.tsv"])
            stage = snakemake(workdir, config, ladder_targets(workdir))
            bare = bare_commands_seconds(workdir, defaults["colour"])
            jobs_s.append(ladder_jobs_seconds(workdir))
            job_ratios.append(jobs_s[-1] / (bare / 2))
            stage_s.append(stage)
            bare_s.append(bare)
            ratios.append(stage / (bare / 2))
            print(f"run {repeat}: snakemake {stage:.1f} s, bare commands {bare:.1f} s "
                  f"(/2 = {bare / 2:.1f} s), ratio {ratios[-1]:.3f}")  # fmt: skip
        peak_default = peak_rss_mb(tmp / "run0")
        hd = write_config(
            tmp / "hd.yaml",
            {**overrides, "sources": {"names": ["astronaut"], "block": 8,
             "resize": {"width": 1920, "height": 1080, "filter": "lanczos"}},
             "encode": {"qp": {"min": 13, "max": 51, "step": 19}, "threads": 2}},
        )  # fmt: skip
        hd_dir = tmp / "hd"
        snakemake(hd_dir, hd, ["results/sources/manifest.tsv"])
        snakemake(hd_dir, hd, ladder_targets(hd_dir))
        peak_hd = peak_rss_mb(hd_dir)
        shutil.rmtree(tmp / "run0", ignore_errors=True)
    print()
    print("figure                                   median      target")
    print(f"distortion stage wall time (s)           {statistics.median(stage_s):8.1f}")
    print(f"  of which inside the ladder jobs (s)    {statistics.median(jobs_s):8.1f}")
    print(f"  start-up and scheduling (s)            "
          f"{statistics.median(stage_s) - statistics.median(jobs_s):8.1f}")  # fmt: skip
    print(f"bare encode+decode commands (s)          {statistics.median(bare_s):8.1f}")
    print(f"overhead ratio (stage / (bare / 2))      {statistics.median(ratios):8.3f}     <= 1.05")
    print(f"  ladder jobs only (jobs / (bare / 2))   {statistics.median(job_ratios):8.3f}")
    print(f"peak memory of a ladder job, default MB  {peak_default:8.0f}")
    print(f"peak memory of a ladder job, 1080p MB    {peak_hd:8.0f}     <= 1024")
    n_qps = len(range(13, 52, args.qp_step))
    write_summary(args.summary, [
        Row("distort", f"stage wall time, {args.images} image(s) x {n_qps} QPs",
            statistics.median(stage_s), "s", "ratio <= 1.05", "bare encoder commands / 2",
            statistics.median(ratios)),
        Row("distort", "inside the ladder jobs", statistics.median(jobs_s), "s", "",
            "bare encoder commands / 2", statistics.median(job_ratios)),
        Row("distort", "peak memory of a 1080p ladder job", peak_hd, "MB", "<= 1024 MB"),
    ])  # fmt: skip


if __name__ == "__main__":
    main()
