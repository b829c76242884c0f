"""Evaluation: equal-PSNR bisection, pixel VIF, the Table IV layout and JND-QP prediction."""

import numpy as np
import pandas as pd
import pytest
from skimage import data

from vvcjnd.errors import VvcjndError
from vvcjnd.evaluate import equal_psnr, jnd_qp
from vvcjnd.evaluate.baselines import chou_li_1995
from vvcjnd.evaluate.figures import plot_jnd_qp
from vvcjnd.evaluate.report import write_html_table
from vvcjnd.psnr import psnr
from vvcjnd.quality.metrics import vif_pixel


@pytest.fixture(scope="module")
def camera():
    return np.ascontiguousarray(data.camera()[::2, ::2])  # 256x256 uint8


@pytest.mark.parametrize("target", [28.0, 33.3, 41.0])
def test_bisection_reaches_its_target(camera, target):
    perturbation = equal_psnr.random_signs(camera.shape, 1, "cam") * chou_li_1995(camera)
    beta, image, reached = equal_psnr.scale_to_psnr(camera, perturbation, target, 0.01)
    assert abs(reached - target) <= 0.01
    assert reached == pytest.approx(psnr(camera, image))
    assert np.array_equal(image, equal_psnr.inject(camera, perturbation, beta))


def test_bisection_orders_beta_by_target(camera):
    perturbation = equal_psnr.random_signs(camera.shape, 1, "cam") * chou_li_1995(camera)
    betas = [equal_psnr.scale_to_psnr(camera, perturbation, t)[0] for t in (30.0, 35.0, 40.0)]
    assert betas[0] > betas[1] > betas[2] > 0


def test_bisection_rejects_a_perturbation_that_cannot_reach_the_target(camera):
    with pytest.raises(VvcjndError, match="cannot lower the PSNR"):
        equal_psnr.scale_to_psnr(camera, np.zeros(camera.shape), 30.0)


def test_random_signs_are_plus_minus_one_and_seeded():
    signs = equal_psnr.random_signs((50, 60), 3, "a")
    assert set(np.unique(signs)) == {-1.0, 1.0}
    assert np.array_equal(signs, equal_psnr.random_signs((50, 60), 3, "a"))
    assert not np.array_equal(signs, equal_psnr.random_signs((50, 60), 3, "b"))


def test_vif_of_an_image_with_itself_is_one_and_falls_with_noise(camera):
    rng = np.random.default_rng(0)
    assert vif_pixel(camera, camera) == pytest.approx(1.0, abs=1e-9)
    values = [
        vif_pixel(camera, camera + rng.normal(0, sigma, camera.shape)) for sigma in (2, 8, 30)
    ]
    assert 1.0 > values[0] > values[1] > values[2] > 0.0


def test_evaluate_image_scales_every_model_to_the_proposed_level(camera):
    pristine = camera.astype(np.float64)
    residual = 0.1 * (pristine.mean() - pristine) + 2.0  # a contrast cut and a shift
    settings = {
        "baselines": ["chou_li_1995", "yang_2005_namm", "wu_2017_pc"],
        "target_psnr_db": None,
        "tolerance_db": 0.01,
        "vmaf": False,
        "threads": 1,
    }
    own, equal = equal_psnr.evaluate_image("cam", camera, residual, 5, settings)
    assert [row["model"] for row in own] == ["proposed", *settings["baselines"]]
    target = own[0]["psnr_db"]
    for row in equal:
        assert row["target_psnr_db"] == target
        assert abs(row["psnr_db"] - target) <= 0.01
        assert 0 < row["ssim"] <= 1 and 0 < row["vif"] <= 1 and 0 < row["ms_ssim"] <= 1
        assert np.isnan(row["vmaf"])
    assert equal[0]["beta"] == pytest.approx(1.0, abs=0.05)
    table = equal_psnr.table_iv(pd.DataFrame(equal))
    proposed = table[table["model"] == "proposed"].iloc[0]
    assert proposed["ssim_authors"] == 0.88 and proposed["vif_authors"] == 0.72
    assert proposed["n_images"] == 1 and proposed["ssim"] == pytest.approx(equal[0]["ssim"])
    chou = table[table["model"] == "chou_li_1995"].iloc[0]
    assert np.isnan(chou["ssim_authors"])  # the authors did not report Chou and Li
    assert "Liu 2010" in set(table["row"]) and np.isnan(
        table.loc[table["row"] == "Liu 2010", "ssim"].iloc[0]
    )


def test_network_prediction_picks_the_ladder_qp_of_closest_mse():
    ladder = {20: 4.0, 30: 16.0, 40: 64.0}
    assert jnd_qp.predict_qp_from_network(15.0, ladder) == 30
    assert jnd_qp.predict_qp_from_network(40.0, ladder) == 40  # closer in dB than to 16
    assert jnd_qp.predict_qp_from_network(0.0, ladder) == 20


