"""Speed and memory of the patch stage.

1. One 1920x1080 image: the library's pair extraction (luma, grid, patches, mu/c of both
   images) against a plain per-patch Python loop doing the same, median of repeats, same run.
2. Paper scale: 202 synthetic 1920x1080 images made from scikit-image's bundled photographs
   (crops, flips, resampling; the "JND-level" image is a blurred, noisy copy), built end to end
   by :func:`vvcjnd.patches.build_patch_dataset` in a child process whose wall time and peak
   resident memory are reported.

Run: python benchmarks/bench_patches.py [--images 202] [--repeats 15] [--data DIR] [--summary PATH]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageFilter
from skimage import data
from summary import Row, add_summary_argument, median_seconds, write_summary

from vvcjnd.colour import luma_uint8
from vvcjnd.io import write_table
from vvcjnd.patches.build import image_pairs
from vvcjnd.patches.grid import extract_patches, grid_positions, patch_statistics

WIDTH, HEIGHT, SIZE = 1920, 1080, 64
PHOTOS = ["astronaut", "chelsea", "coffee", "rocket", "motorcycle_left", "hubble_deep_field", "ihc"]
SETTINGS = {
    "size": SIZE,
    "stride": SIZE,
    "cover_border": False,
    "flat_std": 1.0,
    "exclude_flat": False,
    "split": {"ratios": {"train": 183 - 18, "val": 18, "test": 19}, "lists": None},
}


def synthetic_pair(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Image k of the synthetic set: (pristine, JND-level) uint8 RGB 1920x1080."""
    rng = np.random.default_rng(k)
    name = PHOTOS[k % len(PHOTOS)]
    with Image.open(next(Path(data.data_dir).glob(f"{name}.*"))) as bundled:
        photo = np.asarray(bundled.convert("RGB"))
    height, width = photo.shape[:2]
    crop_h = int(height * rng.uniform(0.6, 1.0))
    crop_w = min(width, int(crop_h * 16 / 9))
    top = int(rng.integers(0, height - crop_h + 1))
    left = int(rng.integers(0, width - crop_w + 1))
    image = Image.fromarray(photo[top : top + crop_h, left : left + crop_w])
    if k % 2:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    pristine = image.resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC)
    blurred = np.asarray(pristine.filter(ImageFilter.GaussianBlur(1.2)), dtype=np.int16)
    noisy = blurred + rng.integers(-3, 4, blurred.shape, dtype=np.int16)
    return np.asarray(pristine), np.clip(noisy, 0, 255).astype(np.uint8)


def per_patch_loop(planes: list[np.ndarray]) -> list:
    """The baseline: the same patches and statistics, one patch at a time in Python."""
    positions = grid_positions(HEIGHT, WIDTH, SIZE, SIZE)
    rows = []
    for top, left in positions:
        row = [top, left]
        for plane in planes:
            patch = plane[top : top + SIZE, left : left + SIZE].copy()
            values = patch.astype(np.float64)
            mu = values.mean()
            row += [patch, mu, float(np.sqrt(((values - mu) ** 2).sum()))]
        rows.append(row)
    return rows


def vectorised_patches(planes: list[np.ndarray]) -> list:
    """The library's extraction and statistics of the same patches."""
    positions = grid_positions(HEIGHT, WIDTH, SIZE, SIZE)
    patches = [extract_patches(plane, positions, SIZE) for plane in planes]
    return [(kind, *patch_statistics(kind)) for kind in patches]


def load() -> float:
    """One-minute load average: other processes on the machine slow every figure here."""
    return os.getloadavg()[0]


def bench_one_image(repeats: int) -> Row:
    pristine, jnd = synthetic_pair(0)
    n_pairs = len(image_pairs(pristine, jnd)[0])
    planes = [luma_uint8(pristine), luma_uint8(jnd)]
    timings = {
        "image_pairs (luma + patches + mu/c, both images)": (
            median_seconds(lambda: image_pairs(pristine, jnd), repeats),
            median_seconds(
                lambda: per_patch_loop([luma_uint8(pristine), luma_uint8(jnd)]), repeats
            ),
        ),
        "patches + mu/c from the two luma planes": (
            median_seconds(lambda: vectorised_patches(planes), repeats),
            median_seconds(lambda: per_patch_loop(planes), repeats),
        ),
    }
    print(f"one {WIDTH}x{HEIGHT} image, {n_pairs} pairs; median of {repeats}; load {load():.1f}")
    for label, (vectorised, loop) in timings.items():
        print(f"  {label}:")
        for name, (wall, cpu) in (("vectorised ", vectorised), ("Python loop", loop)):
            rate = n_pairs / wall
            print(f"    {name} wall {wall * 1e3:6.1f} ms  CPU {cpu * 1e3:6.1f} ms  {rate:6.0f}/s")
        speed_up = [slow / fast for slow, fast in zip(loop, vectorised, strict=True)]
        print(f"    speed-up x{speed_up[0]:.1f} (wall), x{speed_up[1]:.1f} (CPU)")
    (wall, cpu), (loop_wall, _) = timings[next(iter(timings))]
    print(f"  target one image <= 50 ms: wall {passed(wall <= 0.05)}, CPU {passed(cpu <= 0.05)}")
    return Row("patches", "pairs of one 1080p image", wall * 1e3, "ms", "<= 50 ms",
               "per-patch Python loop", wall / loop_wall)  # fmt: skip


