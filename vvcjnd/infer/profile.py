"""JND profile inference with the patch-level structural-visibility model.

For a gray (luma) image, uint8 0..255: 64x64 patches on the overlapping grid (stride 50,
plus a last row/column flush with the border so the whole image is covered); each patch
x = mu + c * s is turned into its JND-level patch mu' + c' * s_hat with

- mu' = clip(mu + sign * LA(mu), 0, 255), LA the luminance-adaptation threshold and sign
  one value per image (config ``infer.sign``);
- c' = f_C * c (config ``infer.f_c``);
- s_hat = the structure of the network's output for x.

The JND-level patches are blended into one image by a weighted average of the overlapping
patches (config ``infer.window``); the JND profile (map) is |JND image - pristine luma|.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from vvcjnd.colour import luma_uint8
from vvcjnd.errors import VvcjndError
from vvcjnd.images import read_png, write_png
from vvcjnd.infer.figures import colour_map
from vvcjnd.io import sha256_file, write_bytes, write_json
from vvcjnd.jndmath import luminance_adaptation
from vvcjnd.model.costs import PATCH_SIZE
from vvcjnd.model.inference import fuse_for_inference
from vvcjnd.patches.grid import (
    compose,
    decompose,
    extract_patches,
    from_unit_range,
    grid_positions,
    to_unit_range,
)
from vvcjnd.psnr import psnr, psnr_from_mse
from vvcjnd.seeds import rng as seeded_rng

SIGN_POLICIES = ("random", "positive", "negative", "none")
WINDOWS = ("hann", "uniform")
PRECISIONS = ("float32", "bfloat16")


@dataclass(frozen=True)
class InferSettings:
    """How a JND profile is inferred: the validated ``infer`` config section, plus the patch
    size the network was trained on (``patches.size``)."""

    f_c: float = 0.9
    sign: str = "random"
    stride: int = 50
    window: str = "hann"
    batch_size: int = 16
    map_max: float = 24.0
    precision: str = "float32"
    patch_size: int = PATCH_SIZE

    @classmethod
    def from_config(cls, infer_config: dict) -> InferSettings:
        keys = cls.__dataclass_fields__
        return cls(**{key: infer_config[key] for key in keys if key in infer_config})

    def __post_init__(self):
        if self.sign not in SIGN_POLICIES:
            raise VvcjndError(
                f"config key 'infer.sign': {self.sign!r} is not one of {SIGN_POLICIES}"
            )
        if self.window not in WINDOWS:
            raise VvcjndError(f"config key 'infer.window': {self.window!r} is not one of {WINDOWS}")
        if not 0.0 < self.f_c <= 1.0:
            raise VvcjndError(f"config key 'infer.f_c': {self.f_c} is not in (0, 1]")
        if self.precision not in PRECISIONS:
            raise VvcjndError(
                f"config key 'infer.precision': {self.precision!r} is not one of {PRECISIONS}"
            )


def luminance_sign(policy: str, seed: int, image_id: str) -> int:
    """The sign (+1, -1, or 0 for no luminance shift) of one image's mu' shift.

    ``random`` draws +1 or -1 once per image from (seed, image id), as the authors' code draws
    one sign per image; the draw does not depend on which other images are processed.
    """
    if policy == "random":
        rng = seeded_rng(seed, "infer_sign", image_id)
        return int(rng.choice([-1, 1]))
    return {"positive": 1, "negative": -1, "none": 0}[policy]


def blend_window(kind: str, size: int = PATCH_SIZE) -> np.ndarray:
    """Blending weights (size, size), all > 0: ``uniform`` ones or a ``hann`` bump.

    The Hann bump is sin^2(pi (i + 0.5) / size) along each axis: largest at the patch centre,
    small but non-zero at its edges, so seams between neighbouring patches fade smoothly.
    """
    if kind == "uniform":
        return np.ones((size, size))
    if kind == "hann":
        profile = np.sin(np.pi * (np.arange(size) + 0.5) / size) ** 2
        return np.outer(profile, profile)
    raise VvcjndError(f"unknown blending window {kind!r}; expected one of {WINDOWS}")


def blend_patches(
    patches: np.ndarray, positions: np.ndarray, shape: tuple[int, int], window: str = "hann"
) -> np.ndarray:
    """Weighted average of overlapping patches (N, s, s) at ``positions`` into a (H, W) image.

    Each pixel gets sum(w * patch) / sum(w) over the patches covering it; patches cut from
    one image therefore give that image back. Raises if a pixel is covered by no patch.
    """
    size = patches.shape[-1]
    weights = blend_window(window, size)
    total = np.zeros(shape)
    weight_sum = np.zeros(shape)
    for patch, (top, left) in zip(patches, positions, strict=True):
        total[top : top + size, left : left + size] += weights * patch
        weight_sum[top : top + size, left : left + size] += weights
    if np.any(weight_sum == 0):
        raise VvcjndError(
            f"the patch grid leaves pixels of the {shape[1]}x{shape[0]} image uncovered"
        )
    return total / weight_sum


@torch.inference_mode()
def run_network(
    model: torch.nn.Module, patches: np.ndarray, batch_size: int, precision: str = "float32"
) -> np.ndarray:
    """The network's output for uint8 patches (N, 64, 64): float32 (N, 64, 64) in [-1, 1].

    The patches go in batches of ``batch_size`` to the device of the model's parameters (the
    CPU for a model without any). ``precision`` ``bfloat16`` runs the network under bfloat16
    autocast (faster on CPUs with AVX-512 BF16 or AMX, and on GPUs; not exact: see
    ``infer.precision`` in docs/config.md); ``float32`` is exact.
    """
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    bfloat16 = torch.autocast(device.type, torch.bfloat16, enabled=precision == "bfloat16")
    outputs = [np.zeros((0,) + patches.shape[1:], np.float32)]
    for start in range(0, len(patches), batch_size):
        batch = torch.from_numpy(to_unit_range(patches[start : start + batch_size]))[:, None]
        batch = batch.to(device, memory_format=torch.channels_last)
        with bfloat16:
            output = model(batch)
        outputs.append(output[:, 0].float().cpu().numpy())
    return np.concatenate(outputs)


def jnd_patches(
    pristine: np.ndarray, network_output: np.ndarray, f_c: float, sign: int
) -> np.ndarray:
    """JND-level patches, float64 0..255 scale (unclipped contrast term).

    ``pristine`` uint8 (N, s, s); ``network_output`` (N, s, s) in [-1, 1]. Only the structure
    of the output is used (it does not change under the [-1, 1] -> 0..255 affine map).
    """
    mu, c, _ = decompose(pristine)
    _, _, s_hat = decompose(network_output)
    mu_shifted = np.clip(mu + sign * luminance_adaptation(mu), 0.0, 255.0)
    return compose(mu_shifted, f_c * c, s_hat)


@dataclass
class JndProfile:
    """One image's inferred JND profile; luma planes (H, W) on the 0..255 scale."""

    pristine: np.ndarray  # uint8 luma
    jnd: np.ndarray  # float64 JND-contaminated luma, clipped to 0..255
    sign: int
    n_patches: int
    network_mse: float  # mean over grid patches of MSE(network output as uint8, pristine)

    @property
    def image(self) -> np.ndarray:
        """The JND-contaminated luma as uint8 (rounded)."""
        return np.rint(self.jnd).astype(np.uint8)

    @property
    def residual(self) -> np.ndarray:
        """Signed JND - pristine, float32 grey levels."""
        return (self.jnd - self.pristine).astype(np.float32)

    @property
    def jnd_map(self) -> np.ndarray:
        """The JND profile |JND - pristine|, float32 grey levels."""
        return np.abs(self.residual)

    @property
    def psnr_db(self) -> float:
        """PSNR of the uint8 JND-contaminated luma against the pristine luma."""
        return psnr(self.pristine, self.image)


