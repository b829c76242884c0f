"""Quality metrics against known values and reference implementations."""

import numpy as np
import pytest
import skimage.data
from skimage.metrics import structural_similarity

from vvcjnd.colour import rgb_to_gray
from vvcjnd.errors import VvcjndError
from vvcjnd.images import write_png
from vvcjnd.psnr import psnr
from vvcjnd.quality import metrics


@pytest.fixture(scope="module")
def pair():
    reference = rgb_to_gray(skimage.data.astronaut())
    noise = np.random.default_rng(0).normal(0, 8, reference.shape)
    return reference, np.clip(reference + noise, 0, 255)


def test_psnr_known_value():
    a = np.zeros((8, 8))
    assert psnr(a, a + 1) == pytest.approx(20 * np.log10(255))
    assert psnr(a, a) == float("inf")


@pytest.mark.parametrize(
    "dtypes", [(np.uint8, np.uint8), (np.uint16, np.uint16), (np.uint8, np.int32)]
)
def test_psnr_of_integers_is_the_float_path_to_the_last_bit(dtypes):
    """Integer samples take an int64 sum of squares: the same dB as float64, bit for bit."""
    rng = np.random.default_rng(1)
    high = 1024 if dtypes[0] == np.uint16 else 256
    reference = rng.integers(0, high, (217, 301)).astype(dtypes[0])
    distorted = np.clip(reference + rng.integers(-9, 10, reference.shape), 0, high - 1)
    distorted = distorted.astype(dtypes[1])
    peak = 4 * 255.0 if high == 1024 else 255.0
    as_float = psnr(reference.astype(np.float64), distorted.astype(np.float64), peak)
    assert psnr(reference, distorted, peak) == as_float
    assert psnr(distorted, reference, peak) == as_float  # unsigned samples never wrap
    assert psnr(reference, reference, peak) == float("inf")


def test_ssim_matches_scikit_image(pair):
    reference, distorted = pair
    expected = structural_similarity(
        reference, distorted, gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False, data_range=255,
    )  # fmt: skip
    assert metrics.ssim(reference, distorted) == pytest.approx(expected, abs=1e-9)
    assert metrics.ssim(reference, reference) == pytest.approx(1.0)


def test_ms_ssim_is_one_for_equal_images_and_falls_with_noise(pair):
    reference, distorted = pair
    assert metrics.ms_ssim(reference, reference) == pytest.approx(1.0)
    more = np.clip(distorted + np.random.default_rng(1).normal(0, 8, reference.shape), 0, 255)
    assert 1.0 > metrics.ms_ssim(reference, distorted) > metrics.ms_ssim(reference, more) > 0.5
    with pytest.raises(VvcjndError, match="176"):
        metrics.ms_ssim(reference[:100, :100], reference[:100, :100])


def test_shape_mismatch_is_an_error(pair):
    with pytest.raises(VvcjndError, match="shape"):
        psnr(pair[0], pair[0][:10])


def test_vmaf_by_libvmaf(tmp_path):
    rgb = skimage.data.astronaut()[:256, :256]
    noisy = np.clip(rgb + np.random.default_rng(0).normal(0, 12, rgb.shape), 0, 255)
    write_png(tmp_path / "ref.png", rgb)
    write_png(tmp_path / "dis.png", noisy.astype(np.uint8))
    same = metrics.vmaf(tmp_path / "ref.png", tmp_path / "ref.png")
    worse = metrics.vmaf(tmp_path / "ref.png", tmp_path / "dis.png")
    assert same > 90 and worse < same - 5
