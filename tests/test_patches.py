"""Patch grid, extraction, decomposition, split and the on-disk patch dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from skimage import data

from vvcjnd.colour import luma_uint8, rgb_to_gray
from vvcjnd.config import load_config
from vvcjnd.errors import VvcjndError
from vvcjnd.images import read_png, write_png
from vvcjnd.io import read_table, write_table
from vvcjnd.patches.build import build_patch_dataset, image_pairs
from vvcjnd.patches.dataset import PatchPairDataset
from vvcjnd.patches.figures import plot_sample_pairs
from vvcjnd.patches.grid import (
    FLAT_EPSILON,
    compose,
    decompose,
    extract_patches,
    from_unit_range,
    grid_positions,
    grid_shape,
    patch_statistics,
    to_unit_range,
)
from vvcjnd.patches.split import assign_splits

DEFAULT_SPLIT = {"ratios": {"train": 0.6, "val": 0.15, "test": 0.25}, "lists": None}
SETTINGS = {
    "size": 32,
    "stride": 32,
    "cover_border": False,
    "flat_std": 1.0,
    "exclude_flat": False,
    "split": DEFAULT_SPLIT,
    "figure_pairs": 6,
}

# -- grid ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("height", "width", "size", "stride", "cover", "expected"),
    [
        (1080, 1920, 64, 64, False, (16, 30)),
        (1080, 1920, 64, 50, False, (21, 38)),
        (1080, 1920, 64, 64, True, (17, 30)),
        (1080, 1920, 64, 50, True, (22, 39)),
        (512, 512, 64, 64, False, (8, 8)),
        (512, 512, 64, 64, True, (8, 8)),
        (100, 130, 64, 50, False, (1, 2)),
        (100, 130, 64, 50, True, (2, 3)),
        (64, 64, 64, 50, True, (1, 1)),
        (300, 451, 32, 16, False, (17, 27)),
    ],
)
def test_grid_counts(height, width, size, stride, cover, expected):
    positions = grid_positions(height, width, size, stride, cover)
    assert positions.shape == (expected[0] * expected[1], 2)
    assert grid_shape(positions) == expected
    assert positions.dtype.kind == "i"
    # row-major: tops non-decreasing, lefts increasing inside a row
    assert list(map(tuple, positions)) == sorted(map(tuple, positions))
    assert positions[:, 0].max() + size <= height and positions[:, 1].max() + size <= width
    if cover:
        assert positions[:, 0].max() + size == height
        assert positions[:, 1].max() + size == width


def test_grid_rejects_an_image_smaller_than_a_patch():
    with pytest.raises(VvcjndError, match="smaller than one 64x64 patch"):
        grid_positions(60, 200)


# -- extraction ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
@pytest.mark.parametrize(
    ("size", "stride", "cover"), [(16, 16, False), (16, 10, True), (8, 3, False)]
)
def test_every_patch_equals_its_slice(dtype, size, stride, cover):
    plane = (np.random.default_rng(1).random((53, 71)) * 255).astype(dtype)
    positions = grid_positions(*plane.shape, size, stride, cover)
    patches = extract_patches(plane, positions, size)
    assert patches.shape == (len(positions), size, size)
    assert patches.dtype == plane.dtype
    for patch, (top, left) in zip(patches, positions, strict=True):
        np.testing.assert_array_equal(patch, plane[top : top + size, left : left + size])


def test_extract_rejects_positions_outside_the_plane():
    plane = np.zeros((40, 40), np.uint8)
    with pytest.raises(VvcjndError, match="outside"):
        extract_patches(plane, np.array([[0, 10]]), size=32)


# -- decomposition ---------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, (3, 5, 4), elements=st.floats(0, 255)))
def test_compose_inverts_decompose(patches):
    mu, c, s = decompose(patches)
    assert mu.shape == c.shape == (3,) and s.shape == patches.shape
    error = np.abs(compose(mu, c, s) - patches).max(axis=(1, 2))
    # exact to float precision, except that a patch with c <= FLAT_EPSILON comes back as its mean
    assert (error <= np.where(c > FLAT_EPSILON, 1e-9, FLAT_EPSILON)).all()
    norms = np.sqrt((s**2).sum(axis=(1, 2)))
    np.testing.assert_allclose(norms[c > FLAT_EPSILON], 1.0, atol=1e-9)
    np.testing.assert_allclose(s.sum(axis=(1, 2)), 0.0, atol=1e-9)


def test_decompose_of_uint8_patches_and_flat_ones():
    rng = np.random.default_rng(3)
    patches = rng.integers(0, 256, (4, 64, 64), dtype=np.uint8)
    patches[1] = 77  # flat
    mu, c, s = decompose(patches)
    assert c[1] == 0 and mu[1] == 77 and not s[1].any()
    assert np.isfinite(s).all()
    np.testing.assert_allclose(compose(mu, c, s), patches, atol=1e-9)
    # the contrast is the L2 norm of the deviations, i.e. 64 * the population std
    np.testing.assert_allclose(c, patches.reshape(4, -1).std(axis=1) * 64, rtol=1e-12)
    stat_mu, stat_c = patch_statistics(patches)
    np.testing.assert_allclose(stat_mu, mu, rtol=1e-12)
    np.testing.assert_allclose(stat_c, c, rtol=1e-12)
    assert stat_c[1] == 0


# -- luma and scaling ------------------------------------------------------------------------------


def test_luma_rounds_matlab_gray_half_up():
    # 0.114 * 250 = 28.5 exactly: half up gives 29
    rgb = np.array([[[255, 255, 255], [0, 255, 0], [1, 1, 1], [10, 20, 30], [0, 0, 250]]], np.uint8)
    np.testing.assert_array_equal(luma_uint8(rgb), [[255, 150, 1, 18, 29]])
    image = data.astronaut()
    luma = luma_uint8(image)
    assert luma.dtype == np.uint8 and luma.shape == image.shape[:2]
    exact = image.astype(np.int64) @ np.array([2989, 5870, 1140])
    not_tie = exact % 10_000 != 5_000
    np.testing.assert_array_equal(luma, (exact + 5_000) // 10_000)
    float_rounded = np.floor(rgb_to_gray(image) + 0.5)
    np.testing.assert_array_equal(luma[not_tie], float_rounded[not_tie])
    with pytest.raises(VvcjndError, match="uint8 RGB"):
        luma_uint8(image.astype(np.float32))


def test_unit_range_round_trip():
    values = np.arange(256, dtype=np.uint8)
    unit = to_unit_range(values)
    assert unit.dtype == np.float32 and unit[0] == -1 and unit[-1] == 1
    np.testing.assert_array_equal(from_unit_range(unit), values)
    np.testing.assert_array_equal(from_unit_range([-3.0, 2.0]), [0, 255])


# -- split -----------------------------------------------------------------------------------------

IDS = [f"img{k:03d}" for k in range(40)]


def test_embedded_default_split_keeps_a_validation_and_two_test_images():
    config = load_config(Path(__file__).resolve().parent.parent / "config.yaml")
    ids = config["sources"]["names"]
    splits = assign_splits(ids, config["patches"]["split"], seed=config["seed"])
    assert splits["image_id"].tolist() == ids
    assert splits["split"].value_counts().to_dict() == {"train": 4, "test": 2, "val": 1}


def test_split_is_by_image_and_stable_for_a_seed():
    first = assign_splits(IDS, DEFAULT_SPLIT, seed=7)
    again = assign_splits(list(reversed(IDS)), DEFAULT_SPLIT, seed=7)
    other = assign_splits(IDS, DEFAULT_SPLIT, seed=8)
    assert first["image_id"].is_unique and set(first["image_id"]) == set(IDS)
    merged = first.merge(again, on="image_id")
    assert (merged["split_x"] == merged["split_y"]).all()
    assert (first["split"] != other["split"]).any()
    assert first["split"].value_counts().to_dict() == {"train": 24, "test": 10, "val": 6}


def test_paper_scale_split_counts_and_small_ratios():
    ids = [f"p{k}" for k in range(202)]
    split = {"ratios": {"train": 183 - 18, "val": 18, "test": 19}, "lists": None}
    counts = assign_splits(ids, split, 0)["split"].value_counts().to_dict()
    assert counts == {"train": 165, "val": 18, "test": 19}
    tiny = assign_splits(["a", "b", "c"], {"ratios": {"train": 0.9, "val": 0.05, "test": 0.05}}, 0)
    assert sorted(tiny["split"]) == ["test", "train", "val"]
    with pytest.raises(VvcjndError, match="cannot fill every split"):
        assign_splits(["a", "b"], DEFAULT_SPLIT, 0)


def test_split_from_lists():
    lists = {"test": ["img001", "img002"], "val": ["img003"]}
    splits = assign_splits(IDS, {"ratios": DEFAULT_SPLIT["ratios"], "lists": lists}, 0)
    split_of = dict(zip(splits["image_id"], splits["split"], strict=True))
    assert split_of["img001"] == split_of["img002"] == "test" and split_of["img003"] == "val"
    assert sum(value == "train" for value in split_of.values()) == 37
    with pytest.raises(VvcjndError, match="'ghost' is not in the sources manifest"):
        assign_splits(IDS, {"lists": {"test": ["ghost"]}}, 0)
    with pytest.raises(VvcjndError, match="'img001' is listed in both 'val' and 'test'"):
        assign_splits(IDS, {"lists": {"val": ["img001"], "test": ["img001"]}}, 0)
    with pytest.raises(VvcjndError, match="in no list"):
        assign_splits(IDS, {"lists": {"train": IDS[:30], "test": IDS[30:35]}}, 0)


# -- the dataset on disk ---------------------------------------------------------------------------


def _degrade(rgb: np.ndarray, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).integers(-6, 7, rgb.shape)
    return np.clip(rgb.astype(int) + noise, 0, 255).astype(np.uint8)


def _make_inputs(root, sizes=((96, 128), (64, 96), (128, 64), (70, 100)), jnd_qps=(27, 33, 40, 19)):
    """Small pristine images, their 'decoded' versions at the JND QP, manifest and labels."""
    photo = data.astronaut()
    ids = [f"im{k}" for k in range(len(sizes))]
    for k, (image_id, (height, width), qp) in enumerate(zip(ids, sizes, jnd_qps, strict=True)):
        pristine = photo[40 * k : 40 * k + height, 30 * k : 30 * k + width].copy()
        pristine[:32, :32] = 120  # a flat patch
        write_png(root / "images" / f"{image_id}.png", pristine)
        write_png(root / "ladder" / image_id / f"qp{qp:02d}.png", _degrade(pristine, k))
    write_table(root / "manifest.tsv", pd.DataFrame({"image_id": ids, "session": 1}))
    labels = pd.DataFrame({"image_id": ids, "session": 1, "jnd_qp": list(jnd_qps)})
    write_table(root / "jnd.tsv", labels)
    return ids


def _build(root, out="out", workers=1, **overrides):
    return build_patch_dataset(
        root / "manifest.tsv",
        root / "jnd.tsv",
        root / "images",
        root / "ladder",
        root / out,
        {**SETTINGS, **overrides},
        seed=5,
        workers=workers,
    )


def test_build_patch_dataset(tmp_path):
    ids = _make_inputs(tmp_path)
    summary = _build(tmp_path)
    out = tmp_path / "out"
    index = read_table(out / "index.tsv")
    splits = read_table(out / "splits.tsv")
    assert sorted(splits["image_id"]) == ids and splits["image_id"].is_unique
    assert (index.groupby("image_id")["split"].nunique() == 1).all()
    assert summary["images"] == {"train": 2, "val": 1, "test": 1}
    # 96x128 -> 3x4, 64x96 -> 2x3, 128x64 -> 4x2, 70x100 -> 2x3 patches of 32 at stride 32
    per_image = index.groupby("image_id").size().to_dict()
    assert per_image == {"im0": 12, "im1": 6, "im2": 8, "im3": 6}
    for split in ("train", "val", "test"):
        pristine = np.load(out / f"{split}_pristine.npy", mmap_mode="r")
        jnd = np.load(out / f"{split}_jnd.npy")
        rows = index[index["split"] == split]
        assert pristine.dtype == np.uint8 and pristine.shape == (len(rows), 32, 32)
        assert jnd.shape == pristine.shape and summary["pairs"][split] == len(rows)
        assert rows["patch_id"].tolist() == list(range(len(rows)))
        for row in rows.itertuples():
            qp = {"im0": 27, "im1": 33, "im2": 40, "im3": 19}[row.image_id]
            assert row.jnd_qp == qp
            luma = luma_uint8(read_png(tmp_path / "images" / f"{row.image_id}.png"))
            decoded = luma_uint8(read_png(tmp_path / "ladder" / row.image_id / f"qp{qp}.png"))
            window = np.s_[row.top : row.top + 32, row.left : row.left + 32]
            np.testing.assert_array_equal(pristine[row.patch_id], luma[window])
            np.testing.assert_array_equal(jnd[row.patch_id], decoded[window])
            assert (row.top, row.left) == (32 * row.grid_row, 32 * row.grid_col)
            mu, c = patch_statistics(pristine[row.patch_id][None])
            assert row.pristine_mu == pytest.approx(mu[0], rel=1e-5)
            assert row.pristine_c == pytest.approx(c[0], rel=1e-5, abs=1e-9)
            assert row.pristine_flat == int(c[0] / 32 < 1.0)
    corner = index[(index["top"] == 0) & (index["left"] == 0)]
    assert (corner["pristine_flat"] == 1).all() and (corner["pristine_c"] == 0).all()
    assert (corner["jnd_flat"] == 0).all()

    dataset = PatchPairDataset(out, "train")
    assert len(dataset) == summary["pairs"]["train"]

    plot_sample_pairs(out, tmp_path / "samples.png", n_pairs=6, seed=5)
    figure = read_png(tmp_path / "samples.png")
    assert figure.ndim == 3 and figure.shape[0] > 100


def test_build_is_byte_stable_for_any_worker_count_and_can_exclude_flat(tmp_path):
    _make_inputs(tmp_path)
    _build(tmp_path, "a")
    _build(tmp_path, "b", workers=3)
    names = sorted(path.name for path in (tmp_path / "a").iterdir())
    assert "index.tsv" in names and "train_jnd.npy" in names
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    summary = _build(tmp_path, "c", exclude_flat=True)
    index = read_table(tmp_path / "c" / "index.tsv")
    assert len(index) == 32 - 4 and not index["pristine_flat"].any()
    assert sum(summary["pairs"].values()) == 28


def test_missing_label_names_the_image(tmp_path):
    _make_inputs(tmp_path)
    labels = read_table(tmp_path / "jnd.tsv")
    write_table(tmp_path / "jnd.tsv", labels[labels["image_id"] != "im2"])
    with pytest.raises(VvcjndError, match=r"no JND label \(jnd_qp\) for image\(s\) \['im2'\]"):
        _build(tmp_path)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").glob("*.npy"))


def test_missing_decoded_image_names_the_image_and_file(tmp_path):
    _make_inputs(tmp_path)
    (tmp_path / "ladder" / "im1" / "qp33.png").unlink()
    with pytest.raises(
        VvcjndError, match=r"'im1' at its JND level \(qp33\) not found: .*qp33\.png"
    ):
        _build(tmp_path)
    assert not any((tmp_path / "out").glob("*.npy"))


def test_mismatched_sizes_name_the_image():
    pristine = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(VvcjndError, match="differ in size"):
        image_pairs(pristine, np.zeros((64, 72, 3), np.uint8), size=32, stride=32)


def test_an_empty_split_and_a_too_small_image(tmp_path):
    _make_inputs(tmp_path)
    no_val = {"ratios": {"train": 0.5, "val": 0, "test": 0.5}, "lists": None}
    summary = _build(tmp_path, split=no_val)
    assert summary["images"]["val"] == 0 and summary["pairs"]["val"] == 0
    assert np.load(tmp_path / "out" / "val_jnd.npy").shape == (0, 32, 32)
    assert len(PatchPairDataset(tmp_path / "out", "val")) == 0
    with pytest.raises(VvcjndError, match="image 'im1': a 96x64 image is smaller than one 80x80"):
        _build(tmp_path, size=80, stride=80)
