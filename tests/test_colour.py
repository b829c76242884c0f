"""RGB <-> Y'CbCr 4:2:0 round trip (no codec) and luma weights."""

import numpy as np
import pytest
import skimage.data

from vvcjnd.colour import YuvFormat, _bilinear_2x, rgb_to_gray
from vvcjnd.errors import VvcjndError
from vvcjnd.psnr import psnr


@pytest.mark.parametrize(
    ("fmt", "bound_db"),
    [
        (YuvFormat(), 38.0),
        (YuvFormat(bit_depth=8), 38.0),
        (YuvFormat(matrix="bt601", range="full"), 38.0),
        (YuvFormat(chroma_downsample="drop", chroma_upsample="nearest"), 34.0),
    ],
)
def test_round_trip_without_codec_is_bounded(fmt, bound_db):
    rgb = skimage.data.astronaut()
    planes = fmt.rgb_to_yuv(rgb)
    parsed = fmt.from_bytes(fmt.to_bytes(*planes), 512, 512)
    for original, read_back in zip(planes, parsed, strict=True):
        np.testing.assert_array_equal(original, read_back)
    back = fmt.yuv_to_rgb(*parsed)
    assert back.dtype == np.uint8 and back.shape == rgb.shape
    assert psnr(rgb, back) > bound_db
    # Luma alone survives almost exactly (only the 4:2:0 chroma loses detail).
    assert psnr(rgb_to_gray(rgb), rgb_to_gray(back)) > 45.0


def test_gray_image_round_trips_exactly_at_ten_bits():
    gray = np.tile(np.arange(256, dtype=np.uint8), (16, 1))
    rgb = np.repeat(gray[..., None], 3, axis=2)
    fmt = YuvFormat(range="full")
    np.testing.assert_array_equal(fmt.yuv_to_rgb(*fmt.rgb_to_yuv(rgb)), rgb)


def test_sample_ranges_follow_the_range_setting():
    white = np.full((4, 4, 3), 255, np.uint8)
    y, cb, _ = YuvFormat(range="limited", bit_depth=10).rgb_to_yuv(white)
    assert y.max() == 940 and cb.max() == 512
    y, _, _ = YuvFormat(range="full", bit_depth=8).rgb_to_yuv(white)
    assert y.max() == 255


def test_odd_size_and_short_file_are_errors():
    with pytest.raises(VvcjndError, match="even"):
        YuvFormat().rgb_to_yuv(np.zeros((5, 4, 3), np.uint8))
    with pytest.raises(VvcjndError, match="expected"):
        YuvFormat().from_bytes(b"\0" * 10, 4, 4)


def test_rgb_to_gray_uses_matlab_weights():
    pixel = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]]], np.uint8)
    np.testing.assert_allclose(rgb_to_gray(pixel)[0], [0.2989 * 255, 0.5870 * 255, 0.1140 * 255])


def test_bilinear_chroma_upsampling_is_centre_sited_linear_interpolation():
    plane = np.random.default_rng(3).uniform(-0.5, 0.5, (5, 7)).astype(np.float32)
    upsampled = _bilinear_2x(_bilinear_2x(plane, 0), 1)
    assert upsampled.shape == (10, 14) and upsampled.dtype == np.float32
    # Output sample i sits at (i + 0.5) / 2 - 0.5 in input units; edges hold the edge value.
    rows, cols = (np.clip((np.arange(2 * n) + 0.5) / 2 - 0.5, 0, n - 1) for n in plane.shape)
    by_row = np.array([np.interp(rows, np.arange(5), column) for column in plane.T]).T
    expected = np.array([np.interp(cols, np.arange(7), row) for row in by_row])
    np.testing.assert_allclose(upsampled, expected, atol=1e-6)
