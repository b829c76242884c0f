"""Classic pixel-domain JND profiles, written from the papers' equations.

Each function maps a gray image (float or uint8, 0..255, shape (H, W)) to a JND map of the
same shape: the visibility threshold of each pixel in 8-bit grey levels (float64 > 0).
Filters see the image with symmetric (half-sample) border extension.

Variants (the published equations and the authors' released code differ in places; these
follow the papers):

- ``chou_li_1995``: Chou and Li, IEEE TCSVT 1995. JND = max(f1, f2): f1 the spatial
  masking of the maximum weighted gradient, f2 the luminance adaptation.
- ``yang_2005_namm``: Yang et al., IEEE TCSVT 2005 (NAMM, luma). T_l = f2, T_t = 0.117 *
  mg * W with an edge-protection weight W (Canny edges 0.1, elsewhere 1, 7x7 Gaussian
  sigma 0.8); JND = T_l + T_t - 0.3 min(T_l, T_t). Canny: scikit-image, sigma sqrt(2),
  hysteresis on the 0.7 / 0.4 quantiles of the gradient magnitude (MATLAB-like).
- ``wu_2017_pc``: Wu et al., IEEE TIP 2017 (pattern complexity), paper equations:
  luminance contrast L_c = 5x5 local standard deviation; pattern complexity P_c = number
  of distinct 12-degree orientation bins among the non-plain (gradient >= 5) pixels of the
  3x3 neighbourhood (1 on plain pixels), smoothed by a 3x3 Gaussian (sigma 1);
  contrast masking 1.84 L_c^2.4 / (L_c^2 + 26^2); pattern masking log2(1 + L_c) *
  0.3 P_c^2.7 / (P_c^2 + 1); visual masking = the larger of the two; JND = LA + VM -
  0.3 min(LA, VM). No edge protection and no 0.7 scaling of LA (those are in the released
  code, not the paper).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.feature import canny

from vvcjnd.errors import VvcjndError
from vvcjnd.jndmath import luminance_adaptation

BORDER_MODE = "reflect"

# 5x5 background-luminance weights: 1 on the rim, 2 inside, 0 at the centre (sum 32).
BACKGROUND_WEIGHTS = (
    np.array(
        [
            [1, 1, 1, 1, 1],
            [1, 2, 2, 2, 1],
            [1, 2, 0, 2, 1],
            [1, 2, 2, 2, 1],
            [1, 1, 1, 1, 1],
        ],
        dtype=np.float64,
    )
    / 32.0
)

# Chou and Li's four 5x5 directional high-pass operators (divided by 16 when applied).
GRADIENT_OPERATORS = (
    np.array(
        [
            [
                [0, 0, 0, 0, 0],
                [1, 3, 8, 3, 1],
                [0, 0, 0, 0, 0],
                [-1, -3, -8, -3, -1],
                [0, 0, 0, 0, 0],
            ],
            [
                [0, 0, 1, 0, 0],
                [0, 8, 3, 0, 0],
                [1, 3, 0, -3, -1],
                [0, 0, -3, -8, 0],
                [0, 0, -1, 0, 0],
            ],
            [
                [0, 0, 1, 0, 0],
                [0, 0, 3, 8, 0],
                [-1, -3, 0, 3, 1],
                [0, -8, -3, 0, 0],
                [0, 0, -1, 0, 0],
            ],
            [
                [0, 1, 0, -1, 0],
                [0, 3, 0, -3, 0],
                [0, 8, 0, -8, 0],
                [0, 3, 0, -3, 0],
                [0, 1, 0, -1, 0],
            ],
        ],
        dtype=np.float64,
    )
    / 16.0
)

NAMM_OVERLAP = 0.3  # gain reduction of the nonlinear additivity model (luma)
YANG_TEXTURE_GAIN = 0.117
YANG_EDGE_WEIGHT = 0.1
YANG_EDGE_SMOOTH_SIGMA = 0.8  # 7x7 Gaussian
YANG_CANNY_SIGMA = float(np.sqrt(2.0))
YANG_CANNY_QUANTILES = (0.4, 0.7)  # (low, high) hysteresis thresholds
WU_CONTRAST_RADIUS = 2  # 5x5 window
WU_PLAIN_GRADIENT = 5.0
WU_ORIENTATION_BIN_DEG = 12.0
WU_COMPLEXITY_SMOOTH_SIGMA = 1.0  # 3x3 Gaussian


def _as_gray(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 2:
        raise VvcjndError(f"JND baselines take a gray image (H, W), got shape {image.shape}")
    return image.astype(np.float64)


def background_luminance(image: np.ndarray) -> np.ndarray:
    """Weighted 5x5 mean around each pixel (centre excluded), 0..255."""
    return ndimage.correlate(_as_gray(image), BACKGROUND_WEIGHTS, mode=BORDER_MODE)


def max_gradient(image: np.ndarray) -> np.ndarray:
    """Largest absolute response of the four directional operators, grey levels."""
    gray = _as_gray(image)
    responses = [np.abs(ndimage.correlate(gray, op, mode=BORDER_MODE)) for op in GRADIENT_OPERATORS]
    return np.max(responses, axis=0)


def nonlinear_additivity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """NAMM combination of two thresholds: a + b - 0.3 min(a, b)."""
    return a + b - NAMM_OVERLAP * np.minimum(a, b)


def chou_li_1995(image: np.ndarray) -> np.ndarray:
    """Chou and Li (1995) JND map: max(spatial masking f1, luminance adaptation f2)."""
    bg = background_luminance(image)
    mg = max_gradient(image)
    f1 = mg * (0.0001 * bg + 0.115) + (0.5 - 0.01 * bg)
    return np.maximum(f1, luminance_adaptation(bg))


def edge_protection(image: np.ndarray) -> np.ndarray:
    """Yang's weight: 0.1 on Canny edges, 1 elsewhere, smoothed by a 7x7 Gaussian (sigma 0.8)."""
    gray = _as_gray(image)
    low, high = YANG_CANNY_QUANTILES
    edges = canny(
        gray / 255.0,
        sigma=YANG_CANNY_SIGMA,
        low_threshold=low,
        high_threshold=high,
        use_quantiles=True,
        mode=BORDER_MODE,
    )
    weight = np.where(edges, YANG_EDGE_WEIGHT, 1.0)
    truncate = 3.0 / YANG_EDGE_SMOOTH_SIGMA  # radius 3: a 7x7 kernel
    return ndimage.gaussian_filter(
        weight, YANG_EDGE_SMOOTH_SIGMA, mode=BORDER_MODE, truncate=truncate
    )


