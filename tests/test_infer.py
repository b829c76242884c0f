"""JND profile inference: blending, the patch model's algebra, and whole-image coverage."""

import json

import numpy as np
import pytest
import torch
from skimage import data

from vvcjnd.errors import VvcjndError
from vvcjnd.images import read_png, write_png
from vvcjnd.infer import profile as infer
from vvcjnd.infer.figures import plot_gallery
from vvcjnd.jndmath import luminance_adaptation
from vvcjnd.patches.grid import extract_patches, grid_positions
from vvcjnd.paths import profile_paths


def odd_sized_luma():
    """A natural uint8 luma plane whose size is not on the stride-50 grid."""
    return np.ascontiguousarray(data.camera()[100:237, 40:251])


@pytest.mark.parametrize("window", infer.WINDOWS)
def test_blending_the_image_own_patches_gives_it_back(window):
    luma = odd_sized_luma()
    positions = grid_positions(*luma.shape, 64, 50, cover_border=True)
    patches = extract_patches(luma, positions).astype(np.float64)
    blended = infer.blend_patches(patches, positions, luma.shape, window)
    np.testing.assert_allclose(blended, luma, rtol=0, atol=1e-10)
    assert np.array_equal(np.rint(blended).astype(np.uint8), luma)
    if window == "uniform":
        assert np.array_equal(blended, luma)  # integer sums: exact in float64


def test_blending_leaves_no_hole_reported():
    with pytest.raises(VvcjndError, match="uncovered"):
        infer.blend_patches(np.zeros((1, 4, 4)), np.array([[0, 0]]), (4, 8))


def test_hann_window_is_positive_and_peaks_in_the_middle():
    window = infer.blend_window("hann", 64)
    assert window.min() > 0 and window[31, 31] > 0.99 and window[0, 0] < 0.01


def test_identity_network_without_shift_returns_the_pristine_image():
    luma = odd_sized_luma()
    settings = infer.InferSettings(f_c=1.0, sign="none", batch_size=7)
    profile = infer.infer_luma(torch.nn.Identity(), luma, settings, sign=0)
    assert np.array_equal(profile.image, luma)
    assert float(np.abs(profile.residual).max()) < 1e-3
    assert profile.network_mse == 0.0
    assert profile.psnr_db == float("inf")


def test_luminance_shift_reaches_every_pixel_including_the_border_strip():
    rng = np.random.default_rng(1)
    luma = rng.integers(60, 190, size=(130, 177), dtype=np.uint8)  # 130 and 177: off the grid
    settings = infer.InferSettings(f_c=1.0, sign="positive")
    profile = infer.infer_luma(torch.nn.Identity(), luma, settings, sign=1)
    # Each patch is shifted up by LA(its mean) >= 3 (LA's minimum, at 127); the weighted blend
    # keeps a shift of at least 3 at every pixel, the last rows and columns included.
    assert profile.residual.min() > 3.0 - 1e-4
    assert profile.residual.max() < float(luminance_adaptation(60.0))


