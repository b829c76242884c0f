"""Speed and memory of JND inference on one 1920x1080 image at the paper's network width.

Times the whole 1080p path (`vvcjnd.infer.profile.infer_luma`: patch extraction, network,
decomposition, blend) step by step, from the baseline, the eager network in NCHW, to the
pipeline's default: batch norm and spectral norm folded, channels_last, batch 16 (batch 64
beside it), then the rearranged network (`vvcjnd.model.inference.InferenceNet`); then
bfloat16 autocast (an option, with its error against float32 on the JND profile) and, with
``--compile``, torch.compile (inductor). Prints seconds per image (median of repeats, each
bracketed by float32 matmul repeats so that load from other processes hits both alike), the
achieved FLOP/s (2 x the analytic multiply-accumulates each form executes) against the
matmul FLOP/s, and the process's peak resident memory.
Targets (issue F): <= 6 s per image, >= 0.65x matmul FLOP/s, <= 1 GB on 2 CPU cores at the
paper width. ``--width 8 --size 640x360`` is a quick smoke run (about 1/140 of the work).

    python benchmarks/bench_infer.py [--threads 2] [--repeats 3] [--width 32] [--size 1920x1080]
                                     [--compile] [--summary PATH]
"""

from __future__ import annotations

import argparse
import os
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
from vvcjnd.model.costs import inference_macs_per_patch, macs_per_patch
from vvcjnd.model.inference import InferenceNet, fold_norms
from vvcjnd.model.network import StructuralVisibilityNet
from vvcjnd.patches.grid import grid_positions

PAPER_WIDTH, PAPER_DEPTH = 32, 5
BASELINE_BATCH = 64


def test_image(width: int = 1920, height: int = 1080) -> np.ndarray:
    """A natural uint8 luma plane, (height, width) (scikit-image's astronaut, resized)."""
    rgb = resize(data.astronaut(), (height, width), order=1, anti_aliasing=False,
                 preserve_range=True)  # fmt: skip
    return luma_uint8(np.rint(rgb).astype(np.uint8))


