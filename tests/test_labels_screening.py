"""Labels stage: observer screening, SUR curves and the JND point on hand-computed examples."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.labels_fixtures import LADDER
from vvcjnd.labels.jnd import (
    JndRule,
    jnd_point,
    label_images,
    snap_to_ladder,
    sur_empirical,
    sur_normal,
)
from vvcjnd.labels.screening import ScreeningRules, boxplot_outliers, bt500_band, screen
from vvcjnd.labels.simulate import PanelSettings, simulate_session


def tidy(matrix: np.ndarray) -> pd.DataFrame:
    """Images x subjects matrix -> tidy samples (images i0.., subjects s00..)."""
    n_images, n_subjects = matrix.shape
    return pd.DataFrame(
        {
            "image_id": np.repeat([f"i{i}" for i in range(n_images)], n_subjects),
            "session": 1,
            "subject_id": [f"s{j:02d}" for j in range(n_subjects)] * n_images,
            "jnd_qp": matrix.ravel().astype(float),
            "origin": "test",
        }
    )


def test_boxplot_rule_by_hand():
    flagged, low, high = boxplot_outliers(np.array([10, 20, 21, 22, 23, 24, 40.0]), 1.5)
    assert (low, high) == (16.0, 28.0)  # Q1 20.5, Q3 23.5 (linear interpolation), IQR 3
    assert flagged.tolist() == [True, False, False, False, False, False, True]


def test_bt500_kurtosis_picks_k():
    mean, half_width, kurtosis = bt500_band(np.array([20, 22, 22, 24, 24, 24, 26, 26, 28.0]))
    assert mean == 24 and kurtosis == pytest.approx(2.25)  # m4 / m2^2 = 64 / (48/9)^2
    assert half_width == pytest.approx(2 * math.sqrt(6))  # k = 2, s = sqrt(48 / 8)
    _, half_width, kurtosis = bt500_band(np.array([20, 22, 24, 26.0]))
    assert kurtosis == pytest.approx(1.64)  # platykurtic: outside 2..4
    assert half_width == pytest.approx(math.sqrt(20) * math.sqrt(20 / 3))
    _, half_width, kurtosis = bt500_band(np.array([30.0, 30.0]))
    assert half_width == 0 and math.isnan(kurtosis)


def test_bt500_rejects_scattered_observers_and_keeps_biased_ones():
    honest = 30 + np.array([-2, -1, -1, 0, 0, 0, 1, 1, 2, 0.0])
    matrix = np.tile(honest, (20, 1))
    scattered = np.where(np.arange(20) % 2 == 0, 13.0, 51.0)  # half far low, half far high
    biased = np.full(20, 51.0)  # always far high: consistent, so kept (BT.500's balance test)
    matrix = np.column_stack([matrix, scattered, biased])
    samples, subjects = screen(tidy(matrix), ScreeningRules())
    by_subject = subjects.set_index("subject_id")
    assert by_subject["rejected"].tolist() == [False] * 10 + [True, False]
    assert by_subject.loc["s10", ["n_high", "n_low", "n_rated"]].tolist() == [10, 10, 20]
    assert by_subject.loc["s11", ["n_high", "n_low", "balance"]].tolist() == [20, 0, 1.0]
    status = samples.groupby("subject_id")["status"].unique().map(list)
    assert status["s00"] == ["used"] and status["s10"] == ["rejected_subject"]
    assert status["s11"] == ["outlier"]  # its samples still leave as box-plot outliers
    assert "P=10 Q=10 of J=20" in samples.loc[samples["subject_id"] == "s10", "reason"].iloc[0]
    off = screen(tidy(matrix), ScreeningRules(subject_rejection="none", sample_outliers="none"))
    assert (off[0]["status"] == "used").all()


def test_screening_removes_planted_careless_observers():
    caught = {"screened": 0, "all": 0}
    false_rejections, planted = 0, 0
    for seed in range(5):
        rng = np.random.default_rng([seed, 99])
        latent = rng.uniform(22, 40, 50)
        matrix, panel = simulate_session(latent, LADDER, PanelSettings(), rng)
        careless = panel["careless"].to_numpy()
        planted += int(careless.sum())
        for statistics in caught:
            _, subjects = screen(tidy(matrix), ScreeningRules(bt500_statistics=statistics))
            rejected = subjects["rejected"].to_numpy()
            caught[statistics] += int((rejected & careless).sum())
            if statistics == "screened":
                false_rejections += int((rejected & ~careless).sum())
    assert planted == 15  # 15 % of 20 observers, 5 panels
    assert caught["screened"] >= 13 and false_rejections <= 1
    assert caught["all"] < caught["screened"] / 2  # BT.500 statistics inflated by the careless


def test_missing_samples_are_kept_out_and_counted():
    matrix = np.tile(30 + np.array([-1, 0, 1, 0.0]), (3, 1))
    matrix[0, 2] = np.nan
    samples, subjects = screen(tidy(matrix), ScreeningRules())
    assert samples["status"].value_counts().to_dict() == {"used": 11, "missing": 1}
    assert subjects.set_index("subject_id").loc["s02", "n_rated"] == 2


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(LADDER), min_size=1, max_size=30))
def test_sur_curves_are_monotone_and_bounded(values):
    values = np.array(values, dtype=float)
    for curve in (
        sur_empirical(values, LADDER),
        sur_normal(values.mean(), values.std(ddof=1) if len(values) > 1 else 0.0, LADDER),
    ):
        assert np.all(np.diff(curve) <= 1e-12) and curve.min() >= 0 and curve.max() <= 1
    assert sur_empirical(values, LADDER)[-1] == 0  # nobody is satisfied beyond the ladder's end


SAMPLES = np.array([20, 22, 24, 26.0])  # mean 23, median 23, sd sqrt(20 / 3) = 2.582


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (JndRule(method="mean"), 23),
        (JndRule(method="median"), 23),
        (JndRule(method="sur", p=0.75, sur_curve="empirical"), 20),  # SUR(20) = 3/4
        (JndRule(method="sur", p=0.5, sur_curve="empirical"), 22),  # SUR(22) = 2/4
        (JndRule(method="sur", p=0.75, sur_curve="normal"), 21),  # 23 - 0.6745 * 2.582 = 21.26
        (JndRule(method="sur", p=0.75, sur_curve="normal", rounding="ceil"), 22),
        (JndRule(method="sur", p=0.75, sur_curve="normal", rounding="floor"), 21),
    ],
)
def test_jnd_point_by_hand(rule, expected):
    assert jnd_point(SAMPLES, LADDER, rule) == expected


def test_snapping_rule():
    assert snap_to_ladder(21.5, LADDER, "nearest") == 21  # ties go to the lower QP
    assert snap_to_ladder(21.51, LADDER, "nearest") == 22
    odd = list(range(13, 52, 2))
    assert snap_to_ladder(22.0, odd, "nearest") == 21
    assert snap_to_ladder(22.0, odd, "ceil") == 23 and snap_to_ladder(22.0, odd, "floor") == 21
    assert snap_to_ladder(5.0, LADDER, "floor") == 13 and snap_to_ladder(60.0, LADDER, "ceil") == 51
    assert jnd_point(np.array([30.0, 31.0]), LADDER, JndRule(method="median")) == 30  # 30.5


def test_label_table_columns_and_values():
    used = tidy(np.vstack([SAMPLES, SAMPLES + 10]))
    jnd, sur = label_images(used, LADDER, JndRule(method="mean"), "human")
    contract = "image_id session n_used mean_qp std_qp jnd_qp jnd_ci_low jnd_ci_high method"
    contract += " label_source"
    assert list(jnd.columns) == contract.split()
    assert jnd["jnd_qp"].tolist() == [23, 33] and jnd["n_used"].tolist() == [4, 4]
    assert jnd["std_qp"].iloc[0] == pytest.approx(math.sqrt(20 / 3))
    assert len(sur) == 2 * len(LADDER)
    first = sur[sur["image_id"] == "i0"].set_index("qp")
    assert first.loc[23, "sur_empirical"] == 0.5 and first.loc[23, "sur_normal"] == 0.5
