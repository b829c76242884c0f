"""Training of the structural-visibility network: loop, schedule, checkpoints, log and figure.

One epoch visits every training pair once in an order drawn from (seed, epoch), so a run
resumed from the checkpoint of epoch k continues exactly as if never stopped (on CPU the
losses are bit-identical). Losses are L1 (mean absolute difference) in the [-1, 1] scale
of the patches; the identity loss is the validation loss of returning the pristine patch
unchanged, the bar a model must clear to have learnt anything.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.nn.utils import parametrize
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from vvcjnd.errors import VvcjndError
from vvcjnd.io import atomic_path, remove_stale_temporaries, sha256_file, write_text
from vvcjnd.model.checkpoint import (
    checkpoint_state,
    load_strict,
    read_checkpoint,
    restore_rng,
    save_checkpoint,
)
from vvcjnd.model.network import build_model, count_parameters
from vvcjnd.patches.dataset import PatchPairDataset
from vvcjnd.seeds import stream_seed

LOGGER = logging.getLogger("vvcjnd.model.training")

LOG_COLUMNS = ["epoch", "train_loss", "val_loss", "identity_loss", "lr", "seconds", "patches_per_s"]
# Keys that do not change what is computed; a resumed run may differ in them.
# ``checkpoint`` replaces training in the workflow; it does not enter a trained model.
RUNTIME_KEYS = frozenset({"resume", "device", "num_workers", "progress", "threads", "checkpoint"})
LAST, BEST = "checkpoint_last.pt", "checkpoint_best.pt"


def select_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cpu``/``cuda`` as asked (cuda must exist)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise VvcjndError("config key 'train.device' is 'cuda' but no CUDA device is available")
    return torch.device(name)


def lr_factor(epoch: int, epochs: int, epochs_constant: int, arch: str = "described") -> float:
    """Learning-rate multiplier of 0-based ``epoch``: 1 for the first ``epochs_constant``
    epochs, then falling linearly over the rest.

    ``described`` ("decayed linearly towards zero") reaches 1 / (decay epochs + 1) in the
    last epoch; ``release`` (the authors' ``1 - max(0, e + 1 - held) / decay``) reaches 0.
    """
    decay_epochs = epochs - epochs_constant
    if epoch < epochs_constant:
        return 1.0
    if arch == "release":
        return 1.0 - (epoch + 1 - epochs_constant) / decay_epochs
    return 1.0 - (epoch - epochs_constant + 1) / (decay_epochs + 1)


def epoch_order(n_pairs: int, seed: int, epoch: int) -> list[int]:
    """The order in which epoch ``epoch`` (0-based) visits the ``n_pairs`` training pairs."""
    return np.random.default_rng([seed, epoch]).permutation(n_pairs).tolist()


def _configure_determinism(device: torch.device, deterministic: bool) -> None:
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = not deterministic
        torch.backends.cudnn.deterministic = deterministic
        if deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    # warn_only: CUDA has no deterministic upsampling backward; CPU runs are exact regardless.
    torch.use_deterministic_algorithms(deterministic, warn_only=True)


def _autocast(device: torch.device, amp: bool):
    """bfloat16 autocast on CUDA when ``amp`` (no loss scaling needed); a no-op otherwise."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp and device.type == "cuda")


def _loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.l1_loss(output.float(), target, reduction="mean")


def _loader(dataset: Dataset, batch_size: int, order: Iterable[int] | None, workers: int):
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=order,
        shuffle=False,
        num_workers=workers,
        persistent_workers=False,
    )


def _to(batch: torch.Tensor, device: torch.device) -> torch.Tensor:
    return batch.to(device, memory_format=torch.channels_last)


def identity_loss(dataset: Dataset, batch_size: int = 256) -> float:
    """Mean L1 between the pristine and the JND-level patches of ``dataset`` ([-1, 1] scale)."""
    total, count = 0.0, 0
    for pristine, jnd, _ in _loader(dataset, batch_size, None, 0):
        total += float((pristine - jnd).abs().sum(dtype=torch.float64))
        count += pristine.numel()
    return total / count


@torch.no_grad()
def evaluate(model: torch.nn.Module, dataset: Dataset, batch_size: int, device, amp=False):
    """Mean L1 of ``model`` (in eval mode, spectral-norm weights computed once) on ``dataset``."""
    model.eval()
    total, count = 0.0, 0
    with parametrize.cached():
        for pristine, jnd, _ in _loader(dataset, batch_size, None, 0):
            pristine, jnd = _to(pristine, device), _to(jnd, device)
            with _autocast(device, amp):
                output = model(pristine)
            total += float((output.float() - jnd).abs().sum(dtype=torch.float64))
            count += jnd.numel()
    return total / count


