"""Full-reference quality metrics on 0..255 images (float or uint8), one function per metric.

PSNR and SSIM follow their usual definitions; SSIM uses the Gaussian window of Wang et al.
(sigma 1.5, 11x11, K1 = 0.01, K2 = 0.03); MS-SSIM uses five scales with the weights of
Wang, Simoncelli and Bovik (2003); VMAF is computed by ffmpeg's libvmaf (model vmaf_v0.6.1).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from vvcjnd.errors import VvcjndError
from vvcjnd.runner import run_tool

MS_SSIM_WEIGHTS = np.array([0.0448, 0.2856, 0.3001, 0.2363, 0.1333])
_SSIM_SIGMA = 1.5
_SSIM_TRUNCATE = 3.5  # 11x11 window at sigma 1.5 (radius 5)


def _same_shape(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise VvcjndError(f"images differ in shape: {a.shape} vs {b.shape}")


def _ssim_terms(x: np.ndarray, y: np.ndarray, peak: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel luminance term and contrast-structure term of SSIM (valid region only)."""
    from scipy.ndimage import gaussian_filter  # here: PSNR users (ladder jobs) skip scipy

    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2

    def blur(plane: np.ndarray) -> np.ndarray:
        return gaussian_filter(plane, _SSIM_SIGMA, truncate=_SSIM_TRUNCATE, mode="reflect")

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x * mu_x
    var_y = blur(y * y) - mu_y * mu_y
    cov = blur(x * y) - mu_x * mu_y
    luminance = (2 * mu_x * mu_y + c1) / (mu_x * mu_x + mu_y * mu_y + c1)
    contrast_structure = (2 * cov + c2) / (var_x + var_y + c2)
    radius = 5  # drop the border where the window leaves the image
    crop = (slice(radius, -radius), slice(radius, -radius))
    return luminance[crop], contrast_structure[crop]


def ssim(reference: np.ndarray, distorted: np.ndarray, peak: float = 255.0) -> float:
    """Mean SSIM of two gray images (H, W) on a 0..peak scale, in [-1, 1]."""
    _same_shape(reference, distorted)
    x, y = reference.astype(np.float64), distorted.astype(np.float64)
    if min(x.shape) < 11:
        raise VvcjndError(f"SSIM needs images of at least 11x11, got {x.shape}")
    luminance, contrast_structure = _ssim_terms(x, y, peak)
    return float(np.mean(luminance * contrast_structure))


def ms_ssim(reference: np.ndarray, distorted: np.ndarray, peak: float = 255.0) -> float:
    """Five-scale MS-SSIM of two gray images (H, W) on a 0..peak scale, in [0, 1].

    Each scale halves the image by 2x2 averaging; negative contrast-structure means are
    clipped to 0 before the weighted product. Needs images of at least 176 pixels a side.
    """
    _same_shape(reference, distorted)
    x, y = reference.astype(np.float64), distorted.astype(np.float64)
    scales = len(MS_SSIM_WEIGHTS)
    if min(x.shape) < 11 * 2 ** (scales - 1):
        raise VvcjndError(f"MS-SSIM needs images of at least 176x176, got {x.shape}")
    values = []
    for scale in range(scales):
        luminance, contrast_structure = _ssim_terms(x, y, peak)
        if scale == scales - 1:
            values.append(np.mean(luminance * contrast_structure))
        else:
            values.append(np.mean(contrast_structure))
            x, y = _halve(x), _halve(y)
    values = np.clip(np.array(values), 0.0, None)
    return float(np.prod(values**MS_SSIM_WEIGHTS))


def _halve(plane: np.ndarray) -> np.ndarray:
    height, width = (plane.shape[0] // 2) * 2, (plane.shape[1] // 2) * 2
    return plane[:height, :width].reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))


def vmaf(
    reference_png: Path, distorted_png: Path, ffmpeg: str | None = None, threads: int = 1
) -> float:
    """VMAF (model vmaf_v0.6.1, 0..100) of two same-size RGB PNGs, computed by ffmpeg's libvmaf.

    Both images are converted by ffmpeg to 8-bit BT.709 limited-range 4:2:0 before scoring.
    """
    from vvcjnd.distort.codecs import bundled_ffmpeg

    to_yuv = "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p"
    with tempfile.TemporaryDirectory(prefix="vvcjnd-vmaf-") as tmp:
        log_path = Path(tmp) / "vmaf.json"
        graph = (
            f"[0:v]{to_yuv}[dis];[1:v]{to_yuv}[ref];"
            f"[dis][ref]libvmaf=log_fmt=json:log_path={log_path}:n_threads={threads}"
        )
        run_tool(
            [
                ffmpeg or bundled_ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error",
                "-i", str(distorted_png), "-i", str(reference_png),
                "-lavfi", graph, "-f", "null", "-",
            ]
        )  # fmt: skip
        try:
            return float(json.loads(log_path.read_text())["pooled_metrics"]["vmaf"]["mean"])
        except (OSError, KeyError, ValueError) as exc:
            raise VvcjndError(f"libvmaf wrote no usable score for {distorted_png}: {exc}") from exc


