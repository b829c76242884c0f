"""The structural-visibility network: a U-Net mapping a pristine patch to its JND-level twin.

Built from the description in Shen et al. (IEEE TIP 2021), written from scratch here:
an encoder of ``depth`` levels (a 7x7 conv to ``width`` channels at full resolution, then
3x3 stride-2 convs doubling the channels), self-attention and a global-context block at
the bottleneck, a global-context block on every skip, a decoder of nearest-neighbour 2x
upsampling + 3x3 conv (halving channels), concatenation with the skip and a 3x3 conv, and
a 7x7 head whose one-channel output is added to the input and clamped to [-1, 1].
Every conv of the encoder, decoder, attention and global-context fusion is spectrally
normalised; encoder and decoder convs are followed by batch norm and ReLU.

Two architectures share these blocks (``train.architecture``, docs/training.md):
``described`` follows the paper's description; ``release`` is the authors' released
generator exactly (conv biases, a bare upsample conv, spectrally normalised global-context
MLPs, their initialisation); `vvcjnd.model.release` maps its checkpoint keys onto ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from vvcjnd.errors import VvcjndError
from vvcjnd.model.costs import ATTENTION_KEY_REDUCTION, GLOBAL_CONTEXT_REDUCTION


@dataclass(frozen=True)
class Architecture:
    """Where the network variants differ (docs/training.md lists each difference)."""

    name: str
    conv_bias: bool  # encoder and decoder convs carry a bias (the release) or not
    upsample_block: bool  # the decoder's upsample conv is a full block (BN + ReLU) or bare
    spectral_context_mlp: bool  # the global-context MLP's Linear layers are spectrally normed
    min_hidden: int  # floor of the global-context MLP width (channels // 16)
    release_init: bool  # Kaiming for Linear too, batch-norm weights ~ N(1, 0.02)


ARCHITECTURES = {
    "described": Architecture("described", False, True, False, 1, False),
    "release": Architecture("release", True, False, True, 0, True),
}


def architecture(name: str) -> Architecture:
    if name not in ARCHITECTURES:
        raise VvcjndError(
            f"config key 'train.architecture': {name!r} is not one of {sorted(ARCHITECTURES)}"
        )
    return ARCHITECTURES[name]


def _kaiming(layer: nn.Module) -> None:
    """Kaiming normal (fan-in, ReLU gain) weight and zero bias of a Conv2d or Linear."""
    nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)


def _spectral(layer: nn.Module) -> nn.Module:
    """A Conv2d or Linear, Kaiming-initialised, then spectrally normalised."""
    _kaiming(layer)
    return spectral_norm(layer)


def _spectral_conv(in_channels: int, out_channels: int, kernel: int, stride: int = 1, bias=True):
    return _spectral(nn.Conv2d(in_channels, out_channels, kernel, stride=stride, bias=bias))


class ConvBlock(nn.Sequential):
    """Reflection padding, spectrally normalised conv, batch norm, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride=1, bias=False):
        super().__init__(
            nn.ReflectionPad2d(kernel // 2),
            _spectral_conv(in_channels, out_channels, kernel, stride, bias=bias),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class GlobalContext(nn.Module):
    """Global average pool -> two-layer MLP -> broadcast, concatenated with the map -> 1x1 conv.

    (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, channels: int, arch: Architecture = ARCHITECTURES["described"]):
        super().__init__()
        hidden = max(arch.min_hidden, channels // GLOBAL_CONTEXT_REDUCTION)
        if hidden < 1:
            raise VvcjndError(
                f"the {arch.name} architecture's global-context MLP has channels // "
                f"{GLOBAL_CONTEXT_REDUCTION} units: {channels} channels give none "
                f"(config key 'train.width' must be >= {GLOBAL_CONTEXT_REDUCTION})"
            )
        first, second = nn.Linear(channels, hidden), nn.Linear(hidden, channels)
        if arch.spectral_context_mlp:
            first, second = _spectral(first), _spectral(second)
        self.mlp = nn.Sequential(first, nn.ReLU(inplace=True), second)
        self.fuse = _spectral_conv(2 * channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        context = self.mlp(x.mean(dim=(2, 3)))[:, :, None, None].expand_as(x)
        return self.fuse(torch.cat([x, context], dim=1))


class SelfAttention(nn.Module):
    """Self-attention over positions; output = gamma * attention + input, gamma starts at 0.

    Query and key have channels // 8 channels, value has all of them. (B, C, H, W) -> same.
    """

    def __init__(self, channels: int):
        super().__init__()
        key_channels = max(1, channels // ATTENTION_KEY_REDUCTION)
        self.query = _spectral_conv(channels, key_channels, 1)
        self.key = _spectral_conv(channels, key_channels, 1)
        self.value = _spectral_conv(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        query = self.query(x).flatten(2).transpose(1, 2)  # (B, N, C/8)
        key = self.key(x).flatten(2)  # (B, C/8, N)
        attention = torch.softmax(torch.bmm(query, key), dim=-1)  # (B, N, N), rows sum to 1
        value = self.value(x).flatten(2)  # (B, C, N)
        out = torch.bmm(value, attention.transpose(1, 2)).view(batch, channels, height, width)
        return self.gamma * out + x


class DecoderLevel(nn.Module):
    """Upsample x2 (nearest) + 3x3 conv halving channels, concat with the skip, 3x3 conv.

    The upsample conv is a full block (``described``) or reflection padding and a
    spectrally normalised conv with bias, no batch norm nor ReLU (``release``).
    """

    def __init__(self, in_channels: int, arch: Architecture = ARCHITECTURES["described"]):
        super().__init__()
        out_channels, bias = in_channels // 2, arch.conv_bias
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        if arch.upsample_block:
            self.reduce = ConvBlock(in_channels, out_channels, 3, bias=bias)
        else:
            self.reduce = nn.Sequential(
                nn.ReflectionPad2d(1), _spectral_conv(in_channels, out_channels, 3, bias=bias)
            )
        self.merge = ConvBlock(2 * out_channels, out_channels, 3, bias=bias)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.merge(torch.cat([self.reduce(self.up(x)), skip], dim=1))


class StructuralVisibilityNet(nn.Module):
    """U-Net: pristine patch -> JND-level patch.

    Input: float32 (B, 1, 64, 64) in [-1, 1] (any side divisible by 2**(depth-1) works).
    Output: float32 (B, 1, 64, 64) in [-1, 1] (input + residual, clamped).
    ``width`` is the channel count of the first level (32 in the paper); level i has
    ``width * 2**i`` channels; ``depth`` is the number of encoder levels (5 in the paper).
    ``zero_head`` starts the head at zero (the net starts as the identity map) instead of
    Kaiming-initialising it like every other conv. ``arch`` is ``described`` or ``release``
    (:data:`ARCHITECTURES`; the release needs ``width`` >= 16).
    """

    def __init__(
        self, width: int = 32, depth: int = 5, zero_head: bool = False, arch: str = "described"
    ):
        super().__init__()
        if width < 2 or depth < 2:
            raise VvcjndError(f"model needs width >= 2 and depth >= 2, got {width=} {depth=}")
        spec = architecture(arch)
        channels = [width * 2**level for level in range(depth)]
        self.width, self.depth, self.zero_head, self.arch = width, depth, zero_head, arch
        bias = spec.conv_bias
        self.encoder = nn.ModuleList(
            [ConvBlock(1, width, 7, bias=bias)]
            + [ConvBlock(c_in, c_out, 3, 2, bias) for c_in, c_out in pairwise(channels)]
        )
        self.skip_context = nn.ModuleList(GlobalContext(c, spec) for c in channels[:-1])
        self.bottleneck = nn.Sequential(
            SelfAttention(channels[-1]), GlobalContext(channels[-1], spec)
        )
        self.decoder = nn.ModuleList(DecoderLevel(c, spec) for c in reversed(channels[1:]))
        self.head = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(width, 1, 7))
        _kaiming(self.head[1])
        if zero_head:
            nn.init.zeros_(self.head[1].weight)
        if spec.release_init:
            for module in self.modules():
                if isinstance(module, nn.BatchNorm2d):
                    nn.init.normal_(module.weight, 1.0, 0.02)
                    nn.init.zeros_(module.bias)

    def rebuilt(self) -> StructuralVisibilityNet:
        """A new network of the same settings (fresh weights; the caller's RNG untouched)."""
        with torch.random.fork_rng(devices=[]):
            return StructuralVisibilityNet(self.width, self.depth, self.zero_head, self.arch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        features = x
        for level, block in enumerate(self.encoder):
            features = block(features)
            if level < self.depth - 1:
                skips.append(self.skip_context[level](features))
        features = self.bottleneck(features)
        for level, skip in zip(self.decoder, reversed(skips), strict=True):
            features = level(features, skip)
        return torch.clamp(x + self.head(features), -1.0, 1.0)


def build_model(train_config: dict) -> StructuralVisibilityNet:
    """The network of a validated ``train`` config section (keys width, depth, head_init,
    architecture; a section without ``architecture`` builds the ``described`` one).

    Weights are drawn from torch's global RNG: seed it first for a reproducible model.
    """
    return StructuralVisibilityNet(
        width=train_config["width"],
        depth=train_config["depth"],
        zero_head=train_config["head_init"] == "zero",
        arch=train_config.get("architecture", "described"),
    )


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars (spectral-norm ``original`` weights counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@torch.inference_mode()
def apply_network(model: nn.Module, patches: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """The bare network (eval mode, no decomposition) on float32 (N, 1, H, W) in [-1, 1].

    Returns float32 of the same shape. Raises :class:`VvcjndError` for another dtype,
    shape, or values outside [-1, 1].
    """
    if patches.dtype != np.float32 or patches.ndim != 4 or patches.shape[1] != 1:
        raise VvcjndError(
            f"the network takes float32 (N, 1, H, W) patches, got {patches.dtype} {patches.shape}"
        )
    if patches.size and not (np.isfinite(patches).all() and np.abs(patches).max() <= 1.0):
        raise VvcjndError("the network takes patches in [-1, 1] (pixel / 127.5 - 1)")
    model.eval()
    outputs = [np.zeros((0,) + patches.shape[1:], np.float32)]
    with parametrize.cached():
        for start in range(0, len(patches), batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(patches[start : start + batch_size]))
            outputs.append(model(batch).float().numpy())
    return np.concatenate(outputs)
