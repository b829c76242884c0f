"""The ``release`` architecture: size, initialisation, schedule, inference folding, and
training (with resume) from imported authors' weights; version-1 checkpoints still read."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
import torch

from vvcjnd.errors import VvcjndError
from vvcjnd.model.authors import import_checkpoint
from vvcjnd.model.checkpoint import (
    CHECKPOINT_VERSION,
    load_model,
    read_checkpoint,
    save_checkpoint,
)
from vvcjnd.model.inference import fuse_for_inference
from vvcjnd.model.network import StructuralVisibilityNet, count_parameters
from vvcjnd.model.release import UNUSED_BRANCHES, is_unused
from vvcjnd.model.training import LAST, fit, lr_factor
from vvcjnd.patches.dataset import PatchPairDataset

from .conftest import write_camera_patches
from .test_authors_import import LAYOUT_TSV, release_state_dict

pytestmark = pytest.mark.usefixtures("one_torch_thread")
RELEASE_PARAMETERS = 5_780_576


def _layout_parameters() -> tuple[int, int]:
    """(used, unused) trainable scalars of the published layout (u, v and BN buffers aside)."""
    used = unused = 0
    for line in LAYOUT_TSV.read_text().splitlines()[1:]:
        key, shape, _ = line.split("\t")
        leaf = key.rsplit(".", 1)[1]
        if leaf in ("weight_u", "weight_v", "running_mean", "running_var",
                    "num_batches_tracked"):  # fmt: skip
            continue
        size = int(np.prod(eval(shape)))  # "(32, 1, 7, 7)", "(1,)"
        if is_unused(key):
            unused += size
        else:
            used += size
    return used, unused


def test_release_size_equals_the_layouts_used_part():
    used, unused = _layout_parameters()
    assert (used, unused, used + unused) == (RELEASE_PARAMETERS, 10_666_462, 16_447_038)
    torch.manual_seed(0)
    model = StructuralVisibilityNet(32, 5, arch="release")
    assert count_parameters(model) == RELEASE_PARAMETERS
    keys = list(model.state_dict())
    assert not any(branch in key for key in keys for branch in UNUSED_BRANCHES[:3])
    # one MLP per global-context block (ours is the release's ``fc``; its ``mlp`` never runs)
    assert sum(key.endswith("mlp.0.parametrizations.weight.original") for key in keys) == 5
    assert len(keys) == 172


def test_release_initialisation():
    torch.manual_seed(0)
    model = StructuralVisibilityNet(32, 5, arch="release")
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(norms) == 9  # five encoder levels, four decoder merges; none after upsampling
    weights = torch.cat([m.weight.detach() for m in norms])
    assert abs(weights.mean().item() - 1) < 0.005 and 0.015 < weights.std().item() < 0.025
    assert all(not m.bias.any() for m in norms)
    layers = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)]
    assert all(m.bias is not None and not m.bias.any() for m in layers)
    for module in (model.encoder[2][1], model.bottleneck[1].mlp[0], model.decoder[0].reduce[1]):
        original = module.parametrizations.weight.original  # Kaiming normal, fan-in, ReLU gain
        fan_in = original[0].numel()
        assert original.std().item() == pytest.approx((2 / fan_in) ** 0.5, rel=0.1)
    assert model.bottleneck[0].gamma.item() == 0
    with pytest.raises(VvcjndError, match="train.width' must be >= 16"):
        StructuralVisibilityNet(8, 5, arch="release")
    with pytest.raises(VvcjndError, match="train.architecture"):
        StructuralVisibilityNet(16, 5, arch="paper")


def test_release_schedule_reaches_zero_in_the_last_epoch():
    factors = [lr_factor(epoch, 40, 20, "release") for epoch in range(40)]
    assert factors[:20] == [1.0] * 20
    assert factors[20] == pytest.approx(19 / 20) and factors[38] == pytest.approx(1 / 20)
    assert factors[39] == 0.0
    assert all(a > b for a, b in pairwise(factors[19:]))
    assert [lr_factor(e, 40, 20, "described") for e in range(40)] != factors
    assert lr_factor(3, 4, 4, "release") == 1.0  # no decay epochs: no division by zero


def test_release_fuses_for_inference():
    torch.manual_seed(0)
    model = StructuralVisibilityNet(16, 5, arch="release")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(4, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    for _ in range(2):  # non-zero biases and batch-norm statistics
        optimizer.zero_grad()
        model(x).abs().mean().backward()
        optimizer.step()
    model.eval()
    with torch.inference_mode():
        expected = model(x)
        got = fuse_for_inference(model)(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


@pytest.fixture(scope="module")
def small_patches(tmp_path_factory):
    """32x32 camera patches: 12 train, 4 val pairs; the JND twin is a 3x3 blur."""
    return write_camera_patches(tmp_path_factory.mktemp("patches"), 128, train_rows=3)


def test_training_from_imported_weights_runs_and_resumes(config, small_patches, tmp_path):
    torch.save(release_state_dict(16, seed=2), tmp_path / "authors.pth")
    import_checkpoint(tmp_path / "authors.pth", tmp_path / "model.pt")
    imported = read_checkpoint(tmp_path / "model.pt")
    cfg = dict(imported["config"], epochs=3, epochs_constant=1, batch_size=6, progress=False,
               device="cpu", learning_rate=1e-3)  # fmt: skip
    sets = (PatchPairDataset(small_patches, "train"), PatchPairDataset(small_patches, "val"))
    initial = imported["model"]

    def run(folder, **kwargs):
        return fit(cfg, 3, *sets, tmp_path / folder, data="d", initial=initial, **kwargs)

    whole = run("whole")
    assert [row["lr"] for row in whole] == pytest.approx([1e-3, 5e-4, 0.0])
    assert all(np.isfinite(row["train_loss"]) and np.isfinite(row["val_loss"]) for row in whole)
    first = run("parts", stop_after=1)
    assert len(first) == 1
    resumed = run("parts")
    assert [row["epoch"] for row in resumed] == [1, 2, 3]
    assert [(r["train_loss"], r["val_loss"]) for r in resumed] == [
        (r["train_loss"], r["val_loss"]) for r in whole
    ]
    a, b = (read_checkpoint(tmp_path / d / LAST)["model"] for d in ("whole", "parts"))
    assert all(torch.equal(a[key], b[key]) for key in a)
    # the imported weights were the start: a seeded initialisation trains differently
    seeded = fit(cfg, 3, *sets, tmp_path / "seeded", data="d", stop_after=1)
    assert seeded[0]["train_loss"] != whole[0]["train_loss"]
    assert read_checkpoint(tmp_path / "whole" / LAST)["origin"]["kind"] == "trained"


def test_version_1_checkpoints_still_load(config, small_patches, tmp_path):
    cfg = dict(config["train"], width=4, depth=3, epochs=1, progress=False, device="cpu")
    sets = (PatchPairDataset(small_patches, "train"), PatchPairDataset(small_patches, "val"))
    fit(cfg, 1, *sets, tmp_path)
    state = read_checkpoint(tmp_path / LAST)
    assert state["version"] == CHECKPOINT_VERSION == 2
    old = {key: value for key, value in state.items() if key != "origin"}
    old["version"] = 1
    old["config"] = {k: v for k, v in cfg.items() if k not in ("architecture", "checkpoint")}
    save_checkpoint(tmp_path / "v1.pt", old)
    upgraded = read_checkpoint(tmp_path / "v1.pt")
    assert upgraded["origin"]["kind"] == "trained"
    assert upgraded["config"]["architecture"] == "described"
    model, _ = load_model(tmp_path / "v1.pt")
    assert count_parameters(model) == count_parameters(load_model(tmp_path / LAST)[0])
