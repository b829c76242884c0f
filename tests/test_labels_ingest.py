"""Labels stage: MAT v5/v7.3 files, the simulated panel, tidy tables and every bad input."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.io

from tests.labels_fixtures import (
    LADDER,
    session_names,
    spread_latents,
    write_manifest,
    write_quality,
)
from vvcjnd.errors import VvcjndError
from vvcjnd.io import sha256_file
from vvcjnd.labels.ingest import (
    MatLayout,
    ladder_values,
    read_manifest,
    read_mat_samples,
    read_tidy_samples,
    select_labelled,
)
from vvcjnd.labels.matfile import read_mat_arrays, select_matrix, write_mat
from vvcjnd.labels.simulate import PanelSettings, latent_thresholds, write_panel

SESSIONS = {1: ["a", "b", "c"], 2: ["d", "e"]}


@pytest.fixture
def manifest(tmp_path) -> pd.DataFrame:
    write_manifest(tmp_path / "manifest.tsv", SESSIONS)
    return read_manifest(tmp_path / "manifest.tsv")


def layout(tmp_path, **changes) -> MatLayout:
    return MatLayout(path=str(tmp_path / "f_session{session}.mat"), **changes)


def write_sessions(tmp_path, matrices: dict[int, np.ndarray], version="v5", name="jnd"):
    for session, matrix in matrices.items():
        write_mat(tmp_path / f"f_session{session}.mat", {name: matrix}, version)


@pytest.mark.parametrize("version", ["v5", "v7.3"])
@pytest.mark.parametrize("value_kind", ["qp", "ladder_index"])
def test_simulated_panel_round_trips_through_mat_files(tmp_path, version, value_kind):
    sessions = session_names(2, 6)
    manifest = write_manifest(tmp_path / "manifest.tsv", sessions)
    latent = spread_latents(list(manifest["image_id"]))
    write_quality(tmp_path / "quality.tsv", manifest, latent)
    quality = pd.read_csv(tmp_path / "quality.tsv", sep="\t")
    settings = PanelSettings(mat_version=version, value_kind=value_kind, missing_share=0.1)
    panel = tmp_path / "panel"
    write_panel(panel, quality, manifest, LADDER, settings, seed=7)

    samples = read_mat_samples(manifest, settings.layout(panel), LADDER)

    # the same samples as the QP-valued v5 panel of the same seed, whatever the file format
    reference_dir = tmp_path / "reference"
    write_panel(reference_dir, quality, manifest, LADDER, PanelSettings(missing_share=0.1), seed=7)
    reference = scipy.io.loadmat(reference_dir / "f_session1.mat")["jnd"]
    first = samples[samples["session"] == 1]["jnd_qp"].to_numpy().reshape(6, 20)
    np.testing.assert_array_equal(first, reference)
    assert samples["jnd_qp"].isna().sum() > 0  # planted missing samples are read as missing
    assert set(samples["jnd_qp"].dropna()) <= set(LADDER)
    assert samples["subject_id"].iloc[:3].tolist() == ["s1_01", "s1_02", "s1_03"]
    if version == "v7.3":
        with h5py.File(panel / "f_session1.mat", "r") as handle:
            assert handle["jnd"].shape == (20, 6)  # column-major on disk, as MATLAB stores it
            assert handle["jnd"].attrs["MATLAB_class"] == b"double"
        assert scipy.io.matlab.matfile_version(panel / "f_session1.mat") == (2, 0)


def test_simulated_panel_is_seeded_and_byte_stable(tmp_path):
    manifest = write_manifest(tmp_path / "manifest.tsv", session_names(1, 5))
    write_quality(tmp_path / "quality.tsv", manifest, spread_latents(list(manifest["image_id"])))
    quality = pd.read_csv(tmp_path / "quality.tsv", sep="\t")
    hashes = []
    for run, seed in enumerate([3, 3, 4]):
        write_panel(tmp_path / f"run{run}", quality, manifest, LADDER, PanelSettings(), seed)
        hashes.append(sha256_file(tmp_path / f"run{run}" / "f_session1.mat"))
    assert hashes[0] == hashes[1] != hashes[2]


def test_latent_threshold_is_the_interpolated_first_crossing(tmp_path):
    manifest = write_manifest(tmp_path / "manifest.tsv", {1: ["low", "mid", "never"]})
    write_quality(tmp_path / "q.tsv", manifest, {"low": 5.0, "mid": 30.25, "never": 80.0})
    quality = pd.read_csv(tmp_path / "q.tsv", sep="\t")
    latent = latent_thresholds(quality, manifest, "vmaf", 93.0, LADDER)
    assert latent["latent_qp"].tolist() == [13.0, 30.25, 51.0]
    quality.loc[quality["image_id"] == "mid", "vmaf"] = np.nan
    with pytest.raises(VvcjndError, match="lacks 'vmaf' for image 'mid'"):
        latent_thresholds(quality, manifest, "vmaf", 93.0, LADDER)


def test_orientation_is_detected_only_when_unambiguous(tmp_path, manifest):
    images_x_subjects = {1: np.full((3, 4), 30.0), 2: np.full((2, 4), 31.0)}
    write_sessions(tmp_path, {s: m.T for s, m in images_x_subjects.items()})
    samples = read_mat_samples(manifest, layout(tmp_path), LADDER)
    assert len(samples) == 20 and samples["subject_id"].nunique() == 8

    write_sessions(tmp_path, {1: np.full((3, 3), 30.0), 2: np.full((2, 3), 30.0)})
    with pytest.raises(VvcjndError, match="f_session1.mat: the 3x3 matrix is ambiguous"):
        read_mat_samples(manifest, layout(tmp_path), LADDER)
    samples = read_mat_samples(manifest, layout(tmp_path, orientation="images_x_subjects"), LADDER)
    assert (samples["session"] == 1).sum() == 9


def test_row_count_must_match_the_session(tmp_path, manifest):
    write_sessions(tmp_path, {1: np.full((4, 20), 30.0), 2: np.full((2, 20), 30.0)})
    with pytest.raises(VvcjndError, match=r"f_session1.mat: neither side of the 4x20 matrix"):
        read_mat_samples(manifest, layout(tmp_path), LADDER)
    fixed = layout(tmp_path, orientation="images_x_subjects")
    with pytest.raises(
        VvcjndError, match=r"f_session1.mat: .* 4 image rows, but this session has 3"
    ):
        read_mat_samples(manifest, fixed, LADDER)


def test_missing_session_file_is_named(tmp_path, manifest):
    write_sessions(tmp_path, {1: np.full((3, 20), 30.0)})
    with pytest.raises(VvcjndError, match="f_session2.mat not found"):
        read_mat_samples(manifest, layout(tmp_path), LADDER)


def test_variable_is_found_or_named(tmp_path):
    path = tmp_path / "two.mat"
    write_mat(path, {"jnd": np.ones((3, 2)), "other": np.zeros((2, 2))}, "v7.3")
    arrays = read_mat_arrays(path)
    with pytest.raises(VvcjndError, match=r"holds 2 2-D numeric variables \['jnd', 'other'\]"):
        select_matrix(arrays, path, None)
    assert select_matrix(arrays, path, "other").shape == (2, 2)
    with pytest.raises(VvcjndError, match="no 2-D numeric variable 'nope'"):
        select_matrix(arrays, path, "nope")
    scipy.io.savemat(tmp_path / "mixed.mat", {"note": "text", "x": np.ones((2, 3))})
    assert list(read_mat_arrays(tmp_path / "mixed.mat")) == ["x"]  # strings are skipped


def test_values_off_the_ladder_name_row_and_column(tmp_path, manifest):
    bad = np.full((3, 20), 30.0)
    bad[1, 6] = 30.5
    write_sessions(tmp_path, {1: bad, 2: np.full((2, 20), 30.0)})
    with pytest.raises(VvcjndError, match=r"image row 2 \(b\), subject column 7: value 30.5"):
        read_mat_samples(manifest, layout(tmp_path), LADDER)
    write_sessions(tmp_path, {1: np.full((3, 20), 40.0)})
    with pytest.raises(VvcjndError, match="not a ladder index"):
        read_mat_samples(manifest, layout(tmp_path, value_kind="ladder_index"), LADDER)


def test_missing_codes_are_counted_and_must_not_clash(tmp_path, manifest):
    values, off = ladder_values(np.array([0.0, np.nan, -1.0, 13.0, 1.0]), "qp", LADDER, (0, -1))
    assert np.isnan(values[:3]).all() and values[3] == 13 and off.tolist() == [0, 0, 0, 0, 1]
    values, off = ladder_values(np.array([1.0, 39.0, 40.0, 2.5]), "ladder_index", LADDER)
    assert values[:2].tolist() == [13.0, 51.0] and off.tolist() == [0, 0, 1, 1]
    clash = layout(tmp_path, value_kind="ladder_index", missing_codes=(0.0, 5.0))
    with pytest.raises(VvcjndError, match=r"labels.mat.missing_codes: \[5.0\]"):
        read_mat_samples(manifest, clash, LADDER)


def write_tidy(path, rows, columns=("image_id", "subject_id", "jnd_qp")):
    frame = pd.DataFrame(rows, columns=list(columns))
    frame.to_csv(path, sep="," if path.suffix == ".csv" else "\t", index=False)


def full_tidy_rows(images="abcde", subjects=10, qp=30):
    return [(image, f"p{s}", qp) for image in images for s in range(subjects)]


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_tidy_table_is_read_with_missing_samples(tmp_path, manifest, suffix):
    rows = full_tidy_rows()
    rows[3] = ("a", "p3", "")
    path = tmp_path / f"labels{suffix}"
    write_tidy(path, rows)
    samples = read_tidy_samples(path, manifest, LADDER)
    assert len(samples) == 50 and samples["jnd_qp"].isna().sum() == 1
    assert samples.loc[samples["image_id"] == "e", "session"].unique().tolist() == [2]
    with pytest.raises(
        VvcjndError, match=r"'a' \(first sample: labels.* line 2\) has 9 valid sample"
    ):
        select_labelled(samples, manifest, exclude=[], min_subjects=10)
    assert len(select_labelled(samples, manifest, exclude=[], min_subjects=9)) == 50


def test_tidy_errors_name_the_line(tmp_path, manifest):
    path = tmp_path / "labels.tsv"
    cases = [
        (
            full_tidy_rows() + [("zebra", "p1", 30)],
            "line 52: image_id 'zebra' is not in the manifest",
        ),
        (
            full_tidy_rows()[:-1] + [("e", "p8", 30)],
            r"'e' and subject 'p8' .* \(lines \[50, 51\]\)",
        ),
        ([("a", "p1", 12)] + full_tidy_rows()[1:], "line 2: jnd_qp '12' is not a ladder QP"),
        ([("a", "p1", "x")] + full_tidy_rows()[1:], "line 2: jnd_qp 'x' is not a ladder QP"),
    ]
    for rows, message in cases:
        write_tidy(path, rows)
        with pytest.raises(VvcjndError, match=message):
            read_tidy_samples(path, manifest, LADDER)
    rows = [(*row, 1 if row[0] in SESSIONS[1] else 2) for row in full_tidy_rows()]
    rows[-1] = ("e", "p9", 30, 1)
    write_tidy(path, rows, ("image_id", "subject_id", "jnd_qp", "session"))
    with pytest.raises(VvcjndError, match="line 51: session '1' of image 'e' differs .* 2"):
        read_tidy_samples(path, manifest, LADDER)
    write_tidy(path, [("a", 30)], ("image_id", "jnd_qp"))
    with pytest.raises(VvcjndError, match=r"lacks column\(s\) \['subject_id'\]"):
        read_tidy_samples(path, manifest, LADDER)


def test_every_image_is_labelled_or_excluded(tmp_path, manifest):
    path = tmp_path / "labels.tsv"
    write_tidy(path, full_tidy_rows("abcd"))
    samples = read_tidy_samples(path, manifest, LADDER)
    with pytest.raises(VvcjndError, match=r"image\(s\) \['e'\] have no samples"):
        select_labelled(samples, manifest, exclude=[], min_subjects=10)
    kept = select_labelled(samples, manifest, exclude=["e", "a"], min_subjects=10)
    assert kept["image_id"].unique().tolist() == ["b", "c", "d"]
    with pytest.raises(VvcjndError, match=r"labels.exclude: image id\(s\) \['f'\]"):
        select_labelled(samples, manifest, exclude=["f"], min_subjects=10)


def test_numeric_looking_image_ids_stay_text(tmp_path):
    write_manifest(tmp_path / "manifest.tsv", {1: ["007", "010"]})
    manifest = read_manifest(tmp_path / "manifest.tsv")
    assert manifest["image_id"].tolist() == ["007", "010"]
    path = tmp_path / "labels.tsv"
    write_tidy(path, full_tidy_rows(["007", "010"]))
    samples = read_tidy_samples(path, manifest, LADDER)
    assert samples["image_id"].unique().tolist() == ["007", "010"]
