"""GPU check: train and infer with the paper-width network on CUDA, in one command (< 5 min).

On a CUDA device: trains the network (`vvcjnd.model.training.fit`, the pipeline's loop) on
synthetic pairs for a few hundred steps in float32 and with bfloat16 AMP, checks that every
loss is finite and that a run interrupted after half its epochs and resumed from its
checkpoint gives the losses of the uninterrupted one, then prints the training patches/s
and the milliseconds per 1080p image of inference (the whole `infer_luma` path, and the
network alone, float32 and bfloat16). Targets on one H100/H200-class GPU: >= 5,000 training
patches/s with AMP, <= 30 ms per 1080p image (the network; the whole path adds its numpy
decomposition and blend on the CPU).

Without CUDA it says that the CUDA checks are skipped and runs the same checks on the CPU at
a tiny size (a smoke run of the script itself, for CI: its figures are not the targets').
Exit status 1 when a check fails.

    python benchmarks/gpu_check.py [--device auto|cuda|cpu] [--epochs 4] [--summary PATH]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from bench_infer import test_image
from summary import Row, add_summary_argument, write_summary
from torch.utils.data import Dataset

from vvcjnd.infer.profile import InferSettings, infer_luma, run_network
from vvcjnd.model.inference import fuse_for_inference
from vvcjnd.model.network import StructuralVisibilityNet
from vvcjnd.patches.grid import extract_patches, grid_positions

# The tolerance of resumed against uninterrupted losses on CUDA, relative: CUDA has no
# deterministic backward of nearest upsampling (atomic adds), so runs agree to float sums
# there; on the CPU they are bit-identical.
CUDA_RESUME_RTOL = 1e-3


class SyntheticPairs(Dataset):
    """``n`` seeded pairs of side x side patches in [-1, 1]: smooth random texture and, as
    its JND-level twin, its 3x3 box blur. Items are (pristine, jnd, index), (1, side, side)."""

    def __init__(self, n: int, side: int = 64, seed: int = 0):
        noise = torch.rand(n, 1, side, side, generator=torch.Generator().manual_seed(seed))
        smooth = torch.nn.functional.avg_pool2d(noise * 2 - 1, 5, 1, 2, count_include_pad=False)
        self.pristine = (smooth * 2).clamp(-1, 1)
        self.jnd = torch.nn.functional.avg_pool2d(self.pristine, 3, 1, 1, count_include_pad=False)

    def __len__(self) -> int:
        return len(self.pristine)

    def __getitem__(self, index: int):
        return self.pristine[index], self.jnd[index], index


def train_config(width: int, depth: int, batch: int, epochs: int, device: str, amp: bool,
                 deterministic: bool) -> dict:  # fmt: skip
    """A complete ``train`` section: the paper's optimiser, ``epochs`` at a constant rate."""
    return {
        "architecture": "described", "width": width, "depth": depth, "head_init": "zero",
        "epochs": epochs, "epochs_constant": epochs // 2, "batch_size": batch,
        "eval_batch_size": 4 * batch, "learning_rate": 5e-4, "beta1": 0.5, "beta2": 0.999,
        "flip": False, "device": device, "amp": amp, "deterministic": deterministic,
        "resume": True, "threads": torch.get_num_threads(), "num_workers": 0, "progress": False,
    }  # fmt: skip