def test_contrast_factor_scales_the_deviation_from_the_patch_mean():
    pristine = np.random.default_rng(2).integers(0, 256, size=(3, 64, 64), dtype=np.uint8)
    identity_output = pristine / 127.5 - 1.0
    jnd = infer.jnd_patches(pristine, identity_output, f_c=0.8, sign=0)
    deviation = pristine - pristine.mean(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(jnd - jnd.mean(axis=(1, 2), keepdims=True), 0.8 * deviation)
    np.testing.assert_allclose(jnd.mean(axis=(1, 2)), pristine.mean(axis=(1, 2)))


def test_flat_patch_becomes_its_shifted_mean_whatever_the_network_says():
    flat = np.full((1, 64, 64), 40, dtype=np.uint8)
    busy = np.random.default_rng(3).uniform(-1, 1, size=(1, 64, 64))
    jnd = infer.jnd_patches(flat, busy, f_c=0.9, sign=-1)
    np.testing.assert_allclose(jnd, 40.0 - luminance_adaptation(40.0))


def test_random_sign_is_seeded_per_image():
    signs = [infer.luminance_sign("random", 2021, f"img{i}") for i in range(40)]
    assert set(signs) == {-1, 1}
    assert signs == [infer.luminance_sign("random", 2021, f"img{i}") for i in range(40)]
    assert signs != [infer.luminance_sign("random", 7, f"img{i}") for i in range(40)]
    assert infer.luminance_sign("none", 0, "x") == 0
    assert infer.luminance_sign("negative", 0, "x") == -1


def test_settings_reject_bad_values():
    with pytest.raises(VvcjndError, match="infer.f_c"):
        infer.InferSettings(f_c=1.5)
    with pytest.raises(VvcjndError, match="infer.sign"):
        infer.InferSettings(sign="sometimes")


def test_network_runs_in_batches_and_keeps_order():
    class HalveInBatches(torch.nn.Module):
        def forward(self, x):
            assert not torch.is_grad_enabled() and len(x) <= 4
            return x * 0.5

    patches = np.random.default_rng(4).integers(0, 256, size=(10, 64, 64), dtype=np.uint8)
    output = infer.run_network(HalveInBatches(), patches, batch_size=4)
    np.testing.assert_allclose(output, (patches / 127.5 - 1.0) * 0.5, atol=1e-6)


def test_write_profile_files(tmp_path):
    luma = odd_sized_luma()
    settings = infer.InferSettings(f_c=0.9, sign="negative")
    profile = infer.infer_luma(torch.nn.Identity(), luma, settings, sign=-1)
    paths = profile_paths(tmp_path, "cam_")
    summary = infer.write_profile(profile, paths, settings, {"image_id": "cam"})
    assert np.array_equal(read_png(paths["jnd_png"]), profile.image)
    jnd_map = np.load(paths["map_npy"])
    assert jnd_map.dtype == np.float32 and np.array_equal(
        jnd_map, np.abs(np.load(paths["residual_npy"]))
    )
    assert read_png(paths["map_png"]).shape == luma.shape + (3,)
    on_disk = json.loads(paths["summary"].read_text())
    assert on_disk == summary and on_disk["sign"] == -1
    assert 20 < on_disk["psnr_db"] < 60 and on_disk["settings"]["f_c"] == 0.9


def test_gallery_figure(tmp_path):
    luma = odd_sized_luma()
    write_png(tmp_path / "cam.png", luma)
    settings = infer.InferSettings(sign="positive")
    profile = infer.infer_luma(torch.nn.Identity(), luma, settings, sign=1)
    paths = profile_paths(tmp_path / "cam")
    infer.write_profile(profile, paths, settings, {"image_id": "cam"})
    rows = [("cam", tmp_path / "cam.png", paths["jnd_png"], paths["map_npy"])] * 2
    plot_gallery(rows, settings.map_max, tmp_path / "gallery.png")
    figure = read_png(tmp_path / "gallery.png")
    assert figure.shape[0] > figure.shape[1] / 3  # two rows of three panels
    with pytest.raises(VvcjndError, match="at least one image"):
        plot_gallery([], 24.0, tmp_path / "empty.png")


def test_settings_reject_an_unknown_precision():
    with pytest.raises(VvcjndError, match="config key 'infer.precision': 'float16' is not one"):
        infer.InferSettings(precision="float16")


@pytest.fixture(scope="module")
def small_network():
    """A random (untrained) width-8 network, folded for inference as the pipeline does."""
    from vvcjnd.model.inference import fuse_for_inference
    from vvcjnd.model.network import StructuralVisibilityNet

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return fuse_for_inference(StructuralVisibilityNet(8, 5).eval())


@pytest.mark.usefixtures("one_torch_thread")
def test_default_inference_is_deterministic_and_bfloat16_stays_close(small_network):
    """float32 (the default) gives the same bytes run after run; bfloat16 autocast (an option)
    moves the JND map by at most 1 grey level (measured: about 0.3 on this image) and its
    PSNR by at most 0.1 dB."""
    luma = odd_sized_luma()
    settings = infer.InferSettings(sign="positive")
    first, second = (infer.infer_luma(small_network, luma, settings, sign=1) for _ in range(2))
    assert first.jnd.tobytes() == second.jnd.tobytes()
    assert first.network_mse == second.network_mse

    bf16 = infer.infer_luma(
        small_network, luma, infer.InferSettings(sign="positive", precision="bfloat16"), sign=1
    )
    difference = np.abs(bf16.jnd_map - first.jnd_map)
    assert 0 < difference.max() <= 1.0, difference.max()
    assert abs(bf16.psnr_db - first.psnr_db) <= 0.1
