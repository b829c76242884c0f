"""Classic JND baselines: the luminance term and known values of the paper equations."""

import numpy as np
import pytest
from skimage import data

from vvcjnd.errors import VvcjndError
from vvcjnd.evaluate import baselines
from vvcjnd.jndmath import luminance_adaptation


def test_luminance_term_pinned_values():
    values = luminance_adaptation(np.array([0.0, 127.0, 255.0]))
    np.testing.assert_allclose(values, [20.0, 3.0, 6.0])


@pytest.mark.parametrize("name", sorted(baselines.BASELINES))
@pytest.mark.parametrize(("level", "expected"), [(0, 20.0), (127, 3.0), (255, 6.0)])
def test_flat_image_gives_the_luminance_term(name, level, expected):
    flat = np.full((32, 40), level, dtype=np.uint8)
    np.testing.assert_allclose(baselines.baseline_jnd(name, flat), expected, atol=1e-9)


def step_image():
    image = np.zeros((20, 20))
    image[:, 10:] = 100.0
    return image


def test_max_gradient_of_a_step_edge():
    gradient = baselines.max_gradient(step_image())
    np.testing.assert_allclose(gradient[:, 9], 100.0)
    np.testing.assert_allclose(gradient[:, :6], 0.0)


def test_chou_li_value_beside_a_step_edge():
    # Column 9: three columns of 0 then two of 100 under the 5x5 weights -> bg = 13 * 100 / 32;
    # f1 = 100 (0.0001 bg + 0.115) + 0.5 - 0.01 bg = 12.0 exceeds LA(bg) = 10.38.
    jnd = baselines.chou_li_1995(step_image())
    np.testing.assert_allclose(baselines.background_luminance(step_image())[5, 9], 40.625)
    np.testing.assert_allclose(jnd[5, 9], 12.0)


def test_yang_edge_protection_lowers_texture_masking_on_edges():
    image = step_image()
    weight = baselines.edge_protection(image)
    assert weight[10, 9] < 0.5 and weight[10, 0] == pytest.approx(1.0)
    texture = baselines.YANG_TEXTURE_GAIN * baselines.max_gradient(image) * weight
    luminance = luminance_adaptation(baselines.background_luminance(image))
    np.testing.assert_allclose(
        baselines.yang_2005_namm(image), luminance + texture - 0.3 * np.minimum(luminance, texture)
    )


def test_wu_contrast_and_complexity():
    stripes = np.tile([0.0, 100.0], (20, 10))  # alternating columns
    # Any 5x5 window holds 3 columns of one value and 2 of the other.
    np.testing.assert_allclose(baselines.local_contrast(stripes), np.sqrt(0.24) * 100.0)
    assert np.all(baselines.pattern_complexity(np.full((16, 16), 9.0)) == 1.0)
    noise = np.random.default_rng(0).uniform(0, 255, (32, 32))
    assert baselines.pattern_complexity(noise).mean() > 3.0


def test_baselines_on_a_natural_image_are_positive_and_rank_textures_higher():
    camera = data.camera()[::2, ::2]
    for name in baselines.BASELINES:
        jnd = baselines.baseline_jnd(name, camera)
        assert jnd.shape == camera.shape and np.all(jnd > 0)
        sky, grass = jnd[10:40, 10:60].mean(), jnd[200:250, 50:200].mean()
        assert grass > sky, name


def test_unknown_baseline_and_colour_input_are_rejected():
    with pytest.raises(VvcjndError, match="unknown JND baseline"):
        baselines.baseline_jnd("nope", np.zeros((8, 8)))
    with pytest.raises(VvcjndError, match="gray image"):
        baselines.chou_li_1995(np.zeros((8, 8, 3)))