# ---------------------------------------------------------------- training


def _trajectory(train_config: dict) -> dict:
    return {key: value for key, value in train_config.items() if key not in RUNTIME_KEYS}


def _resumable(path: Path, cfg: dict, seed: int, data: str) -> dict | None:
    """The checkpoint at ``path`` if a run of these settings, seed and data may resume it."""
    if not path.is_file():
        return None
    state = read_checkpoint(path)
    found = (_trajectory(state["config"]), state["seed"], state["data"])
    if found != (_trajectory(cfg), seed, data):
        LOGGER.warning("%s is of other settings, seed or data: training afresh", path)
        return None
    return state


def fit(
    train_config: dict,
    seed: int,
    train_set: Dataset,
    val_set: Dataset,
    checkpoint_dir: str | Path,
    data: str = "",
    stop_after: int | None = None,
    initial: dict | None = None,
) -> list[dict]:
    """Train (or resume) a network; return the per-epoch metrics (the log rows).

    After every epoch ``checkpoint_dir/checkpoint_last.pt`` is written, and
    ``checkpoint_best.pt`` when the validation loss is the lowest so far. With
    ``train.resume`` and an existing ``checkpoint_last.pt`` of the same settings, seed and
    ``data`` fingerprint, training continues after its epoch; any other one is replaced by
    a fresh run. ``stop_after`` ends the run after that many epochs in total (to simulate
    an interruption). ``initial`` (a model state_dict of this config's network, e.g. the
    imported authors' weights) starts a fresh run from those weights instead of the seeded
    initialisation; put its digest into ``data`` so that only a run from it resumes.
    """
    cfg = train_config
    checkpoint_dir = Path(checkpoint_dir)
    device = select_device(cfg["device"])
    _configure_determinism(device, cfg["deterministic"])
    torch.manual_seed(seed)
    # channels_last: oneDNN's and cuDNN's fastest conv layout (1.2-1.3x per training step on CPU)
    model = build_model(cfg).to(device, memory_format=torch.channels_last)
    if initial is not None:
        load_strict(model, initial, checkpoint_dir, "initial model parameters")
    optimizer = torch.optim.Adam(
        model.parameters(), lr=cfg["learning_rate"], betas=(cfg["beta1"], cfg["beta2"])
    )
    arch = cfg.get("architecture", "described")
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda epoch: lr_factor(epoch, cfg["epochs"], cfg["epochs_constant"], arch)
    )
    history: list[dict] = []
    best_epoch = 0
    last_path = checkpoint_dir / LAST
    state = _resumable(last_path, cfg, seed, data) if cfg["resume"] else None
    if state is not None:
        load_strict(model, state["model"], last_path, "model parameters")
        load_strict(optimizer, state["optimizer"], last_path, "optimizer state")
        load_strict(scheduler, state["scheduler"], last_path, "scheduler state")
        restore_rng(state["rng"])
        history, best_epoch = list(state["metrics"]), state["best_epoch"]
        LOGGER.info("resuming %s after epoch %d", last_path, state["epoch"])

    identity = identity_loss(val_set)
    end = cfg["epochs"] if stop_after is None else min(stop_after, cfg["epochs"])
    for epoch in range(len(history), end):
        lr = optimizer.param_groups[0]["lr"]
        started = time.perf_counter()
        train_loss = _train_epoch(model, optimizer, train_set, cfg, seed, epoch, device)
        seconds = time.perf_counter() - started
        val_loss = evaluate(model, val_set, cfg["eval_batch_size"], device, cfg["amp"])
        scheduler.step()
        history.append(
            {
                "epoch": epoch + 1,
                "train_loss": train_loss,
                "val_loss": val_loss,
                "identity_loss": identity,
                "lr": lr,
                "seconds": seconds,
                "patches_per_s": len(train_set) / seconds,
            }
        )
        is_best = best_epoch == 0 or val_loss < history[best_epoch - 1]["val_loss"]
        best_epoch = epoch + 1 if is_best else best_epoch
        state = checkpoint_state(
            model, cfg, seed, epoch + 1, optimizer, scheduler, history, best_epoch, data
        )
        save_checkpoint(last_path, state)
        if is_best:
            save_checkpoint(checkpoint_dir / BEST, state)
        LOGGER.info(
            "epoch %d/%d train %.5f val %.5f identity %.5f lr %.3g %.1f s",
            epoch + 1, cfg["epochs"], train_loss, val_loss, identity, lr, seconds,
        )  # fmt: skip
    return history


