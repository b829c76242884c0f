"""Training: schedule, determinism, exact resume, checkpoints, stage outputs."""

from __future__ import annotations

from itertools import pairwise

import pandas as pd
import pytest
import torch

from vvcjnd.errors import VvcjndError
from vvcjnd.model.checkpoint import load_model, read_checkpoint, save_checkpoint
from vvcjnd.model.costs import training_runtime_minutes
from vvcjnd.model.training import (
    BEST,
    LAST,
    LOG_COLUMNS,
    epoch_order,
    fit,
    lr_factor,
    select_device,
    train,
)
from vvcjnd.patches.dataset import PatchPairDataset

from .conftest import write_camera_patches

SIDE = 32  # small patches keep the tests fast; the network takes any side divisible by 4


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def patch_dir(tmp_path_factory):
    """32x32 camera patches: top 6 rows train (48 pairs), bottom 2 val (16); JND = 3x3 blur."""
    return write_camera_patches(tmp_path_factory.mktemp("patches"), 256, train_rows=6, side=SIDE)


@pytest.fixture
def tiny(config):
    """The whole config with a tiny, quick train section."""
    config["train"].update(
        width=4, depth=3, epochs=3, epochs_constant=1, batch_size=8, learning_rate=2e-3,
        progress=False, device="cpu",
    )  # fmt: skip
    return config


def datasets(patch_dir, cfg, seed):
    return (
        PatchPairDataset(patch_dir, "train", flip=cfg["flip"], seed=seed),
        PatchPairDataset(patch_dir, "val"),
    )


def losses(history):
    return [(row["train_loss"], row["val_loss"]) for row in history]


def test_paper_schedule_holds_20_then_decays_linearly():
    factors = [lr_factor(epoch, 40, 20) for epoch in range(40)]
    assert factors[:20] == [1.0] * 20
    assert factors[20] == pytest.approx(20 / 21) and factors[39] == pytest.approx(1 / 21)
    assert all(a > b for a, b in pairwise(factors[20:]))


def test_epoch_order_is_a_seeded_permutation():
    order = epoch_order(50, seed=3, epoch=2)
    assert sorted(order) == list(range(50))
    assert order == epoch_order(50, seed=3, epoch=2)
    assert order != epoch_order(50, seed=3, epoch=3)


def test_same_seed_gives_identical_losses(tiny, patch_dir, tmp_path):
    cfg = dict(tiny["train"], flip=True, epochs=2)
    runs = [fit(cfg, 7, *datasets(patch_dir, cfg, 7), tmp_path / f"run{i}") for i in range(2)]
    assert losses(runs[0]) == losses(runs[1])
    other = fit(cfg, 8, *datasets(patch_dir, cfg, 8), tmp_path / "other")
    assert losses(other) != losses(runs[0])


def test_resume_equals_uninterrupted(tiny, patch_dir, tmp_path):
    cfg = dict(tiny["train"], flip=True)
    whole = fit(cfg, 5, *datasets(patch_dir, cfg, 5), tmp_path / "whole")
    first = fit(cfg, 5, *datasets(patch_dir, cfg, 5), tmp_path / "parts", stop_after=1)
    assert len(first) == 1 and read_checkpoint(tmp_path / "parts" / LAST)["epoch"] == 1
    resumed = fit(cfg, 5, *datasets(patch_dir, cfg, 5), tmp_path / "parts")
    assert [row["epoch"] for row in resumed] == [1, 2, 3]
    assert losses(resumed) == losses(whole)
    assert [row["lr"] for row in resumed] == [row["lr"] for row in whole]
    a, b = (read_checkpoint(tmp_path / d / LAST)["model"] for d in ("whole", "parts"))
    assert all(torch.equal(a[key], b[key]) for key in a)

    # other settings or data: the old state is not resumed but replaced
    changed = dict(cfg, learning_rate=1e-3, epochs=4)
    fresh = fit(changed, 5, *datasets(patch_dir, cfg, 5), tmp_path / "parts")
    assert [row["epoch"] for row in fresh] == [1, 2, 3, 4]
    assert fresh[0]["train_loss"] != whole[0]["train_loss"]
    other_data = fit(cfg, 5, *datasets(patch_dir, cfg, 5), tmp_path / "parts", data="new")
    assert losses(other_data) == losses(whole)


