"""Speed and memory of JND inference on one 1920x1080 image at the paper's network width.

Prints seconds per image (median of repeats), the achieved FLOP/s of the whole inference
(2 x analytic multiply-accumulates of the network) against a float32 matrix-multiply FLOP/s
measured in the same process with the same threads, and the process's peak resident memory.
Targets (issue 5/7): <= 15 s per image and <= 2 GB on 2 CPU cores, at the paper width;
``--width 8`` is a quick smoke run (about 1/15 of the work).

    python benchmarks/bench_infer.py [--threads 2] [--repeats 3] [--batch-size 64] [--width 32]
                                     [--summary PATH]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import numpy as np
import torch
from skimage import data
from skimage.transform import resize
from summary import Row, add_summary_argument, write_summary

from vvcjnd.colour import luma_uint8
from vvcjnd.infer.profile import InferSettings, infer_luma
from vvcjnd.model.costs import macs_per_patch
from vvcjnd.model.network import StructuralVisibilityNet, fuse_for_inference
from vvcjnd.patches.grid import grid_positions

PAPER_WIDTH, PAPER_DEPTH = 32, 5


def test_image() -> np.ndarray:
    """A natural 1080x1920 uint8 luma plane (scikit-image's astronaut, resized)."""
    rgb = resize(data.astronaut(), (1080, 1920), order=1, anti_aliasing=False, preserve_range=True)
    return luma_uint8(np.rint(rgb).astype(np.uint8))


def matmul_flops(threads: int, size: int = 2048, repeats: int = 5) -> float:
    """Median float32 FLOP/s of a size x size matrix product with ``threads`` threads."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=InferSettings().batch_size)
    parser.add_argument("--width", type=int, default=PAPER_WIDTH, help="network width")
    add_summary_argument(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    luma = test_image()
    model = fuse_for_inference(StructuralVisibilityNet(args.width, PAPER_DEPTH).eval())
    settings = InferSettings(batch_size=args.batch_size)
    n_patches = len(grid_positions(*luma.shape, 64, settings.stride, cover_border=True))
    flops = 2 * macs_per_patch(args.width, PAPER_DEPTH) * n_patches

    reference = matmul_flops(args.threads)
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        infer_luma(model, luma, settings, sign=1)
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux: KiB

    print(f"image 1920x1080, {n_patches} patches, width {args.width}, depth {PAPER_DEPTH}")
    print(f"threads {args.threads}, batch {args.batch_size}, repeats {args.repeats}")
    print(f"network work: {flops / 1e12:.3f} TFLOP per image (2 x analytic MACs)")
    print(
        f"seconds per image (median): {seconds:.2f}  (all: {', '.join(f'{t:.2f}' for t in times)})"
    )
    print(f"achieved: {flops / seconds / 1e9:.1f} GFLOP/s")
    print(f"matmul 2048^3 float32: {reference / 1e9:.1f} GFLOP/s")
    print(f"ratio achieved / matmul: {flops / seconds / reference:.2f}")
    print(f"peak resident memory: {peak_gb:.2f} GB")
    print(f"targets: <= 15 s -> {'met' if seconds <= 15 else 'MISSED'}; "
          f"<= 2 GB -> {'met' if peak_gb <= 2 else 'MISSED'}")  # fmt: skip
    write_summary(args.summary, [
        Row("infer", f"one 1080p image, width {args.width}, {args.threads} threads", seconds, "s",
            "<= 15 s", "float32 matmul FLOP/s", flops / seconds / reference),
        Row("infer", "peak resident memory", peak_gb, "GB", "<= 2 GB"),
    ])  # fmt: skip


if __name__ == "__main__":
    main()
