"""Import of the authors' published generator weights (a release-layout state_dict).

``import_checkpoint(AUTHORS.pth, model.pt)`` reads the file with ``weights_only=True``,
checks every key, shape and dtype against :func:`vvcjnd.model.release.release_layout` of the
width that ``enc1``'s weight gives, drops the never-run branches, renames the rest onto our
``release`` network (old spectral norm ``weight_orig``/``weight_u``/``weight_v`` -> the
parametrization's ``original``/``_u``/``_v``; the stored u and v define sigma = u^T W v in eval
mode, as in the release, and are not iterated) and writes one of our checkpoints whose
``origin`` names the file and its sha256. Any other layout is a one-line
:class:`VvcjndError`, raised before anything is written.
"""

from __future__ import annotations

from pathlib import Path

import torch

from vvcjnd.errors import VvcjndError
from vvcjnd.io import sha256_file
from vvcjnd.model.checkpoint import (
    CHECKPOINT_FORMAT,
    checkpoint_state,
    load_model,
    read_checkpoint,
    save_checkpoint,
)
from vvcjnd.model.network import StructuralVisibilityNet, build_model
from vvcjnd.model.release import RELEASE_DEPTH, is_unused, our_key, release_layout

WIDTH_KEY = "enc1.main.1.weight_orig"
RELEASE_KIND = "authors-release"
# The train section an imported network gets: the release's recipe (configs/paper.yaml).
RELEASE_TRAIN = {
    "architecture": "release", "checkpoint": None, "depth": RELEASE_DEPTH, "head_init": "kaiming",
    "epochs": 40, "epochs_constant": 20, "batch_size": 20, "eval_batch_size": 64,
    "learning_rate": 1e-4, "beta1": 0.5, "beta2": 0.999, "flip": False, "device": "auto",
    "amp": False, "deterministic": True, "resume": True, "threads": 2, "num_workers": 0,
    "progress": True,
}  # fmt: skip