def test_checkpoint_round_trip(tiny, patch_dir, tmp_path):
    cfg = tiny["train"]
    history = fit(cfg, 1, *datasets(patch_dir, cfg, 1), tmp_path)
    state = read_checkpoint(tmp_path / BEST)
    best = min(range(len(history)), key=lambda i: history[i]["val_loss"])
    assert state["epoch"] == state["best_epoch"] == best + 1
    assert state["metrics"] == history[: best + 1]
    model, loaded_cfg = load_model(tmp_path / LAST)
    assert loaded_cfg == cfg and not model.training
    last = read_checkpoint(tmp_path / LAST)
    assert all(torch.equal(value, last["model"][key]) for key, value in model.state_dict().items())
    x = PatchPairDataset(patch_dir, "val")[0][0][None]
    with torch.no_grad():
        assert torch.equal(model(x), load_model(tmp_path / LAST)[0](x))


def test_bad_checkpoints_fail_clearly(tiny, patch_dir, tmp_path):
    missing = tmp_path / "nothing.pt"
    with pytest.raises(VvcjndError, match=f"checkpoint not found: {missing}"):
        load_model(missing)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a torch file at all")
    with pytest.raises(VvcjndError, match=f"cannot read checkpoint {corrupt}"):
        load_model(corrupt)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(VvcjndError, match=f"{foreign} is not a vvcjnd checkpoint"):
        load_model(foreign)
    pickled = tmp_path / "pickled.pt"
    torch.save({"format": object()}, pickled)  # weights_only refuses arbitrary objects
    with pytest.raises(VvcjndError, match=f"cannot read checkpoint {pickled}"):
        load_model(pickled)

    cfg = dict(tiny["train"], epochs=1)
    fit(cfg, 1, *datasets(patch_dir, cfg, 1), tmp_path)
    state = read_checkpoint(tmp_path / LAST)
    state["model"].pop(next(iter(state["model"])))
    save_checkpoint(tmp_path / "missing_key.pt", state)
    with pytest.raises(VvcjndError, match="missing_key.pt: mismatched model parameters"):
        load_model(tmp_path / "missing_key.pt")
    state = read_checkpoint(tmp_path / LAST)
    state["config"]["width"] = 8
    save_checkpoint(tmp_path / "wider.pt", state)
    with pytest.raises(VvcjndError, match="wider.pt: mismatched model parameters"):
        load_model(tmp_path / "wider.pt")


def test_runtime_estimate_reads_pair_counts(config, patch_dir, tmp_path):
    cfg = dict(config["train"], device="cpu", width=32, epochs=40)
    files = [patch_dir / "train_pristine.npy", patch_dir / "val_pristine.npy"]
    small = training_runtime_minutes(cfg, files, threads=2)
    unknown = training_runtime_minutes(cfg, [tmp_path / "absent.npy"], threads=2)
    assert 5 < small < unknown  # 64 pairs against the assumed 1000
    assert training_runtime_minutes(cfg, files, threads=4) <= small
    assert training_runtime_minutes(dict(cfg, device="cuda"), files, threads=2) == 6


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_device_without_cuda_is_an_error():
    assert select_device("auto").type == "cpu"
    with pytest.raises(VvcjndError, match="train.device"):
        select_device("cuda")


def test_train_stage_writes_outputs_and_learns(tiny, patch_dir, tmp_path):
    tiny["train"].update(epochs=12, epochs_constant=6)
    out, state = tmp_path / "train", tmp_path / "state"
    history = train(tiny, patch_dir, out, state_dir=state)
    for name in (LAST, BEST, "log.csv", "loss.png"):
        assert (out / name).stat().st_size > 0
    assert (state / LAST).read_bytes() == (out / LAST).read_bytes()
    log = pd.read_csv(out / "log.csv")
    assert list(log.columns) == LOG_COLUMNS and list(log["epoch"]) == list(range(1, 13))
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the zero head starts at the identity map; 72 steps on blur pairs beat it by >= 5%
    assert history[-1]["val_loss"] < 0.95 * history[-1]["identity_loss"]


def test_thread_count_changes_the_model_only_through_float_summation(tiny, patch_dir, tmp_path):
    """train.threads is operational (it never reruns training; docs/training.md): other
    thread counts sum in another order, so the first steps agree to float precision and the
    trajectories then drift apart by well under a percent of the loss."""
    cfg = dict(tiny["train"], epochs=2)
    runs = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        runs.append(losses(fit(cfg, 3, *datasets(patch_dir, cfg, 3), tmp_path / f"t{threads}")))
    torch.set_num_threads(1)
    assert runs[0][0][0] == pytest.approx(runs[1][0][0], rel=1e-4)
    for one, two in zip(runs[0], runs[1], strict=True):
        assert one == pytest.approx(two, rel=1e-2)