def passed(condition: bool) -> str:
    return "PASS" if condition else "FAIL"


def write_synthetic(k: int, root: Path, qp: int) -> None:
    pristine, jnd = synthetic_pair(k)
    image_id = f"syn{k:03d}"
    Image.fromarray(pristine).save(root / "images" / f"{image_id}.png", compress_level=1)
    (root / "ladder" / image_id).mkdir(parents=True, exist_ok=True)
    Image.fromarray(jnd).save(root / "ladder" / image_id / f"qp{qp:02d}.png", compress_level=1)


def make_paper_scale(root: Path, n_images: int) -> None:
    (root / "images").mkdir(parents=True, exist_ok=True)
    ids = [f"syn{k:03d}" for k in range(n_images)]
    qps = np.random.default_rng(0).integers(20, 46, n_images).tolist()
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(write_synthetic, range(n_images), [root] * n_images, qps))
    write_table(root / "manifest.tsv", pd.DataFrame({"image_id": ids, "session": 1}))
    write_table(root / "jnd.tsv", pd.DataFrame({"image_id": ids, "jnd_qp": qps}))


BUILD = """
import resource, sys
from pathlib import Path
from vvcjnd.patches.build import build_patch_dataset
root = Path(sys.argv[1])
summary = build_patch_dataset(root / "manifest.tsv", root / "jnd.tsv", root / "images",
                              root / "ladder", root / "out", {settings!r}, seed=2021, workers=2)
usage = resource.getrusage(resource.RUSAGE_SELF)
print(summary["pairs"], usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime)
"""


def bench_paper_scale(n_images: int, data_dir: Path | None) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="bench_patches_") as tmp:
        root = data_dir or Path(tmp)
        if not (root / "jnd.tsv").is_file():
            start = time.perf_counter()
            make_paper_scale(root, n_images)
            setup = time.perf_counter() - start
            print(f"\n{n_images} synthetic images written in {setup:.0f} s to {root}")
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-c", BUILD.format(settings=SETTINGS), str(root)],
            check=True,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - start
        pairs, peak_mb, cpu = result.stdout.strip().rsplit(" ", 2)
        peak_mb, cpu = float(peak_mb), float(cpu)
        stored = sum(path.stat().st_size for path in (root / "out").glob("*.npy")) / 2**20
        print(f"paper scale, {n_images} images: pairs per split {pairs}, arrays {stored:.0f} MiB")
        per_image = seconds / n_images * 1e3
        print(f"  build {seconds:.1f} s ({per_image:.0f} ms/image), peak RSS {peak_mb:.0f} MiB")
        print(f"  CPU time {cpu:.1f} s (user + system, 2 worker threads; load now {load():.1f})")
        print(f"  target <= 120 s: wall {passed(seconds <= 120)}, CPU / 2 {passed(cpu / 2 <= 120)}")
        print(f"  target peak <= 1.5 GB: {passed(peak_mb * 2**20 <= 1.5e9)}")
    return [
        Row("patches", f"paper-scale build, {n_images} images", seconds, "s", "<= 120 s"),
        Row("patches", f"paper-scale peak RSS, {n_images} images", peak_mb, "MiB", "<= 1.5 GB"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=202, help="paper-scale image count")
    parser.add_argument("--repeats", type=int, default=15, help="repeats of the one-image timing")
    parser.add_argument(
        "--data", type=Path, help="keep the synthetic images here (reused when present)"
    )
    add_summary_argument(parser)
    args = parser.parse_args()
    one_image = bench_one_image(args.repeats)
    write_summary(args.summary, [one_image, *bench_paper_scale(args.images, args.data)])


if __name__ == "__main__":
    main()
