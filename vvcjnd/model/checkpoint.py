"""Checkpoints of the structural-visibility network: layout, atomic writing, strict reading.

A checkpoint is a dict saved with ``torch.save`` and read back with ``weights_only=True``
(plain tensors and containers only), so reading one never runs code from the file.
"""

from __future__ import annotations

from pathlib import Path

import torch

import vvcjnd
from vvcjnd.errors import VvcjndError
from vvcjnd.io import atomic_path
from vvcjnd.model.network import StructuralVisibilityNet, build_model

CHECKPOINT_FORMAT = "vvcjnd-structural-visibility-checkpoint"
CHECKPOINT_VERSION = 2
# Version 1 had no ``origin`` and its configs no ``architecture``; read_checkpoint upgrades it.
CHECKPOINT_KEYS_V1 = frozenset(
    {"format", "version", "vvcjnd_version", "torch_version", "config", "seed", "epoch", "model",
     "optimizer", "scheduler", "rng", "metrics", "best_epoch", "data"}
)  # fmt: skip
CHECKPOINT_KEYS = CHECKPOINT_KEYS_V1 | {"origin"}
TRAINED = {"kind": "trained", "file": "", "sha256": "", "ignored_keys": 0}


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def checkpoint_state(
    model: torch.nn.Module,
    cfg: dict,
    seed: int,
    epoch: int,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler=None,
    metrics: list[dict] | None = None,
    best_epoch: int = 0,
    data: str = "",
    origin: dict | None = None,
) -> dict:
    """Everything a checkpoint holds: weights, config, progress, optimizer and RNG states.

    ``data`` is the digest of the patch arrays trained on (empty for a model made elsewhere).
    ``origin`` says where the weights come from: ``kind`` (``trained`` by vvcjnd, or
    ``authors-release``, imported), ``file`` and ``sha256`` of the imported file,
    ``ignored_keys`` (its keys of never-run branches); default: trained here.
    """
    return {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "vvcjnd_version": vvcjnd.__version__,
        "torch_version": str(torch.__version__),
        "config": dict(cfg),
        "seed": seed,
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else {},
        "scheduler": scheduler.state_dict() if scheduler is not None else {},
        "rng": rng_state(),
        "metrics": list(metrics or []),
        "best_epoch": best_epoch,
        "data": data,
        "origin": dict(origin or TRAINED),
    }


def origin_label(state: dict) -> str:
    """A few words for a table row: ``ours, trained here`` or ``the authors' weights, FILE``."""
    origin = state["origin"]
    if origin["kind"] == "trained":
        return "ours, trained here"
    return f"the authors' weights, {origin['file']}"


def describe_origin(state: dict) -> str:
    """One line naming where a checkpoint's weights come from (for reports and tables)."""
    origin, cfg = state["origin"], state["config"]
    network = f"{cfg.get('architecture', 'described')} architecture, width {cfg['width']}"
    file = f"{origin['file']} (sha256 {origin['sha256'][:12]})" if origin["file"] else ""
    if origin["kind"] == "trained":
        trained = f"trained by vvcjnd ({network}, seed {state['seed']}, epoch {state['epoch']})"
        return f"{trained}, given as {file}" if file else trained
    return f"the authors' released weights, imported from {file} ({network})"


def save_checkpoint(path: str | Path, state: dict) -> None:
    """Write a checkpoint dict (see :func:`read_checkpoint`) atomically."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def read_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint with ``weights_only=True`` onto the CPU and check its layout.

    A checkpoint holds: format, version, vvcjnd_version, torch_version, config (the
    ``train`` section it was trained with), seed, epoch (completed epochs), model (state
    dict), optimizer, scheduler, rng, metrics (one dict per epoch, the log rows), best_epoch,
    data (a fingerprint of the training data, e.g. sha256 of the patch arrays), origin
    (see :func:`checkpoint_state`). A version-1 checkpoint (no origin, configs without
    ``architecture``) is upgraded in memory: trained here, ``described``.
    Raises :class:`VvcjndError` naming ``path`` when it is missing, unreadable or not one.
    """
    path = Path(path)
    if not path.is_file():
        raise VvcjndError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt or foreign files
        raise VvcjndError(f"cannot read checkpoint {path}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise VvcjndError(
            f"{path} is not a vvcjnd checkpoint (expected format {CHECKPOINT_FORMAT})"
        )
    if state.get("version") == 1 and set(state) == CHECKPOINT_KEYS_V1:
        state["origin"] = dict(TRAINED)
        state["version"] = CHECKPOINT_VERSION
        if isinstance(state["config"], dict):
            state["config"].setdefault("architecture", "described")
    if state.get("version") != CHECKPOINT_VERSION or set(state) != CHECKPOINT_KEYS:
        raise VvcjndError(
            f"{path}: checkpoint version {state.get('version')} with keys {sorted(state)}; "
            f"expected version {CHECKPOINT_VERSION} with keys {sorted(CHECKPOINT_KEYS)}"
        )
    return state


def load_strict(module, state_dict: dict, path: Path, what: str) -> None:
    try:
        module.load_state_dict(state_dict)
    except (RuntimeError, KeyError, ValueError, TypeError) as exc:
        raise VvcjndError(f"{path}: mismatched {what}: {exc}") from exc


def load_model(
    checkpoint_path: str | Path, device: str | torch.device = "cpu"
) -> tuple[StructuralVisibilityNet, dict]:
    """The trained network of a checkpoint (eval mode, on ``device``) and its ``train`` config.

    For fast inference pass the model through :func:`vvcjnd.model.inference.fuse_for_inference`.
    """
    path = Path(checkpoint_path)
    state = read_checkpoint(path)
    try:
        with torch.random.fork_rng(devices=[]):
            model = build_model(state["config"])
    except (KeyError, TypeError, AttributeError, VvcjndError) as exc:
        raise VvcjndError(f"{path}: its train config cannot build the model: {exc}") from exc
    load_strict(model, state["model"], path, "model parameters")
    return model.to(device).eval(), state["config"]
