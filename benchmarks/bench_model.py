"""Speed of the structural-visibility network on the CPU (or a GPU): patches/s and FLOP/s share.

Prints, for inference variants and for training, the patches per second, the achieved
FLOP/s (2 x the analytic multiply-accumulates each form executes: the network's, or the
fewer of its inference form `InferenceNet`) and its share of the
FLOP/s of a float32 matrix multiply timed in the same process. Every figure is the
median of repeats, each model repeat bracketed by matmul repeats so that load from
other processes hits both alike.

    python benchmarks/bench_model.py                 # paper width 32, 2 threads
    python benchmarks/bench_model.py --width 8 --threads 1
    python benchmarks/bench_model.py --summary PATH  # also write the headline figures as JSON
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import statistics
import time

import torch
from summary import Row, add_summary_argument, write_summary
from torch.nn.utils import parametrize

from vvcjnd.model.costs import inference_macs_per_patch
from vvcjnd.model.costs import macs_per_patch as model_macs
from vvcjnd.model.inference import InferenceNet, fold_norms
from vvcjnd.model.network import StructuralVisibilityNet, count_parameters

PATCHES_PER_1080P = 798
MATMUL_SIDE = 2048


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def paired(fn, matmul, device, repeats: int) -> tuple[float, float]:
    """Median seconds of ``fn`` and median matmul FLOP/s, interleaved."""
    fn()  # warm-up (allocations, oneDNN primitive creation)
    matmul()
    seconds, rates = [], []
    for _ in range(repeats):
        rates.append(2 * MATMUL_SIDE**3 / timed(matmul, device))
        seconds.append(timed(fn, device))
    rates.append(2 * MATMUL_SIDE**3 / timed(matmul, device))
    return statistics.median(seconds), statistics.median(rates)


def report(
    label: str, patches: int, seconds: float, flops_per_patch: float, matmul_rate: float
) -> tuple[float, float]:
    """Print one line; return (patches/s, achieved FLOP/s / matmul FLOP/s)."""
    rate = patches * flops_per_patch / seconds
    print(
        f"{label:<52} {patches / seconds:9.1f} patch/s {rate / 1e9:8.1f} GFLOP/s "
        f"{100 * rate / matmul_rate:5.1f}% of matmul ({matmul_rate / 1e9:.0f} GFLOP/s)"
        f"  1080p image {PATCHES_PER_1080P / (patches / seconds):6.2f} s"
    )
    return patches / seconds, rate / matmul_rate


def forward(context, net, inputs) -> None:
    with context():
        net(inputs)


@contextlib.contextmanager
def cached_inference():
    """inference_mode with every spectral-norm weight computed once per call."""
    with torch.inference_mode(), parametrize.cached():
        yield


@contextlib.contextmanager
def bf16_inference(device_type: str):
    """inference_mode with bfloat16 autocast (AMX/tensor cores; not bit-equal to float32)."""
    with torch.inference_mode(), torch.autocast(device_type, dtype=torch.bfloat16):
        yield


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--depth", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batches", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--train-batch", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    add_summary_argument(parser)
    args = parser.parse_args()

    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = StructuralVisibilityNet(args.width, args.depth).to(device)
    macs = model_macs(args.width, args.depth)
    flops = 2 * macs
    a = torch.randn(MATMUL_SIDE, MATMUL_SIDE, device=device)
    b = torch.randn(MATMUL_SIDE, MATMUL_SIDE, device=device)

    def matmul():
        return a @ b

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(
        f"width {args.width} depth {args.depth}: {count_parameters(model):,} parameters, "
        f"{macs / 1e9:.3f} G MAC per 64x64 patch ({PATCHES_PER_1080P * flops / 1e12:.2f} TFLOP "
        f"per 1080p image); {name}, {args.threads} threads, torch {torch.__version__}"
    )

    # training: forward, L1 loss, backward, Adam step (3 forwards' worth of FLOPs)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.5, 0.999))
    x = torch.rand(args.train_batch, 1, 64, 64, device=device) * 2 - 1
    target = x.flip(-1)

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.l1_loss(model(x), target).backward()
        optimizer.step()

    figures = {}  # label -> (patches/s, share of matmul FLOP/s)
    model.train()
    for layout in (torch.contiguous_format, torch.channels_last):
        model.to(memory_format=layout)
        x = x.contiguous(memory_format=layout)
        seconds, rate = paired(train_step, matmul, device, args.repeats)
        label = f"train step, batch {args.train_batch}, {str(layout).split('.')[-1]}"
        figures[label] = report(label, args.train_batch, seconds, 3 * flops, rate)
    model.to(memory_format=torch.contiguous_format)

    model.eval()
    folded = fold_norms(model)
    folded_nchw = fold_norms(model).to(memory_format=torch.contiguous_format)
    fused = InferenceNet(folded).to(memory_format=torch.channels_last)
    fused_flops = 2 * inference_macs_per_patch(args.width, args.depth)
    bf16 = functools.partial(bf16_inference, device.type)
    for batch in args.batches:
        x = torch.rand(batch, 1, 64, 64, device=device) * 2 - 1
        x_last = x.contiguous(memory_format=torch.channels_last)

        variants = [
            ("eval, no_grad", torch.no_grad, model, x, flops),
            ("eval, inference_mode, cached spectral norm", cached_inference, model, x, flops),
            ("folded BN + spectral norm, NCHW", torch.inference_mode, folded_nchw, x, flops),
            ("folded, channels_last", torch.inference_mode, folded, x_last, flops),
            ("rearranged (InferenceNet)", torch.inference_mode, fused, x_last, fused_flops),
            ("rearranged, bfloat16 autocast", bf16, fused, x_last, fused_flops),
        ]
        for label, context, net, inputs, work in variants:
            seconds, rate = paired(
                functools.partial(forward, context, net, inputs), matmul, device, args.repeats
            )
            label = f"infer batch {batch:3d}: {label}"
            figures[label] = report(label, batch, seconds, work, rate)

    # headline: the layouts that vvcjnd.model.training and vvcjnd.infer use
    batch = max(args.batches)
    train = figures[f"train step, batch {args.train_batch}, channels_last"]
    infer = figures[f"infer batch {batch:3d}: rearranged (InferenceNet)"]
    size = f"width {args.width}, {args.threads} threads"
    write_summary(args.summary, [
        Row("model", f"training, {size}, batch {args.train_batch}", train[0], "patch/s",
            target=">= 0.60x matmul", baseline="float32 matmul FLOP/s", ratio=train[1]),
        Row("model", f"inference, {size}, batch {batch}", infer[0], "patch/s",
            baseline="float32 matmul FLOP/s", ratio=infer[1]),
    ])  # fmt: skip


if __name__ == "__main__":
    main()