def _train_epoch(model, optimizer, train_set, cfg, seed, epoch, device) -> float:
    """One pass over the training pairs; the mean L1 loss per patch."""
    model.train()
    if hasattr(train_set, "set_epoch"):
        train_set.set_epoch(epoch)
    order = epoch_order(len(train_set), seed, epoch)
    batches = _loader(train_set, cfg["batch_size"], order, cfg["num_workers"])
    total, count = 0.0, 0
    progress = tqdm(
        batches,
        desc=f"epoch {epoch + 1}/{cfg['epochs']}",
        unit="batch",
        disable=not cfg["progress"],
        mininterval=2.0,
    )
    for pristine, jnd, _ in progress:
        pristine, jnd = _to(pristine, device), _to(jnd, device)
        optimizer.zero_grad(set_to_none=True)
        with _autocast(device, cfg["amp"]):
            output = model(pristine)
        loss = _loss(output, jnd)
        loss.backward()
        optimizer.step()
        total += float(loss.detach()) * len(pristine)
        count += len(pristine)
        progress.set_postfix(loss=f"{total / count:.4f}", refresh=False)
    return total / count


# ---------------------------------------------------------------- stage outputs


def write_log(path: str | Path, history: list[dict]) -> None:
    """The per-epoch metrics as a comma-separated table (columns :data:`LOG_COLUMNS`)."""
    frame = pd.DataFrame(history, columns=LOG_COLUMNS)
    write_text(path, frame.to_csv(index=False, float_format="%.6g", lineterminator="\n"))


def train(
    config: dict,
    patches_dir: str | Path,
    out_dir: str | Path,
    state_dir: str | Path | None = None,
) -> list[dict]:
    """The train stage: fit on ``patches_dir``'s train split, validate on its val split.

    ``config`` is the whole validated config (``train`` section and master ``seed``).
    Per-epoch checkpoints go to ``state_dir`` (default ``out_dir``; a separate folder lets a
    workflow keep them when it deletes a killed job's outputs). Writes to ``out_dir``:
    ``checkpoint_last.pt``, ``checkpoint_best.pt``, ``log.csv`` and ``loss.png``.
    """
    cfg, seed = config["train"], stream_seed(config["seed"], "train")
    out_dir = Path(out_dir)
    state_dir = out_dir if state_dir is None else Path(state_dir)
    if state_dir.is_dir():
        remove_stale_temporaries(state_dir)  # of a killed run; its finished epochs are kept
    train_set = PatchPairDataset(patches_dir, "train", flip=cfg["flip"], seed=seed)
    val_set = PatchPairDataset(patches_dir, "val")
    if len(train_set) == 0 or len(val_set) == 0:
        raise VvcjndError(
            f"{patches_dir}: training needs patches in the train and val splits, got "
            f"{len(train_set)} and {len(val_set)}"
        )
    with torch.random.fork_rng(devices=[]):
        model_size = count_parameters(build_model(cfg))
    LOGGER.info(
        "training the %s network, width %d depth %d (%d parameters) on %d pairs, "
        "validating on %d, device %s",
        cfg["architecture"], cfg["width"], cfg["depth"], model_size, len(train_set), len(val_set),
        select_device(cfg["device"]),
    )  # fmt: skip
    data = ",".join(
        sha256_file(path) for dataset in (train_set, val_set) for path in dataset.paths.values()
    )
    history = fit(
        cfg, seed, train_set, val_set, state_dir, data=hashlib.sha256(data.encode()).hexdigest()
    )
    for name in (LAST, BEST):
        if state_dir != out_dir:
            with atomic_path(out_dir / name) as tmp:
                shutil.copyfile(state_dir / name, tmp)
    write_log(out_dir / "log.csv", history)
    from vvcjnd.model.figures import plot_losses

    plot_losses(out_dir / "loss.png", history)
    final = history[-1]
    LOGGER.info(
        "final val loss %.5f (identity map %.5f, ratio %.3f)",
        final["val_loss"], final["identity_loss"],
        final["val_loss"] / final["identity_loss"] if final["identity_loss"] else math.nan,
    )  # fmt: skip
    return history
