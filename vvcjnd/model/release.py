"""The authors' released generator: its checkpoint layout and the map onto our modules.

The release (``structural_infer/models.py``, ``g_conv_dim`` w, ``upsample_type`` 'nn',
``g_use_sn`` True) names its modules ``enc1..enc5`` (``main.1`` the conv, ``main.2`` the
batch norm), ``upsample1..4`` and ``dec1..4`` (decoder), ``dec5`` (head), ``sa`` (bottleneck
self-attention), ``skip_ga1`` (bottleneck global context) and ``skip_ga2..5`` (the skips
of encoder levels 4..1). Its spectral norm is the old ``torch.nn.utils.spectral_norm``:
``weight_orig``, ``weight_u``, ``weight_v`` per normalised layer. Four branches are built but
never run; their keys are ignored on import. Torch-free: shapes are tuples.
"""

from __future__ import annotations

from vvcjnd.model.costs import ATTENTION_KEY_REDUCTION, GLOBAL_CONTEXT_REDUCTION

RELEASE_DEPTH = 5
# Sub-module names of the branches the release builds but never runs (upsample_type 'nn',
# channel attention off).
UNUSED_BRANCHES = ("bilinear_main", "subpixel_main", "deconv_main", "mlp")
_SPECTRAL_SUFFIXES = {
    "weight_orig": "parametrizations.weight.original",
    "weight_u": "parametrizations.weight.0._u",
    "weight_v": "parametrizations.weight.0._v",
}
FLOAT, INT = "float32", "int64"


def _spectral(prefix: str, weight: tuple[int, ...], dim: int = 0) -> list:
    """Keys of one old-style spectrally normalised layer with a bias, normalised along
    ``dim`` of its weight (0; 1 for a ConvTranspose2d): u has weight[dim] entries, v the rest.
    """
    rows = weight[dim]
    return [
        (f"{prefix}.bias", (rows,), FLOAT),
        (f"{prefix}.weight_orig", weight, FLOAT),
        (f"{prefix}.weight_u", (rows,), FLOAT),
        (f"{prefix}.weight_v", (_product(weight) // rows,), FLOAT),
    ]


def _product(shape: tuple[int, ...]) -> int:
    result = 1
    for side in shape:
        result *= side
    return result


def _batch_norm(prefix: str, channels: int) -> list:
    return [(f"{prefix}.{name}", (channels,), FLOAT) for name in
            ("weight", "bias", "running_mean", "running_var")] + [
        (f"{prefix}.num_batches_tracked", (), INT)
    ]  # fmt: skip


def _global_attention(prefix: str, channels: int) -> list:
    hidden = channels // GLOBAL_CONTEXT_REDUCTION
    keys = []
    for mlp in ("mlp", "fc"):
        keys += _spectral(f"{prefix}.{mlp}.0", (hidden, channels))
        keys += _spectral(f"{prefix}.{mlp}.2", (channels, hidden))
    return keys + _spectral(f"{prefix}.conv.0", (channels, 2 * channels, 1, 1))


def release_layout(width: int) -> list[tuple[str, tuple[int, ...], str]]:
    """(key, shape, dtype) of every entry of the release's state_dict at ``width``, in order.

    At width 32 this is ``authors-checkpoint-layout.tsv``: 260 keys.
    """
    channels = [width * 2**level for level in range(RELEASE_DEPTH)]
    keys = []
    for level, c_out in enumerate(channels):
        c_in, kernel = (1, 7) if level == 0 else (channels[level - 1], 3)
        keys += _spectral(f"enc{level + 1}.main.1", (c_out, c_in, kernel, kernel))
        keys += _batch_norm(f"enc{level + 1}.main.2", c_out)
    for step in range(1, RELEASE_DEPTH):
        c_in = channels[RELEASE_DEPTH - step]
        c_out = c_in // 2
        up = f"upsample{step}"
        keys += _spectral(f"{up}.nn_main.2", (c_out, c_in, 3, 3))
        keys += _spectral(f"{up}.bilinear_main.2", (c_out, c_in, 3, 3))
        keys += _spectral(f"{up}.subpixel_main.1", (2 * c_in, c_in, 3, 3))
        keys += _spectral(f"{up}.deconv_main.0", (c_in, c_out, 4, 4), dim=1)  # transposed
        keys += _spectral(f"dec{step}.main.1", (c_out, c_in, 3, 3))
        keys += _batch_norm(f"dec{step}.main.2", c_out)
    keys += [("dec5.1.weight", (1, width, 7, 7), FLOAT), ("dec5.1.bias", (1,), FLOAT)]
    bottleneck = channels[-1]
    key_channels = bottleneck // ATTENTION_KEY_REDUCTION
    keys.append(("sa.gamma", (1,), FLOAT))
    keys += _spectral("sa.query_conv", (key_channels, bottleneck, 1, 1))
    keys += _spectral("sa.key_conv", (key_channels, bottleneck, 1, 1))
    keys += _spectral("sa.value_conv", (bottleneck, bottleneck, 1, 1))
    for index in range(1, RELEASE_DEPTH + 1):
        keys += _global_attention(f"skip_ga{index}", channels[RELEASE_DEPTH - index])
    return keys


def is_unused(key: str) -> bool:
    """Whether ``key`` belongs to a branch the released forward pass never runs."""
    parts = key.split(".")
    return len(parts) > 1 and parts[1] in UNUSED_BRANCHES


def _module_map() -> dict[str, str]:
    """Release module prefix -> our module prefix (depth 5)."""
    mapping = {}
    for level in range(RELEASE_DEPTH):
        mapping[f"enc{level + 1}.main.1"] = f"encoder.{level}.1"
        mapping[f"enc{level + 1}.main.2"] = f"encoder.{level}.2"
    for step in range(RELEASE_DEPTH - 1):
        mapping[f"upsample{step + 1}.nn_main.2"] = f"decoder.{step}.reduce.1"
        mapping[f"dec{step + 1}.main.1"] = f"decoder.{step}.merge.1"
        mapping[f"dec{step + 1}.main.2"] = f"decoder.{step}.merge.2"
    mapping["dec5.1"] = "head.1"
    for theirs, ours in (("query_conv", "query"), ("key_conv", "key"), ("value_conv", "value")):
        mapping[f"sa.{theirs}"] = f"bottleneck.0.{ours}"
    for index in range(1, RELEASE_DEPTH + 1):
        ours = "bottleneck.1" if index == 1 else f"skip_context.{RELEASE_DEPTH - index}"
        mapping[f"skip_ga{index}.fc.0"] = f"{ours}.mlp.0"
        mapping[f"skip_ga{index}.fc.2"] = f"{ours}.mlp.2"
        mapping[f"skip_ga{index}.conv.0"] = f"{ours}.fuse"
    return mapping


MODULE_MAP = _module_map()


def our_key(release_key: str) -> str:
    """Our state_dict key of a used release key (KeyError for an unknown or unused one)."""
    if release_key == "sa.gamma":
        return "bottleneck.0.gamma"
    module, _, leaf = release_key.rpartition(".")
    return f"{MODULE_MAP[module]}.{_SPECTRAL_SUFFIXES.get(leaf, leaf)}"
