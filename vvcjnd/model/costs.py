"""Cost figures of the network that need no torch: multiply-accumulates and runtime estimates.

Kept apart from `vvcjnd.model` so that the workflow can size its jobs without importing torch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np

PATCH_SIZE = 64
GLOBAL_CONTEXT_REDUCTION = 16
ATTENTION_KEY_REDUCTION = 8
HEAD_KERNEL = 7  # the 7x7 input conv and head


def _levels(width: int, depth: int, size: int) -> tuple[list[int], list[int]]:
    """Channels and side (pixels) of each encoder level, finest first."""
    levels = range(depth)
    return [width * 2**level for level in levels], [size // 2**level for level in levels]


def macs_per_patch(width: int, depth: int, size: int = PATCH_SIZE) -> int:
    """Multiply-accumulates of one forward pass on a ``size`` x ``size`` patch (analytic).

    Counts the convs, the global-context MLPs and the attention matrix products; the
    element-wise work (batch norm, ReLU, softmax, padding) is left out.
    """
    channels, sides = _levels(width, depth, size)
    macs = sides[0] ** 2 * width * HEAD_KERNEL**2  # 7x7 input conv
    for level in range(1, depth):
        macs += sides[level] ** 2 * channels[level] * channels[level - 1] * 9  # stride-2 conv
    for c, side in zip(channels, sides, strict=True):  # global context on skips and bottleneck
        hidden = max(1, c // GLOBAL_CONTEXT_REDUCTION)
        macs += 2 * c * hidden + side**2 * 2 * c * c
    c, positions = channels[-1], sides[-1] ** 2
    key = max(1, c // ATTENTION_KEY_REDUCTION)
    macs += positions * c * (2 * key + c) + positions**2 * (key + c)
    for level in range(depth - 1, 0, -1):  # decoder: reduce and merge at the finer side
        side, c_out = sides[level - 1], channels[level - 1]
        macs += 2 * side**2 * c_out * 2 * c_out * 9
    macs += size**2 * width * HEAD_KERNEL**2  # 7x7 head
    return macs


def inference_macs_per_patch(width: int, depth: int, size: int = PATCH_SIZE) -> int:
    """Multiply-accumulates of one patch through `vvcjnd.model.inference.InferenceNet` on the
    CPU: :func:`macs_per_patch` less 5/9 of each decoder upsample conv (4 taps per output
    pixel, not 9) and the context half of each global-context fusion (once per patch, not
    per position), plus the head's tap planes over its 3-pixel padded border.
    """
    channels, sides = _levels(width, depth, size)
    saved = sum((side**2 - 1) * c * c for c, side in zip(channels, sides, strict=True))
    for level in range(depth - 1, 0, -1):
        side, c_out = sides[level - 1], channels[level - 1]
        saved += side**2 * c_out * 2 * c_out * (9 - 4)
    padded = size + HEAD_KERNEL - 1
    head_border = (padded**2 - size**2) * width * HEAD_KERNEL**2
    return macs_per_patch(width, depth, size) - saved + head_border


# Conservative training throughput for the runtime estimate (forward + backward = 3 forwards).
CPU_FLOPS_PER_THREAD = 10e9
GPU_FLOPS = 5e12
UNKNOWN_PAIRS = 1000


def training_runtime_minutes(
    train_config: dict, pair_files: Iterable[str | Path], threads: int
) -> int:
    """A generous wall-time estimate (minutes) of the train stage, for schedulers.

    ``pair_files`` are the train/val pristine .npy arrays; their headers give the pair
    counts (a missing file counts :data:`UNKNOWN_PAIRS`). GPU speed is assumed when
    ``train.device`` is cuda; CPU speed otherwise (``auto`` may land on a CPU node).
    """
    pairs = 0
    for path in pair_files:
        try:
            pairs += len(np.load(path, mmap_mode="r"))
        except (OSError, ValueError):
            pairs += UNKNOWN_PAIRS
    gpu = train_config["device"] == "cuda"
    rate = GPU_FLOPS if gpu else CPU_FLOPS_PER_THREAD * max(1, threads)
    flops = 3 * 2 * macs_per_patch(train_config["width"], train_config["depth"], PATCH_SIZE)
    return 5 + math.ceil(train_config["epochs"] * pairs * flops / rate / 60)
