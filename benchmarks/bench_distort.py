"""Distortion-stage overhead and memory: Snakemake vs the bare encoder/decoder commands.

Runs the ladder jobs of the embedded default (or a subset) under ``snakemake --cores 2``,
then runs the very same encoder and decoder command lines one after another outside
Snakemake, and prints

    overhead ratio = snakemake wall time / (sum of bare command wall times / 2)

(target <= 1.05 with the ``faster`` preset), the same against the bare commands run two at a
time as the ladder jobs run them (two encoders on two vCPUs do not run at twice the speed of
one, so bare / 2 is a bound no run reaches), the same ratio of the time inside the ladder jobs
(Snakemake's benchmark files: the jobs' own overhead, without Snakemake's start-up and
scheduling), the medians over ``--repeats`` runs, the ladder's own CPU per CPU second of its
encoders and decoders (the floor of the ratio on busy cores: `own_cpu_share`), and the
peak memory (max RSS, from Snakemake's benchmark files) of any ladder job, also for one
1920x1080 image (target <= 1 GB).

    python benchmarks/bench_distort.py [--repeats 1] [--qp-step 1] [--images 7]
        [--images-per-job 1] [--summary PATH]

``--images-per-job N`` sets ``images_per_job`` (N images per ladder job: Snakemake's start-up
of each job's script, about 1.5 s, is paid once per N images).

With ``--codecs [NAME ...]`` (no names: every codec that runs here) it measures instead, per
codec at the default settings and in this one process, the ladder (`run_ladder`, one worker)
of a crop of scikit-image's astronaut against the bare encoder and decoder calls of the same
levels (the commands run directly, or Pillow's one call), and prints the overhead ratio
ladder / bare (target <= 1.10) and seconds per megapixel and level of each:

    python benchmarks/bench_distort.py --codecs [x264 aom ...] [--levels 3] [--size 512x384]
"""

from __future__ import annotations

import argparse
import json
import resource
import shlex
import shutil
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import yaml
from summary import Row, add_summary_argument, write_summary

from vvcjnd.colour import YuvFormat
from vvcjnd.distort.codecs import (
    CODECS,
    Codec,
    CommandCodec,
    Frame,
    bundled_ffmpeg,
    codec_from_config,
    codec_levels,
)
from vvcjnd.errors import VvcjndError
from vvcjnd.images import read_png, write_png

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