# -- pixel-domain VIF (appended by the infer/evaluate stage) ----------------------------------

VIF_SCALES = 4
VIF_NOISE_VARIANCE = 2.0  # sigma_n^2 of the HVS noise, grey levels squared
VIF_EPSILON = 1e-10


def _vif_profile(scale: int) -> np.ndarray:
    """1-D normalised Gaussian of length 2**(5 - scale) + 1, sigma length / 5 (scale 1..4)."""
    side = 2 ** (VIF_SCALES - scale + 1) + 1
    axis = np.arange(side) - (side - 1) / 2.0
    profile = np.exp(-(axis**2) / (2.0 * (side / 5.0) ** 2))
    return profile / profile.sum()


def _filter_valid(plane: np.ndarray, profile: np.ndarray) -> np.ndarray:
    """Separable Gaussian filtering, keeping only the positions where the window fits."""
    from scipy.ndimage import correlate1d

    radius = len(profile) // 2
    filtered = correlate1d(correlate1d(plane, profile, axis=0), profile, axis=1)
    return filtered[radius:-radius, radius:-radius]


def vif_pixel(reference: np.ndarray, distorted: np.ndarray) -> float:
    """Pixel-domain visual information fidelity (Sheikh and Bovik, IEEE TIP 2006).

    Gray images (H, W), float or uint8 0..255, at least 33x33. Four scales (Gaussian windows
    of 17, 9, 5, 3 pixels, each coarser scale filtered and subsampled by 2), HVS noise
    variance 2. Returns the ratio of the information kept in ``distorted`` to the information
    in ``reference``: 1 for identical images, lower as distortion grows (can exceed 1 for
    contrast enhancement); NaN for a perfectly flat reference.
    """
    ref = np.asarray(reference, dtype=np.float64)
    dist = np.asarray(distorted, dtype=np.float64)
    if ref.ndim != 2 or ref.shape != dist.shape:
        raise VvcjndError(
            f"vif_pixel needs two gray images of one shape, got {ref.shape} and {dist.shape}"
        )
    if min(ref.shape) < 2 ** (VIF_SCALES + 1) + 1:
        raise VvcjndError(f"vif_pixel needs an image of at least 33x33 pixels, got {ref.shape}")
    kept, total = 0.0, 0.0
    for scale in range(1, VIF_SCALES + 1):
        window = _vif_profile(scale)
        if scale > 1:
            ref = _filter_valid(ref, window)[::2, ::2]
            dist = _filter_valid(dist, window)[::2, ::2]
        mu_r, mu_d = _filter_valid(ref, window), _filter_valid(dist, window)
        var_r = np.maximum(_filter_valid(ref * ref, window) - mu_r**2, 0.0)
        var_d = np.maximum(_filter_valid(dist * dist, window) - mu_d**2, 0.0)
        cov = _filter_valid(ref * dist, window) - mu_r * mu_d
        gain = cov / (var_r + VIF_EPSILON)
        noise = var_d - gain * cov
        # Degenerate cases: no reference signal, no distorted signal, or a negative gain.
        no_signal = var_r < VIF_EPSILON
        gain = np.where(no_signal, 0.0, gain)
        noise = np.where(no_signal, var_d, noise)
        var_r = np.where(no_signal, 0.0, var_r)
        blank = var_d < VIF_EPSILON
        gain = np.where(blank, 0.0, gain)
        noise = np.where(blank, 0.0, noise)
        negative = gain < 0
        noise = np.where(negative, var_d, noise)
        gain = np.where(negative, 0.0, gain)
        noise = np.maximum(noise, VIF_EPSILON)
        kept += np.sum(np.log10(1.0 + gain**2 * var_r / (noise + VIF_NOISE_VARIANCE)))
        total += np.sum(np.log10(1.0 + var_r / VIF_NOISE_VARIANCE))
    return float(kept / total) if total > 0 else float("nan")
