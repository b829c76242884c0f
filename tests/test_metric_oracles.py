"""SSIM and MS-SSIM against kept reference implementations (scikit-image, pytorch-msssim)."""

import numpy as np
import pytest
import skimage.data
import torch
from pytorch_msssim import ms_ssim as reference_ms_ssim
from skimage.metrics import structural_similarity

from vvcjnd.colour import luma_uint8
from vvcjnd.quality import metrics


def _pairs():
    """Three (reference, distorted) uint8 luma pairs of 256x256 (every MS-SSIM scale even)."""
    rng = np.random.default_rng(7)
    pairs = []
    for name, sd in (("astronaut", 4.0), ("coffee", 10.0), ("chelsea", 20.0)):
        luma = luma_uint8(getattr(skimage.data, name)())[:256, :256]
        noisy = np.clip(np.rint(luma + rng.normal(0, sd, luma.shape)), 0, 255).astype(np.uint8)
        pairs.append((luma, noisy))
    return pairs


@pytest.mark.parametrize("pair", _pairs(), ids=["sd4", "sd10", "sd20"])
def test_ssim_equals_scikit_image_gaussian_ssim(pair):
    reference, distorted = pair
    expected = structural_similarity(
        reference.astype(float), distorted.astype(float), gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False, data_range=255,
    )  # fmt: skip
    assert metrics.ssim(reference, distorted) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("pair", _pairs(), ids=["sd4", "sd10", "sd20"])
def test_ms_ssim_equals_pytorch_msssim(pair):
    reference, distorted = pair

    def tensor(plane):
        return torch.from_numpy(plane.astype(np.float64))[None, None]

    expected = float(reference_ms_ssim(tensor(reference), tensor(distorted), data_range=255))
    assert metrics.ms_ssim(reference, distorted) == pytest.approx(expected, abs=1e-6)