def image_size(text: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT`` (each >= 64, the patch side) -> (width, height)."""
    try:
        width, height = (int(side) for side in text.split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--size {text!r}: expected WIDTHxHEIGHT") from None
    if min(width, height) < 64:
        raise argparse.ArgumentTypeError(f"--size {text!r}: each side must be >= 64")
    return width, height


def matmul_seconds(size: int = 2048) -> float:
    """Seconds of one float32 size x size matrix product (the intra-op threads set)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    start = time.perf_counter()
    torch.mm(a, b)
    return time.perf_counter() - start


def paired(function, repeats: int, warm_up: bool = True, size: int = 2048) -> tuple[float, float]:
    """Median seconds of ``function()`` and median matmul FLOP/s, interleaved."""
    if warm_up:  # allocations, oneDNN primitives
        function()
    matmul_seconds(size)
    seconds, rates = [], [2 * size**3 / matmul_seconds(size)]
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - start)
        rates.append(2 * size**3 / matmul_seconds(size))
    return statistics.median(seconds), statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--width", type=int, default=PAPER_WIDTH, help="network width")
    parser.add_argument("--size", type=image_size, default=(1920, 1080), help="image WxH")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    add_summary_argument(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    luma = test_image(*args.size)
    image = "1080p" if args.size == (1920, 1080) else "{}x{}".format(*args.size)
    eager = StructuralVisibilityNet(args.width, PAPER_DEPTH).eval()
    folded = fold_norms(eager)
    default = InferSettings()
    n_patches = len(grid_positions(*luma.shape, 64, default.stride, cover_border=True))
    network_flops = 2 * macs_per_patch(args.width, PAPER_DEPTH) * n_patches
    rearranged_flops = 2 * inference_macs_per_patch(args.width, PAPER_DEPTH) * n_patches
    print(f"image {luma.shape[1]}x{luma.shape[0]}, {n_patches} patches, width {args.width}, "
          f"depth {PAPER_DEPTH}")  # fmt: skip
    print(f"threads {args.threads}, repeats {args.repeats}, load {os.getloadavg()}")
    print(f"network work: {network_flops / 1e12:.3f} TFLOP per image (2 x analytic MACs); "
          f"rearranged: {rearranged_flops / 1e12:.3f} TFLOP")  # fmt: skip

    def step(label, model, flops=network_flops, repeats=args.repeats, warm_up=True, **settings):
        chosen = InferSettings(**{"batch_size": default.batch_size, **settings})
        profiles = []  # the last run's profile only (memory)

        def run():
            profiles[:] = [infer_luma(model, luma, chosen, sign=1)]

        seconds, rate = paired(run, repeats, warm_up)
        share = flops / seconds / rate
        print(f"{label:<58} {seconds:6.2f} s  {flops / seconds / 1e9:6.1f} GFLOP/s  "
              f"{share:.2f}x matmul ({rate / 1e9:.0f} GFLOP/s)", flush=True)  # fmt: skip
        return seconds, share, profiles[-1]

    baseline, _, _ = step(f"eager, NCHW, batch {BASELINE_BATCH} (baseline)", eager,
                          batch_size=BASELINE_BATCH)  # fmt: skip
    step(f"folded BN + spectral norm, NCHW, batch {BASELINE_BATCH}",
         folded.to(memory_format=torch.contiguous_format), batch_size=BASELINE_BATCH)  # fmt: skip
    folded.to(memory_format=torch.channels_last)
    step(f"folded, channels_last, batch {BASELINE_BATCH}", folded, batch_size=BASELINE_BATCH)
    _, _, folded_profile = step(f"folded, channels_last, batch {default.batch_size}", folded)
    fused = InferenceNet(folded).to(memory_format=torch.channels_last)
    seconds, share, exact = step("+ rearranged network (InferenceNet, default)", fused,
                                 rearranged_flops)  # fmt: skip
    rearranged_error = float(np.abs(exact.jnd - folded_profile.jnd).max())
    moved = int(np.count_nonzero(exact.image != folded_profile.image))
    print(f"rearranged vs folded network: JND image max |difference| {rearranged_error:.2e} "
          f"grey levels; {moved} of {luma.size} uint8 pixels rounded the other way")  # fmt: skip
    native_bf16 = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    # emulated bfloat16 runs 7x slower than float32: one cold run gives its error and speed
    bf16_label = "+ bfloat16 autocast" + ("" if native_bf16 else " (emulated: no BF16 here)")
    bf16_seconds, _, bf16 = step(bf16_label, fused, rearranged_flops, precision="bfloat16",
                                 repeats=args.repeats if native_bf16 else 1,
                                 warm_up=native_bf16)  # fmt: skip
    bf16_error = float(np.abs(bf16.jnd_map - exact.jnd_map).max())
    print(f"bfloat16 vs float32 JND map: max |difference| {bf16_error:.3f} grey levels, "
          f"mean {np.abs(bf16.jnd_map - exact.jnd_map).mean():.4f}; PSNR {bf16.psnr_db:.3f} "
          f"vs {exact.psnr_db:.3f} dB")  # fmt: skip
    if args.compile:
        start = time.perf_counter()
        compiled = torch.compile(fused, dynamic=False)
        with torch.inference_mode():  # the compile, for the default batch's shape
            compiled(
                torch.zeros(default.batch_size, 1, 64, 64).to(memory_format=torch.channels_last)
            )
        print(f"torch.compile (inductor): {time.perf_counter() - start:.1f} s to compile")
        step("rearranged, torch.compile", compiled, rearranged_flops)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux: KiB
    print(f"peak resident memory: {peak_gb:.2f} GB (all steps)")
    print(f"targets: <= 6 s -> {'met' if seconds <= 6 else 'MISSED'}; >= 0.65x matmul -> "
          f"{'met' if share >= 0.65 else 'MISSED'}; <= 1 GB -> "
          f"{'met' if peak_gb <= 1 else 'MISSED'}")  # fmt: skip
    size = f"width {args.width}, {args.threads} threads"
    write_summary(args.summary, [
        Row("infer", f"one {image} image, {size}, float32", seconds, "s", "<= 6 s",
            f"eager NCHW batch {BASELINE_BATCH}", baseline / seconds),
        Row("infer", f"one {image} image, {size}: achieved FLOP/s",
            rearranged_flops / seconds / 1e9, "GFLOP/s", ">= 0.65x matmul",
            "float32 matmul FLOP/s", share),
        Row("infer", f"one {image} image, {size}, bfloat16 (option)", bf16_seconds, "s", "",
            "float32", seconds / bf16_seconds),
        Row("infer", "bfloat16 error: max abs JND map - float32 map", bf16_error, "grey-levels"),
        Row("infer", "peak resident memory", peak_gb, "GB", "<= 1 GB"),
    ])  # fmt: skip


if __name__ == "__main__":
    main()