def bare_commands_seconds(workdir: Path, colour: dict, workers: int = 1) -> float:
    """Re-run every recorded encode and decode command outside Snakemake; with ``workers`` 1
    sum their wall times, with more run the points (encode then decode) that many at a time,
    as the ladder jobs do, and return the wall time of it all.

    Records name the tool by its file name (portable records); it is the bundled ffmpeg.
    """
    ffmpeg = bundled_ffmpeg()
    yuv = YuvFormat.from_config(colour)

    def run(command: str) -> float:
        args = shlex.split(command)
        if args[0] == Path(ffmpeg).name:
            args[0] = ffmpeg
        start = time.perf_counter()
        subprocess.run(args, cwd=workdir, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        return time.perf_counter() - start

    total = 0.0
    for record_path in sorted((workdir / "results/ladder/vvenc").glob("*.json")):
        record = json.loads(record_path.read_text())
        ladder = record_path.with_suffix("")
        source = ladder / "source.yuv"
        source.write_bytes(
            yuv.to_bytes(*yuv.rgb_to_yuv(read_png(workdir / record["pristine_png"])))
        )
        points = [(p["encode_cmd"], p["decode_cmd"]) for p in record["points"]]
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            seconds = sum(pool.map(lambda pair: run(pair[0]) + run(pair[1]), points))
        total += seconds if workers == 1 else time.perf_counter() - start
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


def own_cpu_share(workdir: Path, config: Path) -> float:
    """CPU seconds this process spends per CPU second of its encoder and decoder processes
    while it runs the ladder of the run's first image in process (`run_ladder`, the job's
    workers): the colour conversion, PNG, PSNR-Y and hashes the bare commands do not do.
    On cores the encoders keep busy, the stage's ratio to the bare commands cannot fall
    below 1 + this share."""
    from vvcjnd.config import load_config
    from vvcjnd.distort.ladder import run_ladder

    settings = load_config(config)
    encode = settings["encode"]
    record = sorted((workdir / "results/ladder/vvenc").glob("*.json"))[0]
    pristine = workdir / json.loads(record.read_text())["pristine_png"]
    codec, yuv = codec_from_config(encode, "vvenc"), YuvFormat.from_config(settings["colour"])

    def cpu_seconds(who: int) -> float:
        usage = resource.getrusage(who)
        return usage.ru_utime + usage.ru_stime

    with tempfile.TemporaryDirectory(prefix="vvcjnd-share-") as tmp:
        own, children = cpu_seconds(resource.RUSAGE_SELF), cpu_seconds(resource.RUSAGE_CHILDREN)
        run_ladder(pristine, Path(tmp) / "points", Path(tmp) / "record.json", codec, yuv,
                   codec_levels(encode, "vvenc"), workers=encode["threads"])  # fmt: skip
        own = cpu_seconds(resource.RUSAGE_SELF) - own
        children = cpu_seconds(resource.RUSAGE_CHILDREN) - children
    return own / children


def write_config(path: Path, overrides: dict, images_per_job: int = 1) -> Path:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    for section, values in overrides.items():
        config[section] = {**config.get(section, {}), **values}
    config["images_per_job"] = images_per_job
    path.write_text(yaml.safe_dump(config))
    return path


def spread(levels: list, count: int) -> list:
    """``count`` levels spread evenly over ``levels`` from its first to its last."""
    if count >= len(levels):
        return levels
    last = len(levels) - 1
    return [levels[round(index * last / max(1, count - 1))] for index in range(count)]


def bare_seconds(
    codec: Codec, png: Path, folder: Path, yuv: YuvFormat, levels: list, workers: int
) -> float:
    """Wall seconds of the bare encode and decode calls of every level, ``workers`` levels
    side by side as the ladder runs them."""
    rgb = read_png(png)
    source = folder / f"source.{codec.takes}"
    source.write_bytes(
        rgb.tobytes() if codec.takes == "rgb" else yuv.to_bytes(*yuv.rgb_to_yuv(rgb))
    )

    def one(level) -> None:
        stem = codec.scale.stem(level)
        bitstream, decoded = folder / f"{stem}{codec.bitstream_suffix}", folder / f"{stem}.raw"
        frame = Frame(source, rgb.shape[1], rgb.shape[0], yuv.bit_depth, level, bitstream, decoded)
        if isinstance(codec, CommandCodec):
            for args in (codec.encode_args(frame), codec.decode_args(frame)):
                subprocess.run(
                    args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
        else:
            codec.encode_call(frame).function()
            codec.decode_call(frame).function()

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, levels))
    return time.perf_counter() - start


