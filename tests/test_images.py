"""The project's PNG writer: exact round trip through an independent reader, stable bytes."""

import io

import numpy as np
import pytest
import skimage.data
from PIL import Image

from vvcjnd.errors import VvcjndError
from vvcjnd.images import png_bytes, read_png, write_png


@pytest.mark.parametrize(
    "pixels",
    [
        skimage.data.astronaut(),
        skimage.data.camera(),
        np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8),
        np.zeros((1, 1), np.uint8),
        skimage.data.coffee()[::2, ::3],  # a strided view
    ],
)
def test_png_round_trips_exactly_through_pillow(pixels):
    data = png_bytes(pixels)
    with Image.open(io.BytesIO(data)) as image:
        assert image.mode == ("RGB" if pixels.ndim == 3 else "L")
        np.testing.assert_array_equal(np.asarray(image), pixels)
    assert png_bytes(pixels.copy()) == data


def test_write_png_is_read_back(tmp_path):
    pixels = skimage.data.chelsea()
    write_png(tmp_path / "cat.png", pixels)
    np.testing.assert_array_equal(read_png(tmp_path / "cat.png"), pixels)
    assert [p.name for p in tmp_path.iterdir()] == ["cat.png"]


@pytest.mark.parametrize(
    "pixels",
    [np.zeros((4, 4), np.uint16), np.zeros((4, 4, 4), np.uint8), np.zeros(4, np.uint8)],
)
def test_other_arrays_are_refused(pixels):
    with pytest.raises(VvcjndError, match="uint8"):
        png_bytes(pixels)
