"""Protocol planning: the simulated panel through bisection, QUEST+ and collective QUEST+."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from vvcjnd.labels.protocols import (
    COLUMNS,
    PROCEDURES,
    PlanningSettings,
    index_to_qp,
    planning_table,
    write_planning,
)
from vvcjnd.labels.simulate import PanelSettings
from vvcjnd.subjective.quest import QuestSettings

LADDER = list(range(13, 52))
LATENT = np.array([24.3, 31.0, 38.6, 45.2])
SMALL = PlanningSettings(subjects=(3, 6), panels=1)


DEFAULT_PANEL = PanelSettings()


def table(seed=2021, panel=DEFAULT_PANEL, planning=SMALL):
    return planning_table(LATENT, LADDER, panel, QuestSettings(), planning, seed)


def test_table_is_deterministic_from_the_seed_and_complete():
    first = table()
    assert list(first.columns) == COLUMNS
    assert [tuple(r) for r in first[["procedure", "n_subjects"]].to_numpy()] == [
        (p, n) for p in PROCEDURES for n in (3, 6)
    ]
    pd.testing.assert_frame_equal(first, table())
    assert not first.equals(table(seed=7))


def test_trial_counts_and_time_follow_the_procedures():
    rows = table().set_index(["procedure", "n_subjects"])
    for n in (3, 6):
        assert rows.loc[("collective_quest", n), "trials_per_image"] == n * 4
        bisection = rows.loc[("bisection", n), "trials_per_subject_image"]
        assert 1 <= bisection <= math.ceil(math.log2(len(LADDER) + 1))
        assert rows.loc[("quest", n), "trials_per_subject_image"] <= QuestSettings().max_trials
    row = rows.loc[("bisection", 3)]
    assert row["minutes_per_subject"] == pytest.approx(
        row["trials_per_subject_image"] * len(LATENT) * 6.0 / 60
    )


def test_noise_free_observers_give_the_latent_threshold_within_a_step():
    exact = PanelSettings(bias_sd=0.0, noise_sd=0.0, careless_share=0.0)
    rows = table(
        panel=exact, planning=PlanningSettings(subjects=(4,), panels=1, trial_noise_sd=0.0)
    )
    rows = rows.set_index("procedure")
    # bisection: the first ladder QP at or above the latent threshold
    assert rows.loc["bisection", "bias_qp"] == pytest.approx(np.mean(np.ceil(LATENT) - LATENT))
    assert (rows["max_abs_error_qp"] < 1.0).all(), rows


def test_index_to_qp():
    assert index_to_qp(0.0, LADDER) == 13 and index_to_qp(2.5, LADDER) == 15.5
    assert index_to_qp(-1.0, LADDER) == 12 and index_to_qp(39.0, LADDER) == 52
    assert index_to_qp(1.5, [22, 28, 34]) == 31 and index_to_qp(0.3, [30]) == 30


def test_write_planning_reads_the_quality_table(tmp_path):
    manifest = pd.DataFrame({"image_id": ["a", "b"], "session": [1, 1]})
    qps = np.array(LADDER)
    quality = pd.concat(
        [
            pd.DataFrame({"image_id": i, "qp": qps, "vmaf": 100 - (qps - 13) * k})
            for i, k in [("a", 0.5), ("b", 1.0)]
        ]
    )
    quality.to_csv(tmp_path / "quality.tsv", sep="\t", index=False)
    manifest.to_csv(tmp_path / "manifest.tsv", sep="\t", index=False)
    simulate = {
        "metric": "vmaf",
        "threshold": 93.0,
        "bias_sd": 1.5,
        "noise_sd": 2.0,
        "careless_share": 0.15,
    }
    planning = {"subjects": [4, 2], "panels": 1, "seconds_per_trial": 5.0, "trial_noise_sd": 1.0}
    out = write_planning(
        tmp_path / "quality.tsv",
        tmp_path / "manifest.tsv",
        LADDER,
        simulate,
        {"max_trials": 8},
        planning,
        3,
        tmp_path / "p.tsv",
        tmp_path / "p.png",
    )
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list(out["n_subjects"][:2]) == [2, 4] and (out["images"] == 2).all()
    assert (out.loc[out.procedure == "quest", "trials_per_subject_image"] <= 8).all()
