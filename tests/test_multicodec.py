"""Several codecs in one DAG and a ladder on a quality scale (JPEG: lower = more distortion)
through every stage: the level axis, BD-rate, and a real Snakemake run whose labels,
patches, training and evaluation are all on a JPEG ladder."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from vvcjnd.colour import luma_uint8
from vvcjnd.config import validate_config
from vvcjnd.distort.codecs import Jpeg
from vvcjnd.images import read_png
from vvcjnd.io import read_table
from vvcjnd.labels.levels import QP_AXIS, LevelAxis
from vvcjnd.labels.stage import build_labels
from vvcjnd.quality.compare import bd_rate, bd_rate_summary, bd_rate_table

from .conftest import REPO, small_run_config
from .labels_fixtures import write_manifest

JPEG_AXIS = LevelAxis(Jpeg.scale)
JPEG_LADDER = {"min": 20, "max": 90, "step": 10}


def test_positions_run_with_distortion_and_tables_hold_levels():
    assert JPEG_AXIS.positions([20, 90, 50]) == [-90, -50, -20]
    assert JPEG_AXIS.stem(-90) == "q090" and QP_AXIS.stem(28) == "qp28"
    table = pd.DataFrame({"image_id": ["a"], "qp": [-60], "jnd_qp": [-50], "std_qp": [2.5],
                          "jnd_ci_low": [-55.0], "jnd_ci_high": [-45.0], "bias_qp": [1.5],
                          "sur_ci_low": [0.2]})  # fmt: skip
    levels = JPEG_AXIS.to_levels(table)
    assert list(levels.columns) == ["image_id", "level", "jnd_level", "std_level", "jnd_ci_low",
                                    "jnd_ci_high", "bias_level", "sur_ci_low"]  # fmt: skip
    row = levels.iloc[0]
    assert (row["level"], row["jnd_level"], row["std_level"]) == (60, 50, 2.5)
    assert (row["jnd_ci_low"], row["jnd_ci_high"]) == (45.0, 55.0)  # ends swapped
    assert row["bias_level"] == -1.5 and row["sur_ci_low"] == 0.2  # a share is no level
    pd.testing.assert_frame_equal(JPEG_AXIS.to_positions(levels), table)
    assert QP_AXIS.to_levels(table) is table and QP_AXIS.to_positions(table) is table


def test_human_jpeg_qualities_become_labels_on_the_quality_scale(tmp_path):
    """A tidy table of JND qualities: the median rule runs toward lower quality, an outlier
    reason quotes qualities, and jnd.tsv holds qualities."""
    write_manifest(tmp_path / "manifest.tsv", {1: ["a", "b"]})
    answers = {"a": [60] * 5 + [50] * 4 + [20], "b": [40] * 6 + [30] * 4}  # a: one outlier at 20
    rows = [(image, f"v{k}", q) for image, qs in answers.items() for k, q in enumerate(qs)]
    pd.DataFrame(rows, columns=["image_id", "subject_id", "jnd_level"]).to_csv(
        tmp_path / "tidy.csv", index=False
    )
    config = validate_config({
        "encode": {"encoder": "jpeg", "jpeg": {"levels": JPEG_LADDER}},
        "labels": {"source": "tidy", "tidy": {"path": str(tmp_path / "tidy.csv")},
                   "min_subjects": 5, "jnd": {"method": "median"},
                   "screening": {"subject_rejection": "none"}},
    })  # fmt: skip
    outputs = {name: tmp_path / f"{name}.tsv" for name in ("jnd", "samples", "screening", "sur")}
    build_labels(config, tmp_path / "manifest.tsv", {**outputs, "record": tmp_path / "labels.json"})
    jnd = read_table(outputs["jnd"]).set_index("image_id")
    assert jnd.loc["a", "jnd_level"] == 60 and jnd.loc["b", "jnd_level"] == 40
    samples = read_table(outputs["samples"])
    outlier = samples[samples["status"] == "outlier"]
    assert list(outlier["jnd_level"]) == [20] and "20 outside [" in outlier["reason"].iloc[0]
    sur = read_table(outputs["sur"])
    assert list(sur.loc[sur["image_id"] == "b", "level"]) == [90, 80, 70, 60, 50, 40, 30, 20]


def _curve(rates, offset_db):
    """Quality-table rows of one image: PSNR-Y 10 log10(bpp) + offset (dB)."""
    rates = np.asarray(rates, float)
    return pd.DataFrame({"bpp": rates, "psnr_y": 10 * np.log10(rates) + offset_db,
                         "ms_ssim": np.nan})  # fmt: skip


def test_bd_rate_of_a_codec_at_half_the_rate_is_minus_50_percent():
    anchor = _curve([0.1, 0.2, 0.4, 0.8, 1.6], 40.0)
    test = _curve([0.05, 0.1, 0.2, 0.4, 0.8, 1.2], 40.0 + 10 * np.log10(2))  # fewer points
    value, overlap, reason = bd_rate(anchor, test, "psnr_y")
    assert value == pytest.approx(-50.0, abs=1e-6) and reason == ""
    assert 0.5 < overlap < 1.0
    no_overlap = bd_rate(anchor, _curve([0.1, 0.2], 80.0), "psnr_y")
    assert np.isnan(no_overlap[0]) and no_overlap[2] == "no shared quality range"
    dented = pd.concat([test, pd.DataFrame({"bpp": [2.0], "psnr_y": [30.0]})])
    assert bd_rate(anchor, dented, "psnr_y")[0] == pytest.approx(-50.0, abs=1e-6)


def test_bd_rate_table_per_image_and_its_summary():
    rows = []
    for image, gain in (("a", 2.0), ("b", 4.0)):
        for codec, factor in (("vvenc", 1.0), ("jpeg", gain)):
            curve = _curve([0.1, 0.2, 0.4, 0.8], 40.0 - 10 * np.log10(factor))
            rows.append(curve.assign(image_id=image, encoder=codec, level=range(4)))
    table = pd.concat(rows, ignore_index=True)
    bd = bd_rate_table(table, "vvenc")
    assert list(bd["codec"].unique()) == ["jpeg"] and list(bd["metric"]) == ["psnr_y"] * 2
    assert bd["bd_rate_percent"].to_numpy() == pytest.approx([100.0, 300.0])
    summary = bd_rate_summary(bd)
    assert summary.iloc[0]["mean_bd_rate_percent"] == pytest.approx(200.0)


def test_a_codec_missing_from_ffmpeg_stops_the_workflow_naming_the_key(tmp_path):
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\necho ' V....D libx264   H.264'\n")
    fake.chmod(0o755)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"encode": {"codecs": ["x265"], "ffmpeg": str(fake)}}))
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--snakefile", str(REPO / "Snakefile"),
         "--directory", str(tmp_path), "--configfile", str(config)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "encode.ffmpeg" in output and "libx265" in output


@pytest.fixture(scope="module")
def jpeg_run(tmp_path_factory):
    """The small run with JPEG as the encoder and VVenC and x265 as further codecs, through
    the ladders and their comparison, the labels, the patches, training and the JND-level
    evaluation (the targets distortion, labels, evaluate_jnd_qp; two epochs)."""
    workdir = tmp_path_factory.mktemp("jpeg-run")
    config = small_run_config()
    config["encode"] = {**config["encode"], "encoder": "jpeg", "codecs": ["vvenc", "x265"],
                        "jpeg": {"levels": JPEG_LADDER}}  # fmt: skip
    config["labels"]["simulate"]["threshold"] = 33.0
    config["train"] = {**config["train"], "epochs": 2, "epochs_constant": 1}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    command = [
        sys.executable, "-m", "snakemake", "distortion", "labels", "evaluate_jnd_qp",
        "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
        "--configfile", str(workdir / "config.yaml"), "--cores", "2", "--quiet", "all",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return workdir / "results", config


@pytest.mark.slow
def test_every_codec_gets_a_ladder_and_the_comparison_tables(jpeg_run):
    results, _ = jpeg_run
    combined = read_table(results / "quality" / "compare" / "quality.tsv")
    assert list(combined["encoder"].unique()) == ["jpeg", "vvenc", "x265"]
    jpeg = combined[combined["encoder"] == "jpeg"]
    assert set(jpeg["scale"]) == {"quality"} and set(jpeg["more_distortion"]) == {"lower"}
    x265 = combined[combined["encoder"] == "x265"]
    assert jpeg["qp"].isna().all() and x265["qp"].notna().all()
    summary = read_table(results / "quality" / "compare" / "bd_rate_summary.tsv")
    psnr = summary[summary["metric"] == "psnr_y"].set_index("codec")["mean_bd_rate_percent"]
    assert set(summary["anchor"]) == {"jpeg"}
    assert psnr["vvenc"] < psnr["x265"] < 0  # VVC beats HEVC beats JPEG at equal PSNR-Y
    assert (results / "quality" / "compare" / "rate_distortion.png").stat().st_size > 10_000


@pytest.mark.slow
def test_labels_on_a_quality_scale_run_the_other_way(jpeg_run):
    results, config = jpeg_run
    record = json.loads((results / "labels" / "labels.json").read_text())
    assert record["codec"] == "jpeg" and record["ladder"] == [90, 80, 70, 60, 50, 40, 30, 20]
    assert record["scale"]["name"] == "quality" and record["scale"]["more_distortion"] == "lower"
    jnd = read_table(results / "labels" / "jnd.tsv")
    assert "jnd_qp" not in jnd and set(jnd["jnd_level"]) <= set(record["ladder"])
    assert (jnd["jnd_ci_low"] <= jnd["jnd_ci_high"]).all()
    # The simulated panel's latent threshold is where PSNR-Y falls through the threshold
    # going down the quality ladder: the quality above it is at least the threshold.
    quality = read_table(results / "quality" / "jpeg.tsv")
    latent = read_table(results / "labels" / "simulated" / "latent.tsv")
    threshold = config["labels"]["simulate"]["threshold"]
    for row in latent.itertuples():
        curve = quality[quality["image_id"] == row.image_id].set_index("level")["psnr_y"]
        above = curve[curve.index >= row.latent_level]
        below = curve[curve.index < row.latent_level]
        assert above.empty or above.min() >= threshold - 1e-6
        assert below.empty or below.max() <= threshold + 1e-6
    sur = read_table(results / "labels" / "sur.tsv")
    first = sur[sur["image_id"] == sur["image_id"].iloc[0]]
    assert list(first["level"]) == record["ladder"]  # least distortion first
    assert np.all(np.diff(first["sur_empirical"].to_numpy()) <= 1e-12)


@pytest.mark.slow
def test_patches_pair_each_image_with_its_jnd_quality_and_the_rest_follows(jpeg_run):
    results, _ = jpeg_run
    index = read_table(results / "patches" / "index.tsv")
    first = index[index["split"] == "train"].iloc[0]
    decoded = read_png(results / "ladder" / "jpeg" / first["image_id"] /
                       f"q{int(first['jnd_level']):03d}.png")  # fmt: skip
    top, left = int(first["top"]), int(first["left"])
    expected = luma_uint8(decoded)[top : top + 64, left : left + 64]
    assert np.array_equal(np.load(results / "patches" / "train_jnd.npy")[first["patch_id"]],
                          expected)  # fmt: skip
    predictions = read_table(results / "evaluate" / "jnd_qp.tsv")
    ladder = set(range(20, 91, 10))
    for column in ("jnd_level", "proposed", "constant", "psnr_threshold"):
        assert set(predictions[column]) <= ladder, column
    assert "mae_level" in read_table(results / "evaluate" / "jnd_qp_summary.tsv")
    assert len(pd.read_csv(results / "train" / "log.csv")) == 2  # the epochs asked for