def yang_2005_namm(image: np.ndarray) -> np.ndarray:
    """Yang et al. (2005) NAMM JND map for luma."""
    luminance = luminance_adaptation(background_luminance(image))
    texture = YANG_TEXTURE_GAIN * max_gradient(image) * edge_protection(image)
    return nonlinear_additivity(luminance, texture)


def local_contrast(image: np.ndarray) -> np.ndarray:
    """Standard deviation over the 5x5 window around each pixel, grey levels."""
    gray = _as_gray(image)
    size = 2 * WU_CONTRAST_RADIUS + 1
    mean = ndimage.uniform_filter(gray, size, mode=BORDER_MODE)
    mean_square = ndimage.uniform_filter(gray * gray, size, mode=BORDER_MODE)
    return np.sqrt(np.maximum(mean_square - mean * mean, 0.0))


def pattern_complexity(image: np.ndarray) -> np.ndarray:
    """Number of distinct orientation bins in each 3x3 neighbourhood, smoothed (>= 1)."""
    gray = _as_gray(image)
    kernel = np.array([[-1.0, 0.0, 1.0]] * 3) / 3.0
    gx = ndimage.correlate(gray, kernel, mode=BORDER_MODE)
    gy = ndimage.correlate(gray, kernel.T, mode=BORDER_MODE)
    textured = np.hypot(gx, gy) >= WU_PLAIN_GRADIENT
    angle = np.mod(np.degrees(np.arctan2(gy, gx)), 180.0)
    n_bins = int(round(180.0 / WU_ORIENTATION_BIN_DEG))
    bins = np.minimum((angle // WU_ORIENTATION_BIN_DEG).astype(int), n_bins - 1)
    count = np.zeros(gray.shape)
    for b in range(n_bins):
        present = ndimage.maximum_filter((bins == b) & textured, size=3, mode=BORDER_MODE)
        count += present
    count = np.where(textured, count, 1.0)
    truncate = 1.0 / WU_COMPLEXITY_SMOOTH_SIGMA  # radius 1: a 3x3 kernel
    return ndimage.gaussian_filter(
        count, WU_COMPLEXITY_SMOOTH_SIGMA, mode=BORDER_MODE, truncate=truncate
    )


def wu_2017_pc(image: np.ndarray) -> np.ndarray:
    """Wu et al. (2017) pattern-complexity JND map (paper equations, see module doc)."""
    contrast = local_contrast(image)
    complexity = pattern_complexity(image)
    contrast_masking = 1.84 * contrast**2.4 / (contrast**2 + 26.0**2)
    pattern_masking = np.log2(1.0 + contrast) * 0.3 * complexity**2.7 / (complexity**2 + 1.0)
    visual_masking = np.maximum(contrast_masking, pattern_masking)
    luminance = luminance_adaptation(background_luminance(image))
    return nonlinear_additivity(luminance, visual_masking)


BASELINES = {
    "chou_li_1995": chou_li_1995,
    "yang_2005_namm": yang_2005_namm,
    "wu_2017_pc": wu_2017_pc,
}


def baseline_jnd(name: str, image: np.ndarray) -> np.ndarray:
    """The JND map of baseline ``name`` (one of :data:`BASELINES`) for a gray image."""
    if name not in BASELINES:
        raise VvcjndError(f"unknown JND baseline {name!r}; expected one of {sorted(BASELINES)}")
    return BASELINES[name](image)