def training_checks(cfg: dict, pairs: Dataset, val: Dataset, work: Path) -> tuple[float, list]:
    """Train ``cfg`` once for speed and once interrupted + resumed; (patches/s, failures)."""
    from vvcjnd.model.training import fit

    failures = []
    label = "AMP bfloat16" if cfg["amp"] else "float32"
    timed = fit(dict(cfg, deterministic=False), 1, pairs, val, work / f"{label}-timed")
    rates = [row["patches_per_s"] for row in timed[1:]] or [timed[0]["patches_per_s"]]
    losses = [(row["train_loss"], row["val_loss"]) for row in timed]
    if not all(math.isfinite(value) for pair in losses for value in pair):
        failures.append(f"{label}: a loss is not finite: {losses}")
    whole = fit(cfg, 1, pairs, val, work / f"{label}-whole")
    fit(cfg, 1, pairs, val, work / f"{label}-parts", stop_after=cfg["epochs"] // 2)
    resumed = fit(cfg, 1, pairs, val, work / f"{label}-parts")
    straight = np.array([(r["train_loss"], r["val_loss"]) for r in whole])
    again = np.array([(r["train_loss"], r["val_loss"]) for r in resumed])
    exact = np.array_equal(straight, again)
    rtol = 0.0 if torch.device(cfg["device"]).type == "cpu" else CUDA_RESUME_RTOL
    worst = float(np.max(np.abs(again - straight) / np.abs(straight)))
    print(f"{label}: {len(pairs) // cfg['batch_size'] * cfg['epochs']} steps per run, "
          f"{statistics.median(rates):.0f} patches/s (median of epochs after the first); "
          f"resumed = uninterrupted: {'bit-identical' if exact else f'rel. diff {worst:.2e}'}; "
          f"final train loss {losses[-1][0]:.5f}", flush=True)  # fmt: skip
    if not exact and worst > rtol:
        failures.append(f"{label}: resumed losses differ from uninterrupted by {worst:.2e}")
    return statistics.median(rates), failures


def synchronised(device: torch.device, function) -> float:
    """Seconds of ``function()``, the device's queued work included."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    function()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def inference_ms(width: int, depth: int, device: torch.device, batch: int, repeats: int,
                 luma: np.ndarray) -> tuple[dict[str, float], int]:  # fmt: skip
    """ms per image ``luma``: {'path float32', 'network float32', 'network bfloat16'}."""
    torch.manual_seed(0)
    model = fuse_for_inference(StructuralVisibilityNet(width, depth).to(device).eval())
    settings = InferSettings(batch_size=batch)
    patches = extract_patches(luma, grid_positions(*luma.shape, 64, 50, cover_border=True))
    runs = {
        "path float32": lambda: infer_luma(model, luma, settings, sign=1),
        "network float32": lambda: run_network(model, patches, batch),
        "network bfloat16": lambda: run_network(model, patches, batch, "bfloat16"),
    }
    figures = {}
    for name, function in runs.items():
        function()  # warm-up (cuDNN plans, allocations)
        figures[name] = 1e3 * statistics.median(
            synchronised(device, function) for _ in range(repeats)
        )
    return figures, len(patches)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    parser.add_argument("--epochs", type=int, default=4, help="per CUDA training run (>= 2)")
    add_summary_argument(parser)
    args = parser.parse_args()
    cuda = torch.cuda.is_available() and args.device != "cpu"
    if args.device == "cuda" and not cuda:
        print("gpu_check: --device cuda but no CUDA device is available", file=sys.stderr)
        return 1
    if cuda:
        device = torch.device("cuda")
        name = torch.cuda.get_device_name(device)
        width, depth, batch, pairs, side, repeats, epochs = 32, 5, 128, 128 * 50, 64, 5, args.epochs
        luma = test_image()
    else:
        print("CUDA: not available; the CUDA checks are skipped. Running the same checks on "
              "the CPU at width 4, depth 3, on a 480x270 image (a smoke run, not the "
              "targets' figures).")  # fmt: skip
        torch.set_num_threads(1)  # tiny tensors: a second thread only adds its barriers
        device, name = torch.device("cpu"), "CPU (no CUDA)"
        width, depth, batch, pairs, side, repeats, epochs = 4, 3, 8, 16, 32, 1, 2
        luma = test_image()[:270, :480]
    print(f"device {name}; torch {torch.__version__}; width {width}, depth {depth}, batch "
          f"{batch}, {pairs} pairs of {side}x{side}, {epochs} epochs per run")  # fmt: skip
    train_set, val_set = SyntheticPairs(pairs, side, seed=1), SyntheticPairs(batch, side, seed=2)
    failures, rates = [], {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vvcjnd-gpu-check-") as work:
        for amp in (False, True):
            cfg = train_config(width, depth, batch, epochs, device.type, amp, True)
            rates[amp], failed = training_checks(cfg, train_set, val_set, Path(work))
            failures += failed
    inference, n_patches = inference_ms(width, depth, device, 4 * batch, repeats, luma)
    image = f"one {luma.shape[1]}x{luma.shape[0]} image"
    for figure, ms in inference.items():
        print(f"inference, {image} ({n_patches} patches), {figure}: {ms:.1f} ms")
    print(f"gpu_check: {time.perf_counter() - started:.0f} s")
    where = f"width {width}, batch {batch}, {name}"
    write_summary(args.summary, [
        Row("gpu", f"training with AMP, {where}", rates[True], "patch/s",
            ">= 5000 patch/s (H100/H200)", "float32 training", rates[True] / rates[False]),
        Row("gpu", f"inference network, {image}, width {width}, {name}",
            inference["network float32"], "ms", "<= 30 ms (H100/H200)",
            "bfloat16 network", inference["network float32"] / inference["network bfloat16"]),
        Row("gpu", f"inference whole path, {image}, width {width}, {name}",
            inference["path float32"], "ms"),
    ])  # fmt: skip
    for failure in failures:
        print(f"gpu_check: FAILED: {failure}", file=sys.stderr)
    print("gpu_check: all checks passed" if not failures else "gpu_check: checks FAILED")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