def synthetic_tables():
    ids = ["a", "b", "c", "d", "e", "f"]
    labels = pd.DataFrame({"image_id": ids, "jnd_qp": [30, 34, 38, 26, 31, 35]})
    splits = pd.DataFrame({"image_id": ids, "split": ["train"] * 3 + ["test"] * 3})
    offsets = {"a": 0.0, "b": 2.0, "c": 4.0, "d": -1.0, "e": 0.0, "f": 3.0}
    rows = [
        {"image_id": i, "qp": qp, "psnr_y": 55.0 - 0.5 * qp + offsets[i]}
        for i in ids
        for qp in range(20, 45)
    ]
    return labels, splits, pd.DataFrame(rows)


def test_jnd_qp_predictions_and_summary():
    labels, splits, quality = synthetic_tables()
    # PSNR at the label: a 40.0, b 40.0, c 40.0 -> threshold 40 dB.
    network_mse = {"d": 10.0, "e": 30.0, "f": 50.0}
    ladder_mse = {qp: 2.0 * qp for qp in range(20, 45)}
    table, threshold = jnd_qp.jnd_qp_predictions(
        labels, splits, quality, network_mse, lambda image_id: ladder_mse
    )
    assert threshold == pytest.approx(40.0)
    assert list(table["image_id"]) == ["d", "e", "f"]
    assert list(table["constant"]) == [34, 34, 34]
    assert list(table["psnr_threshold"]) == [28, 30, 36]  # 55 - qp / 2 + offset = 40
    assert list(table["proposed"]) == [20, 20, 25]
    summary = jnd_qp.prediction_summary(table, jnd_qp.JND_QP_PREDICTORS).set_index("predictor")
    assert summary.loc["constant", "mae_qp"] == pytest.approx((8 + 3 + 1) / 3)
    assert np.isnan(summary.loc["constant", "spearman"])
    assert summary.loc["psnr_threshold", "spearman"] == pytest.approx(1.0)
    assert summary.loc["psnr_threshold", "mae_qp"] == pytest.approx((2 + 1 + 1) / 3)


def test_jnd_qp_predictions_need_training_labels():
    labels, splits, quality = synthetic_tables()
    splits["split"] = "test"
    with pytest.raises(VvcjndError, match="no labelled training image"):
        jnd_qp.jnd_qp_predictions(labels, splits, quality, {}, lambda image_id: {})


def test_stage_drivers_on_real_files(tmp_path, camera):
    """Ladder MSE on the inference grid, the JND-QP tables and the report files, from files."""
    from vvcjnd.images import read_png, write_png
    from vvcjnd.io import write_json, write_table

    rgb = np.repeat(camera[:130, :150, None], 3, axis=2)
    write_png(tmp_path / "cam.png", rgb)
    rng = np.random.default_rng(0)
    for qp in (20, 30, 40):
        noisy = (
            np.clip(rgb + rng.normal(0, qp / 10, rgb.shape[:2] + (1,)), 0, 255)
            .round()
            .astype(np.uint8)
        )
        write_png(tmp_path / f"cam_qp{qp}.png", noisy)
    mse = jnd_qp.ladder_grid_mse(
        tmp_path / "cam.png", lambda qp: tmp_path / f"cam_qp{qp}.png", [20, 30, 40], 64, 50
    )
    assert mse[20] < mse[30] < mse[40] and mse[30] == pytest.approx(9.0, rel=0.2)

    write_table(
        tmp_path / "labels.tsv", pd.DataFrame({"image_id": ["cam", "x"], "jnd_qp": [30, 20]})
    )
    write_table(
        tmp_path / "splits.tsv",
        pd.DataFrame({"image_id": ["cam", "x"], "split": ["test", "train"]}),
    )
    quality = pd.DataFrame(
        [
            {"image_id": i, "qp": qp, "psnr_y": 60.0 - qp}
            for i in ("cam", "x")
            for qp in (20, 30, 40)
        ]
    )
    write_table(tmp_path / "quality.tsv", quality)
    write_json(tmp_path / "cam_summary.json", {"network_mse": mse[30] * 1.05})
    table, summary, threshold = jnd_qp.evaluate_jnd_qp(
        tmp_path / "labels.tsv",
        tmp_path / "splits.tsv",
        tmp_path / "quality.tsv",
        summary_json=lambda image: tmp_path / f"{image}_summary.json",
        pristine_png=lambda image: tmp_path / f"{image}.png",
        ladder_png=lambda image, qp: tmp_path / f"{image}_qp{qp}.png",
        qps=[20, 30, 40],
        size=64,
        stride=50,
    )
    assert threshold == 40.0 and table.iloc[0][
        ["proposed", "constant", "psnr_threshold"]
    ].tolist() == [30, 20, 20]
    assert summary.set_index("predictor").loc["proposed", "mae_qp"] == 0

    write_html_table(tmp_path / "t.html", summary, "T", jnd_qp.jnd_qp_note(threshold))
    page = (tmp_path / "t.html").read_text()
    assert "<table" in page and "40.000 dB" in page
    plot_jnd_qp(table, tmp_path / "jnd_qp.png")
    assert read_png(tmp_path / "jnd_qp.png").shape[2] in (3, 4)