def infer_luma(
    model: torch.nn.Module, luma: np.ndarray, settings: InferSettings, sign: int
) -> JndProfile:
    """Infer the JND profile of one uint8 luma plane (H, W) with a model in eval mode."""
    if luma.dtype != np.uint8 or luma.ndim != 2:
        raise VvcjndError(
            f"inference needs a uint8 luma plane (H, W), got {luma.dtype} {luma.shape}"
        )
    size = settings.patch_size
    positions = grid_positions(*luma.shape, size, settings.stride, cover_border=True)
    pristine = extract_patches(luma, positions, size)
    output = run_network(model, pristine, settings.batch_size, settings.precision)
    patches = jnd_patches(pristine, output, settings.f_c, sign)
    jnd = np.clip(blend_patches(patches, positions, luma.shape, settings.window), 0.0, 255.0)
    error = from_unit_range(output).astype(np.float64) - pristine
    return JndProfile(
        pristine=luma,
        jnd=jnd,
        sign=sign,
        n_patches=len(positions),
        network_mse=float(np.mean(error**2)) if len(error) else 0.0,
    )


def save_npy(path: Path, array: np.ndarray) -> None:
    """Write an array as .npy atomically (byte-stable)."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    write_bytes(path, buffer.getvalue())


def write_profile(
    profile: JndProfile,
    paths: dict[str, Path],
    settings: InferSettings,
    record: dict,
) -> dict:
    """Write one profile's files; ``paths`` maps jnd_png, map_npy, residual_npy, map_png, summary.

    Returns the summary written as JSON: ``record`` (image id, checkpoint ...) plus the
    settings, the sign, the patch count and PSNRs.
    """
    write_png(paths["jnd_png"], profile.image)
    save_npy(paths["map_npy"], profile.jnd_map)
    save_npy(paths["residual_npy"], profile.residual)
    write_png(paths["map_png"], colour_map(profile.jnd_map, settings.map_max))
    network_psnr = psnr_from_mse(profile.network_mse, min_mse=1e-12)
    summary = {
        **record,
        "settings": asdict(settings),
        "sign": profile.sign,
        "n_patches": profile.n_patches,
        "height": int(profile.pristine.shape[0]),
        "width": int(profile.pristine.shape[1]),
        "psnr_db": round(profile.psnr_db, 6),
        "mean_jnd": round(float(profile.jnd_map.mean()), 6),
        "network_mse": round(profile.network_mse, 6),
        "network_psnr_db": round(float(network_psnr), 6),
    }
    write_json(paths["summary"], summary)
    return summary


def load_inference_model(checkpoint: Path) -> torch.nn.Module:
    """The checkpoint's network on the CPU, eval mode, in its inference form
    (:func:`vvcjnd.model.inference.fuse_for_inference`)."""
    from vvcjnd.model.checkpoint import load_model

    model, _ = load_model(checkpoint, device="cpu")
    return fuse_for_inference(model)


def infer_image_file(
    model: torch.nn.Module,
    image_path: Path,
    out_paths: dict[str, Path],
    settings: InferSettings,
    seed: int,
    image_id: str,
    checkpoint: Path,
) -> dict:
    """Infer and write the JND profile of one RGB or gray PNG; return its summary."""
    pixels = read_png(image_path)
    luma = luma_uint8(pixels)
    sign = luminance_sign(settings.sign, seed, image_id)
    profile = infer_luma(model, luma, settings, sign)
    record = {
        "image_id": image_id,
        "image": str(image_path),
        "image_sha256": sha256_file(image_path),
        "checkpoint_sha256": sha256_file(checkpoint),
        "torch": str(torch.__version__),
    }
    return write_profile(profile, out_paths, settings, record)