def compare_codecs(
    names: list[str], levels_per_codec: int, size: str, repeats: int, workers: int | None
) -> list[Row]:
    """Print the ladder-against-bare table of ``names`` (all runnable codecs if empty), both
    run ``workers`` levels side by side (default ``encode.threads``)."""
    import skimage.data

    from vvcjnd.config import load_config
    from vvcjnd.distort.ladder import run_ladder

    config = load_config(REPO / "config.yaml")
    encode, yuv = config["encode"], YuvFormat.from_config(config["colour"])
    workers = workers or encode["threads"]
    width, height = (int(side) for side in size.split("x"))
    megapixels = width * height / 1e6
    rows = []
    print(f"{workers} level(s) side by side; ladder overhead = (ladder - bare) / levels")
    print("codec     levels  ladder s   bare s   ratio  s/MP/level  overhead ms/level")
    with tempfile.TemporaryDirectory(prefix="vvcjnd-codecs-") as tmp:
        png = Path(tmp) / "astronaut.png"
        write_png(png, skimage.data.astronaut()[:height, :width].copy())
        for name in names or list(CODECS):
            try:
                codec = codec_from_config(encode, name)
                codec.check()
            except VvcjndError as error:
                print(f"{name:9} not available: {error}")
                continue
            levels = spread(codec_levels(encode, name), levels_per_codec)
            ladder_s, bare_s = [], []
            for repeat in range(repeats):
                folder = Path(tmp) / f"{name}{repeat}"
                (folder / "bare").mkdir(parents=True)
                bare_s.append(bare_seconds(codec, png, folder / "bare", yuv, levels, workers))
                start = time.perf_counter()
                run_ladder(png, folder / "ladder", folder / "ladder.json", codec, yuv, levels,
                           workers=workers)  # fmt: skip
                ladder_s.append(time.perf_counter() - start)
            ladder, bare = statistics.median(ladder_s), statistics.median(bare_s)
            per_mp = bare * workers / (megapixels * len(levels))
            overhead_ms = 1000 * (ladder - bare) / len(levels)
            print(f"{name:9} {len(levels):6d} {ladder:9.2f} {bare:8.2f} {ladder / bare:7.3f} "
                  f"{per_mp:11.3f} {overhead_ms:18.1f}")  # fmt: skip
            figure = f"{name} encode+decode per megapixel and level"
            rows.append(Row("distort", figure, per_mp, "s", "ratio <= 1.10",
                            "bare encoder+decoder calls", ladder / bare))  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--qp-step", type=int, default=1)
    parser.add_argument("--images", type=int, default=7, help="first N default images")
    parser.add_argument("--images-per-job", type=int, default=1, help="config images_per_job")
    parser.add_argument("--codecs", nargs="*", help="per-codec ladder vs bare calls instead")
    parser.add_argument("--levels", type=int, default=3, help="--codecs: levels per codec")
    parser.add_argument("--size", default="512x384", help="--codecs: crop of the astronaut")
    parser.add_argument("--workers", type=int, help="--codecs: default encode.threads")
    add_summary_argument(parser)
    args = parser.parse_args()
    if args.codecs is not None:
        write_summary(
            args.summary,
            compare_codecs(args.codecs, args.levels, args.size, args.repeats, args.workers),
        )
        return
    defaults = yaml.safe_load((REPO / "config.yaml").read_text())
    overrides = {
        "sources": {"names": defaults["sources"]["names"][: args.images]},
        "encode": {"qp": {"min": 13, "max": 51, "step": args.qp_step}, "threads": 2},
    }
    ratios, job_ratios, stage_s, bare_s, jobs_s, side_by_side = [], [], [], [], [], []
    with tempfile.TemporaryDirectory(prefix="vvcjnd-bench-") as tmp:
        tmp = Path(tmp)
        config = write_config(tmp / "config.yaml", overrides, args.images_per_job)
        for repeat in range(args.repeats):
            workdir = tmp / f"run{repeat}"
            snakemake(workdir, config, ["results/sources/manifest.tsv"])
            stage = snakemake(workdir, config, ladder_targets(workdir))
            bare = bare_commands_seconds(workdir, defaults["colour"])
            side_by_side.append(bare_commands_seconds(workdir, defaults["colour"], workers=2))
            jobs_s.append(ladder_jobs_seconds(workdir))
            job_ratios.append(jobs_s[-1] / (bare / 2))
            stage_s.append(stage)
            bare_s.append(bare)
            ratios.append(stage / (bare / 2))
            print(f"run {repeat}: snakemake {stage:.1f} s, bare commands {bare:.1f} s "
                  f"(/2 = {bare / 2:.1f} s; two at a time {side_by_side[-1]:.1f} s), "
                  f"ratio {ratios[-1]:.3f}")  # fmt: skip
        peak_default = peak_rss_mb(tmp / "run0")
        share = own_cpu_share(tmp / "run0", config)
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
    paired = statistics.median(side_by_side)
    print(f"bare commands two at a time (s)          {paired:8.1f}")
    print(f"  stage / bare two at a time             {statistics.median(stage_s) / paired:8.3f}")
    print(f"  ladder jobs / bare two at a time       {statistics.median(jobs_s) / paired:8.3f}")
    print(f"ladder's own CPU / encoder+decoder CPU   {share:8.3f}     (ratio >= 1 + this)")
    print(f"peak memory of a ladder job, default MB  {peak_default:8.0f}")
    print(f"peak memory of a ladder job, 1080p MB    {peak_hd:8.0f}     <= 1024")
    n_qps = len(range(13, 52, args.qp_step))
    write_summary(args.summary, [
        Row("distort", f"stage wall time, {args.images} image(s) x {n_qps} QPs"
            + (f", {args.images_per_job} per job" if args.images_per_job > 1 else ""),
            statistics.median(stage_s), "s", "ratio <= 1.05", "bare encoder commands / 2",
            statistics.median(ratios)),
        Row("distort", "inside the ladder jobs", statistics.median(jobs_s), "s", "",
            "bare encoder commands / 2", statistics.median(job_ratios)),
        Row("distort", "stage wall time against the bare commands two at a time",
            statistics.median(stage_s), "s", "", "bare commands two at a time",
            statistics.median(stage_s) / paired),
        Row("distort", "ladder's own CPU, share of its encoders' CPU (ratio >= 1 + it)",
            100 * share, "%", ""),
        Row("distort", "peak memory of a 1080p ladder job", peak_hd, "MB", "<= 1024 MB"),
    ])  # fmt: skip


if __name__ == "__main__":
    main()