def _load_state_dict(path: Path) -> dict:
    if not path.is_file():
        raise VvcjndError(f"authors' checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError (refused by weights_only), zip and EOF errors
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise VvcjndError(
            f"{path}: cannot be read with torch.load(weights_only=True): {first}"
        ) from exc
    if not isinstance(state, dict):
        raise VvcjndError(f"{path}: not a state_dict (a {type(state).__name__}, not a dict)")
    if state.get("format") == CHECKPOINT_FORMAT:
        raise VvcjndError(f"{path}: already a vvcjnd checkpoint; use it as it is")
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise VvcjndError(
                f"{path}: not a state_dict: entry {key!r} is a {type(value).__name__}, not a tensor"
            )
    return state


def _is_ours(path: Path) -> bool:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # _load_state_dict says what is wrong
        return False
    return isinstance(state, dict) and state.get("format") == CHECKPOINT_FORMAT


def infer_width(state: dict, path: Path) -> int:
    """The release's ``g_conv_dim`` from ``enc1``'s weight (w, 1, 7, 7)."""
    if WIDTH_KEY not in state:
        raise VvcjndError(f"{path}: missing key {WIDTH_KEY!r} (not the release's layout)")
    shape = tuple(state[WIDTH_KEY].shape)
    if len(shape) != 4 or shape[1:] != (1, 7, 7) or shape[0] < 16:
        raise VvcjndError(
            f"{path}: key {WIDTH_KEY!r} has shape {shape}; expected (w, 1, 7, 7) with "
            "w >= 16 (the release's width)"
        )
    return shape[0]


def check_release_layout(state: dict, path: Path) -> int:
    """The width of a release-layout state_dict; raises naming the first key that differs."""
    width = infer_width(state, path)
    expected = {key: (shape, dtype) for key, shape, dtype in release_layout(width)}
    for key in expected:
        if key not in state and not is_unused(key):
            raise VvcjndError(f"{path}: missing key {key!r} of the release's layout")
    for key, tensor in state.items():
        if key not in expected:
            raise VvcjndError(f"{path}: unexpected key {key!r} (not in the release's layout)")
        shape, dtype = expected[key]
        if tuple(tensor.shape) != shape:
            raise VvcjndError(
                f"{path}: key {key!r} has shape {tuple(tensor.shape)}; width {width} "
                f"(from {WIDTH_KEY!r}) expects {shape}"
            )
        kind = tensor.dtype
        integer = not (kind.is_floating_point or kind.is_complex or kind == torch.bool)
        if (integer if dtype == "int64" else kind.is_floating_point) is False:
            raise VvcjndError(f"{path}: key {key!r} is {tensor.dtype}; expected {dtype}")
    return width


def release_model(state: dict, path: Path) -> tuple[StructuralVisibilityNet, dict, int]:
    """Our ``release`` network (eval mode) holding a release-layout state_dict's weights.

    Returns the network, its train config and the number of ignored (never-run) keys.
    """
    width = check_release_layout(state, path)
    cfg = {**RELEASE_TRAIN, "width": width}
    with torch.random.fork_rng(devices=[]):
        model = build_model(cfg)
    ours = model.state_dict()
    mapped = {}
    for key, tensor in state.items():
        if is_unused(key):
            continue
        target = our_key(key)
        mapped[target] = tensor.to(ours[target].dtype).reshape(ours[target].shape)
    if set(mapped) != set(ours):  # an error of ours, not of the file
        raise VvcjndError(f"{path}: release keys map onto {len(mapped)} of our {len(ours)} keys")
    model.load_state_dict(mapped)
    return model.eval(), cfg, len(state) - len(mapped)


def import_checkpoint(source: str | Path, output: str | Path) -> dict:
    """Convert the authors' state_dict ``source`` into our checkpoint ``output``.

    Returns the checkpoint's ``origin`` (kind, file, sha256, ignored_keys) plus ``width``
    and ``keys`` (the number mapped). Nothing is written when ``source`` is not one.
    """
    source = Path(source)
    model, cfg, ignored = release_model(_load_state_dict(source), source)
    origin = {
        "kind": RELEASE_KIND,
        "file": source.name,
        "sha256": sha256_file(source),
        "ignored_keys": ignored,
    }
    save_checkpoint(output, checkpoint_state(model, cfg, seed=0, epoch=0, origin=origin))
    return {**origin, "width": cfg["width"], "keys": len(model.state_dict())}


def load_any_model(path: str | Path) -> tuple[StructuralVisibilityNet, dict, dict]:
    """The network (CPU, eval mode), train config and checkpoint state of either one of our
    checkpoints or an authors' release state_dict (imported in memory, ``epoch`` 0)."""
    path = Path(path)
    if not path.is_file():
        raise VvcjndError(f"checkpoint not found: {path}")
    state = _load_state_dict(path) if not _is_ours(path) else None
    if state is None:
        model, cfg = load_model(path)
        return model, cfg, read_checkpoint(path)
    model, cfg, ignored = release_model(state, path)
    origin = {"kind": RELEASE_KIND, "file": path.name, "sha256": sha256_file(path),
              "ignored_keys": ignored}  # fmt: skip
    return model, cfg, checkpoint_state(model, cfg, seed=0, epoch=0, origin=origin)


def use_checkpoint(source: str | Path, output: str | Path) -> dict:
    """Write the network the workflow runs instead of training (``train.checkpoint``).

    ``source`` is one of our checkpoints (checked; a trained one's origin gets the file name
    and sha256 it was given as) or the authors' state_dict (imported). Returns the state
    written to ``output``.
    """
    source = Path(source)
    _, _, state = load_any_model(source)
    if state["origin"]["kind"] == "trained" and not state["origin"]["file"]:
        state["origin"] = {**state["origin"], "file": source.name, "sha256": sha256_file(source)}
    save_checkpoint(output, state)
    return state
