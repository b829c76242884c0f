"""Import of the authors' released weights, on synthetic state_dicts in the release's layout.

The real JND_95676_G.pth is not reachable here; these files have exactly its 260 keys,
shapes and dtypes (tests/authors-checkpoint-layout.tsv, copied from the checkpoint) with
seeded random values. The imported network is compared with an independent functional
implementation of the released forward pass that reads the raw state_dict.
"""

from __future__ import annotations

import argparse
import hashlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vvcjnd.cli import main
from vvcjnd.errors import VvcjndError
from vvcjnd.model.authors import RELEASE_TRAIN, import_checkpoint, load_any_model
from vvcjnd.model.checkpoint import load_model
from vvcjnd.model.release import is_unused, our_key, release_layout

from .conftest import REPO

pytestmark = pytest.mark.usefixtures("one_torch_thread")
LAYOUT_TSV = REPO / "tests" / "authors-checkpoint-layout.tsv"


def release_state_dict(width: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """A state_dict in the release's layout with plausible seeded values: Kaiming-scale
    weights, stored u = W v / |W v| for a random unit v (so sigma = u^T W v is positive but
    not the largest singular value: a power iteration at import would change it), batch-norm
    statistics of a trained net, a non-zero attention gamma."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    layout = release_layout(width)
    # u after the weight and v it is computed from; the file keeps the release's key order
    for key, shape, dtype in sorted(layout, key=lambda entry: entry[0].endswith(".weight_u")):
        module, leaf = key.rsplit(".", 1)
        if dtype == "int64":
            state[key] = torch.tensor(1000 + seed, dtype=torch.int64)
        elif leaf == "weight_orig":
            fan_in = int(np.prod(shape[1:]))
            state[key] = torch.randn(shape, generator=g) * (2.0 / fan_in) ** 0.5
        elif leaf == "weight_v":
            v = torch.randn(shape, generator=g)
            state[key] = v / v.norm()
        elif leaf == "weight_u":
            weight = state[f"{module}.weight_orig"]
            if "deconv" in module:
                weight = weight.transpose(0, 1)
            u = weight.reshape(shape[0], -1) @ state[f"{module}.weight_v"]
            state[key] = u / u.norm()
        elif leaf == "running_var":
            state[key] = 0.5 + torch.rand(shape, generator=g)
        elif key == "sa.gamma":
            state[key] = torch.tensor([0.7])
        elif leaf == "weight" and ".main.2" in module:  # batch-norm scale
            state[key] = 1.0 + 0.1 * torch.randn(shape, generator=g)
        else:  # biases, batch-norm shifts and means
            state[key] = 0.05 * torch.randn(shape, generator=g)
    # a head that gives a residual of standard deviation about 0.05 on patches in [-1, 1]
    # (random running statistics leave the decoder's features at an arbitrary scale)
    head = torch.randn(1, width, 7, 7, generator=g)
    features = _decoder_features(state, patches(4, seed=99))
    state["dec5.1.weight"] = head * 0.05 / F.conv2d(features, head).std()
    return {key: state[key] for key, _, _ in layout}


# ------------------------------------------- the released forward pass, written independently


def _sn(sd, name):
    weight = sd[f"{name}.weight_orig"]
    matrix = weight.reshape(weight.shape[0], -1)
    return weight / torch.dot(sd[f"{name}.weight_u"], matrix @ sd[f"{name}.weight_v"])


def _conv(sd, name, x, pad=0, stride=1):
    if pad:
        x = F.pad(x, (pad,) * 4, mode="reflect")
    return F.conv2d(x, _sn(sd, name), sd[f"{name}.bias"], stride=stride)


def _block(sd, name, x, kernel, stride=1):
    x = _conv(sd, f"{name}.main.1", x, kernel // 2, stride)
    bn = f"{name}.main.2"
    x = F.batch_norm(x, sd[f"{bn}.running_mean"], sd[f"{bn}.running_var"],
                     sd[f"{bn}.weight"], sd[f"{bn}.bias"], training=False, eps=1e-5)  # fmt: skip
    return F.relu(x)


def _global_attention(sd, name, x):
    g = x.mean(dim=(2, 3))
    g = F.linear(g, _sn(sd, f"{name}.fc.0"), sd[f"{name}.fc.0.bias"])
    g = F.linear(F.relu(g), _sn(sd, f"{name}.fc.2"), sd[f"{name}.fc.2.bias"])
    return _conv(sd, f"{name}.conv.0", torch.cat([x, g[:, :, None, None].expand_as(x)], 1))


def _self_attention(sd, x):
    b, c, h, w = x.shape
    query = _conv(sd, "sa.query_conv", x).view(b, -1, h * w).permute(0, 2, 1)
    key = _conv(sd, "sa.key_conv", x).view(b, -1, h * w)
    attention = torch.softmax(torch.bmm(query, key), dim=-1)
    value = _conv(sd, "sa.value_conv", x).view(b, -1, h * w)
    return sd["sa.gamma"] * torch.bmm(value, attention.permute(0, 2, 1)).view(b, c, h, w) + x


@torch.no_grad()
def _decoder_features(sd, x):
    skips = [_block(sd, "enc1", x, 7)]
    for level in range(2, 5):
        skips.append(_block(sd, f"enc{level}", skips[-1], 3, 2))
    y = _global_attention(sd, "skip_ga1", _self_attention(sd, _block(sd, "enc5", skips[-1], 3, 2)))
    for step in range(1, 5):
        up = _conv(sd, f"upsample{step}.nn_main.2", F.interpolate(y, scale_factor=2.0), pad=1)
        skip = _global_attention(sd, f"skip_ga{step + 1}", skips[4 - step])
        y = _block(sd, f"dec{step}", torch.cat([up, skip], 1), 3)
    return y


@torch.no_grad()
def release_forward(sd, x):
    y = F.pad(_decoder_features(sd, x), (3,) * 4, mode="reflect")
    head = F.conv2d(y, sd["dec5.1.weight"], sd["dec5.1.bias"])
    return torch.clamp(head + x, -1.0, 1.0)


def patches(n, seed=1):
    return torch.rand(n, 1, 64, 64, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# ------------------------------------------------------------------------------- the tests


def test_synthetic_layout_is_the_published_one():
    rows = [line.split("\t") for line in LAYOUT_TSV.read_text().splitlines()[1:]]
    state = release_state_dict(32)
    found = [
        (k, str(tuple(v.shape)), str(v.dtype).removeprefix("torch.")) for k, v in state.items()
    ]
    assert len(rows) == 260
    assert found == [tuple(row) for row in rows]
    assert sum(is_unused(k) for k in state) == 88


@pytest.mark.parametrize("width", [32, 16])
def test_import_equals_the_released_forward_pass(tmp_path, width):
    state = release_state_dict(width, seed=width)
    source = tmp_path / "JND_G.pth"
    torch.save(state, source)
    info = import_checkpoint(source, tmp_path / "model.pt")
    assert (info["width"], info["keys"], info["ignored_keys"]) == (width, 172, 88)
    assert info["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()

    raw = torch.load(tmp_path / "model.pt", weights_only=True)
    assert raw["origin"] == {k: info[k] for k in ("kind", "file", "sha256", "ignored_keys")}
    assert raw["origin"]["file"] == "JND_G.pth" and raw["config"]["architecture"] == "release"
    model, cfg = load_model(tmp_path / "model.pt")
    assert cfg["width"] == width and not model.training

    # every spectrally normalised layer: effective weight = weight_orig / (u^T W v), stored u, v
    for key in state:
        if key.endswith(".weight_orig") and not is_unused(key):
            name = key[: -len(".weight_orig")]
            ours = model.get_submodule(our_key(f"{name}.bias").rsplit(".", 1)[0])
            torch.testing.assert_close(ours.weight, _sn(state, name), rtol=1e-6, atol=0)
    # batch-norm statistics carried over
    ours = model.state_dict()
    for key, value in state.items():
        if key.rsplit(".", 1)[1] in ("running_mean", "running_var", "num_batches_tracked"):
            assert torch.equal(ours[our_key(key)], value), key
    assert model.bottleneck[0].gamma.item() == pytest.approx(0.7)

    x = patches(3)
    expected = release_forward(state, x)
    with torch.no_grad():
        got = model(x)
    assert got.shape == (3, 1, 64, 64) and got.dtype == torch.float32
    assert got.min() >= -1 and got.max() <= 1
    assert (got.abs() < 1).float().mean() > 0.5  # not saturated: the comparison means something
    assert (got - x).abs().mean() > 1e-3  # and not the identity
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=2e-5)
    # the workflow reads the .pth directly too, with the same result
    direct, _, direct_state = load_any_model(source)
    with torch.no_grad():
        assert torch.equal(direct(x), got)
    assert direct_state["origin"] == raw["origin"]


def test_cli_import_and_apply_network(tmp_path, capsys):
    state = release_state_dict(16, seed=3)
    torch.save(state, tmp_path / "authors.pth")
    assert main(["import-checkpoint", str(tmp_path / "authors.pth"), "-o",
                 str(tmp_path / "model.pt")]) == 0  # fmt: skip
    assert "ignored 88 " in capsys.readouterr().out
    x = patches(5, seed=4)
    np.save(tmp_path / "patches.npy", x.numpy())
    for checkpoint in ("model.pt", "authors.pth"):
        out = tmp_path / f"out_{checkpoint}.npy"
        args = ["apply-network", "--checkpoint", str(tmp_path / checkpoint),
                str(tmp_path / "patches.npy"), "-o", str(out), "--batch-size", "2"]  # fmt: skip
        assert main(args) == 0
        torch.testing.assert_close(
            torch.from_numpy(np.load(out)), release_forward(state, x), rtol=1e-4, atol=2e-5
        )
    np.save(tmp_path / "bad.npy", x.numpy() * 3)
    assert main(["apply-network", "--checkpoint", str(tmp_path / "model.pt"),
                 str(tmp_path / "bad.npy"), "-o", str(tmp_path / "x.npy")]) == 2  # fmt: skip
    assert "[-1, 1]" in capsys.readouterr().err and not (tmp_path / "x.npy").exists()


def test_never_run_branches_may_be_absent(tmp_path):
    state = {k: v for k, v in release_state_dict(16).items() if not is_unused(k)}
    torch.save(state, tmp_path / "pruned.pth")
    assert import_checkpoint(tmp_path / "pruned.pth", tmp_path / "m.pt")["ignored_keys"] == 0


def _drop(key):
    return lambda state: {k: v for k, v in state.items() if k != key}


def _set(key, value):
    return lambda state: {**state, key: value}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (_drop("dec2.main.2.running_var"), "missing key 'dec2.main.2.running_var'"),
        (_drop("enc1.main.1.weight_orig"), "missing key 'enc1.main.1.weight_orig'"),
        (_set("skip_ga3.fc.0.weight_orig", torch.zeros(3, 64)),
         "'skip_ga3.fc.0.weight_orig' has shape (3, 64); width 16"),
        (_set("enc1.main.1.weight_orig", torch.zeros(16, 3, 7, 7)),
         "'enc1.main.1.weight_orig' has shape (16, 3, 7, 7)"),
        (_set("enc1.main.1.weight_orig", torch.zeros(8, 1, 7, 7)), "w >= 16"),
        (_set("module.extra", torch.zeros(1)), "unexpected key 'module.extra'"),
        (_set("enc3.main.2.num_batches_tracked", torch.tensor(1.5)),
         "'enc3.main.2.num_batches_tracked' is torch.float32"),
        (_set("sa.gamma", torch.tensor([1], dtype=torch.int64)), "'sa.gamma' is torch.int64"),
        (_set("sa.gamma", 0.5), "entry 'sa.gamma' is a float, not a tensor"),
        (lambda state: list(state.values())[:3], "not a state_dict (a list"),
        (lambda state: {"state_dict": state}, "entry 'state_dict' is a dict"),
        (lambda state: {"model": argparse.Namespace(a=1)}, "weights_only=True"),
    ],
)  # fmt: skip
def test_other_layouts_are_one_line_errors_and_write_nothing(tmp_path, change, named):
    torch.save(change(release_state_dict(16)), tmp_path / "bad.pth")
    out = tmp_path / "out" / "model.pt"
    out.parent.mkdir()
    with pytest.raises(VvcjndError) as error:
        import_checkpoint(tmp_path / "bad.pth", out)
    assert named in str(error.value) and "\n" not in str(error.value)
    assert list(out.parent.iterdir()) == []


def test_missing_file_and_our_own_checkpoint_are_errors(tmp_path):
    with pytest.raises(VvcjndError, match="not found"):
        import_checkpoint(tmp_path / "none.pth", tmp_path / "m.pt")
    torch.save(release_state_dict(16), tmp_path / "a.pth")
    import_checkpoint(tmp_path / "a.pth", tmp_path / "m.pt")
    with pytest.raises(VvcjndError, match="already a vvcjnd checkpoint"):
        import_checkpoint(tmp_path / "m.pt", tmp_path / "m2.pt")
    assert not (tmp_path / "m2.pt").exists()


def test_imported_train_section_is_a_complete_valid_one(config):
    from vvcjnd.config import validate_config

    keys = set(config["train"])
    config["train"] = {**RELEASE_TRAIN, "width": 32}
    assert set(validate_config(config)["train"]) == keys == set(RELEASE_TRAIN) | {"width"}


def test_use_checkpoint_names_the_file_it_was_given(tmp_path):
    from vvcjnd.model.authors import use_checkpoint
    from vvcjnd.model.checkpoint import describe_origin, origin_label, read_checkpoint

    torch.save(release_state_dict(16), tmp_path / "JND_G.pth")
    imported = use_checkpoint(tmp_path / "JND_G.pth", tmp_path / "a" / "checkpoint.pt")
    assert read_checkpoint(tmp_path / "a" / "checkpoint.pt")["origin"] == imported["origin"]
    line = describe_origin(imported)
    assert "authors' released weights, imported from JND_G.pth" in line and "width 16" in line
    assert origin_label(imported) == "the authors' weights, JND_G.pth"
    # one of ours, trained here: checked, and its origin gets the file name and sha256
    import_checkpoint(tmp_path / "JND_G.pth", tmp_path / "ours.pt")
    state = read_checkpoint(tmp_path / "ours.pt")
    state["origin"] = {"kind": "trained", "file": "", "sha256": "", "ignored_keys": 0}
    torch.save(state, tmp_path / "trained.pt")
    given = use_checkpoint(tmp_path / "trained.pt", tmp_path / "b" / "checkpoint.pt")
    assert given["origin"]["file"] == "trained.pt"
    assert (
        given["origin"]["sha256"]
        == hashlib.sha256((tmp_path / "trained.pt").read_bytes()).hexdigest()
    )
    assert describe_origin(given).startswith("trained by vvcjnd (release architecture, width 16")
    assert origin_label(given) == "ours, trained here"
    with pytest.raises(VvcjndError, match="checkpoint not found"):
        use_checkpoint(tmp_path / "absent.pt", tmp_path / "c" / "checkpoint.pt")
    assert not (tmp_path / "c").exists()
