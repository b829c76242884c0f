"""The uncertainty parts of the labels stage end to end: intervals in jnd.tsv, method mle, the
labels_observers tables and figures, a simulated panel fitted to a dataset, trial fits."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.labels_fixtures import (
    LADDER,
    session_names,
    set_labels,
    spread_latents,
    write_manifest,
    write_quality,
)
from vvcjnd.config import validate_config
from vvcjnd.errors import VvcjndError
from vvcjnd.io import read_table, write_table
from vvcjnd.labels.jnd import SUR_COLUMNS
from vvcjnd.labels.psychometric import build_trial_fits, fit_psychometric
from vvcjnd.labels.simulate import PanelSettings, simulate_from_files
from vvcjnd.labels.stage import build_labels
from vvcjnd.labels.subjects import panel_from_samples
from vvcjnd.labels.uncertainty import build_observers
from vvcjnd.subjective.procedures import Answer, start
from vvcjnd.subjective.server import create_app
from vvcjnd.subjective.stimuli import load_stimuli
from vvcjnd.subjective.store import Store

from .test_subjective_fixtures import LEVELS, VIEWING, make_stimuli, observe

PNG = b"\x89PNG\r\n\x1a\n"


def label_outputs(directory) -> dict:
    paths = {name: directory / f"{name}.tsv" for name in ("jnd", "samples", "screening", "sur")}
    return {**paths, "record": directory / "labels.json"}


def observer_outputs(directory) -> dict:
    names = {"subjects": "observers.tsv", "images": "latent_jnd.tsv"}
    names |= {"planning": "subjects_needed.tsv", "record": "observers.json"}
    names |= {"observers_figure": "observers.png", "planning_figure": "subjects_needed.png"}
    return {key: directory / name for key, name in names.items()}


@pytest.fixture
def simulated(tmp_path, config):
    """2 sessions of 10 images, latents 22..40, the default simulated panel written."""
    manifest = write_manifest(tmp_path / "manifest.tsv", session_names(2, 10))
    write_quality(tmp_path / "quality.tsv", manifest, spread_latents(list(manifest["image_id"])))

    def run(config, name="simulated"):
        simulate_from_files(
            tmp_path / name, tmp_path / "quality.tsv", tmp_path / "manifest.tsv", LADDER,
            PanelSettings.from_config(config["labels"]["simulate"]), config["seed"],
        )  # fmt: skip
        return tmp_path / name

    return tmp_path, run


def test_jnd_table_carries_intervals_and_sur_bands(simulated, config):
    directory, run = simulated
    set_labels(config, uncertainty={"bootstrap": 300})
    out = directory / "labels"
    tables = build_labels(config, directory / "manifest.tsv", label_outputs(out), run(config))
    jnd = tables.jnd
    assert (jnd["jnd_ci_low"] < jnd["jnd_ci_high"]).all()
    # the label lies within half a ladder step of its (real-valued) interval
    assert (
        (jnd["jnd_qp"] >= jnd["jnd_ci_low"] - 0.5) & (jnd["jnd_qp"] <= jnd["jnd_ci_high"] + 0.5)
    ).all()
    sur = read_table(out / "sur.tsv")
    assert list(sur.columns) == SUR_COLUMNS
    assert (sur["sur_ci_low"] <= sur["sur_normal"] + 1e-9).mean() > 0.95
    assert (sur["sur_normal"] <= sur["sur_ci_high"] + 1e-9).mean() > 0.95


def test_mle_method_labels_with_the_latent_jnd(simulated, config):
    directory, run = simulated
    set_labels(config, jnd={"method": "mle"}, uncertainty={"bootstrap": 200})
    out = directory / "labels"
    tables = build_labels(config, directory / "manifest.tsv", label_outputs(out), run(config))
    jnd = tables.jnd
    assert set(jnd["method"]) == {"mle"} and set(jnd["jnd_qp"]) <= set(LADDER)
    latent = spread_latents(list(jnd["image_id"]))
    error = jnd["jnd_qp"] - jnd["image_id"].map(latent)
    assert error.abs().max() <= 2.5  # the model's latent JND estimates the latent threshold
    assert (jnd["jnd_ci_low"] < jnd["jnd_ci_high"]).all()
    # the observer model of the same samples gives the same latent JNDs and intervals
    observed = observer_outputs(directory / "observers")
    fit = build_observers(
        {"samples": out / "samples.tsv", "jnd": out / "jnd.tsv"}, observed,
        config["labels"]["jnd"], config["labels"]["uncertainty"], LADDER, config["seed"],
    )  # fmt: skip
    images = fit.images.set_index("image_id")
    np.testing.assert_allclose(images.loc[jnd["image_id"], "latent_ci_low"], jnd["jnd_ci_low"])


def test_observers_rule_writes_tables_and_figures(simulated, config):
    directory, run = simulated
    set_labels(config, uncertainty={"bootstrap": 200, "planning": {"panels": 100}})
    out = directory / "labels"
    build_labels(config, directory / "manifest.tsv", label_outputs(out), run(config))
    observed = observer_outputs(directory / "observers")
    inputs = {"samples": out / "samples.tsv", "jnd": out / "jnd.tsv"}
    args = (config["labels"]["jnd"], config["labels"]["uncertainty"], LADDER, config["seed"])
    build_observers(inputs, observed, *args)
    subjects = read_table(observed["subjects"])
    screening = read_table(out / "screening.tsv")
    assert set(subjects["subject_id"]) == set(screening.loc[~screening["rejected"], "subject_id"])
    assert (subjects["inconsistency_ci_low"] < subjects["inconsistency_qp"]).all()
    planning = read_table(observed["planning"])
    assert planning["n_subjects"].tolist() == list(range(5, 41))
    assert planning["width_mean"].iloc[0] > planning["width_mean"].iloc[-1]
    record = json.loads(observed["record"].read_text())
    assert record["converged"] and record["label_source"] == "simulated"
    assert all(observed[k].read_bytes()[:8] == PNG for k in ("observers_figure", "planning_figure"))
    first = {key: path.read_bytes() for key, path in observed.items()}
    build_observers(inputs, observed, *args)
    assert first == {key: path.read_bytes() for key, path in observed.items()}  # byte-stable
    bad = dict(
        config["labels"]["uncertainty"],
        planning={"min_subjects": 9, "max_subjects": 8, "panels": 50},
    )
    with pytest.raises(
        VvcjndError, match="planning.min_subjects: 9 is greater than max_subjects: 8"
    ):
        build_observers(inputs, observed, config["labels"]["jnd"], bad, LADDER, 1)


def test_simulated_panel_fitted_to_a_dataset(simulated, config):
    """A 'real' dataset (bias sd 3, noise sd 1, 20 % careless); a panel fitted to its samples
    takes its spreads."""
    directory, run = simulated
    set_labels(
        config, simulate={"bias_sd": 3.0, "noise_sd": 1.0, "careless_share": 0.2},
        uncertainty={"bootstrap": 100},
    )  # fmt: skip
    out = directory / "real"
    build_labels(config, directory / "manifest.tsv", label_outputs(out), run(config, "real_raw"))
    fitted = panel_from_samples(out / "samples.tsv", LADDER)
    assert fitted["bias_sd"] == pytest.approx(3.0, abs=1.2)
    assert fitted["noise_sd"] == pytest.approx(1.0, abs=0.5)
    screening = read_table(out / "screening.tsv")
    assert fitted["careless_share"] >= screening["rejected"].mean()  # + erratic, kept ones
    assert fitted["careless_share"] == pytest.approx(0.2, abs=0.1)

    set_labels(config, simulate={"fit_from": str(out / "samples.tsv")})
    panel = read_table(run(config, "fitted") / "panel.tsv")
    assert panel["bias_qp"].std() == pytest.approx(fitted["bias_sd"], abs=1.2)
    expected = int(np.floor(fitted["careless_share"] * 20 + 0.5))
    assert panel.groupby("session")["careless"].sum().tolist() == [expected, expected]

    with pytest.raises(VvcjndError, match="fit_from: .*lacks column"):
        panel_from_samples(out / "jnd.tsv", LADDER)
    with pytest.raises(VvcjndError, match="fit_from: .*does not exist"):
        panel_from_samples(directory / "nothing.tsv", LADDER)


def bisection_trials(seed: int, images: int = 12, subjects: int = 20, noise: float = 1.0):
    """Data trials of noisy observers in a bisection (the test's procedure), the truth."""
    generator = np.random.default_rng(seed)
    latent = generator.uniform(22, 40, images)
    bias = generator.normal(0, 1.5, subjects)
    rows, truth, ends = [], [], []
    for j in range(images):
        for i in range(subjects):
            threshold = latent[j] + bias[i]
            state = start("bisection", len(LADDER))
            while not state.done:
                level = state.next_level()
                noticed = LADDER[level] >= threshold + generator.normal(0, noise)
                answer = Answer.DIFFERENT if noticed else Answer.SAME
                rows.append(
                    (f"p{i:02d}", "data", f"im{j:02d}", 1, level, LADDER[level], answer.value)
                )
                state = state.record(level, answer)
            truth.append((f"im{j:02d}", f"p{i:02d}", threshold))
            ends.append((f"im{j:02d}", f"p{i:02d}", LADDER[state.result().level_index]))
        rows.append(("p00", "trap_same", f"im{j:02d}", 1, None, None, "same"))
    columns = ["subject_id", "kind", "image_id", "session", "level_index", "level", "answer"]
    trials = pd.DataFrame(rows, columns=columns)
    truth = pd.DataFrame(truth, columns=["image_id", "subject_id", "true_qp"])
    ends = pd.DataFrame(ends, columns=["image_id", "subject_id", "jnd_qp"])
    return trials, latent, truth, ends


def test_psychometric_fits_of_simulated_bisection_trials(tmp_path):
    trials, latent, truth, ends = bisection_trials(4)
    images, subjects = fit_psychometric(trials, LADDER)
    assert images["converged"].all() and (images["n_subjects"] == 20).all()
    # the pooled PSE estimates the image's mean threshold; its spread holds the bias sd
    mean_threshold = truth.groupby("image_id")["true_qp"].mean()
    error = images.set_index("image_id")["pse_qp"] - mean_threshold
    assert error.abs().mean() < 0.8
    assert images["spread_qp"].median() == pytest.approx(np.hypot(1.5, 1.0), abs=0.8)
    merged = subjects.merge(truth, on=["image_id", "subject_id"]).merge(
        ends, on=["image_id", "subject_id"]
    )
    assert len(merged) == 12 * 20 and (merged["n_trials"] >= 5).all()
    # thresholds from all trials are at least as close to the truth as end point - 0.5
    fit_error = (merged["threshold_qp"] - merged["true_qp"]).abs().mean()
    end_error = (merged["jnd_qp"] - 0.5 - merged["true_qp"]).abs().mean()
    assert fit_error < 1.2 and fit_error <= end_error + 0.1
    again = fit_psychometric(trials, LADDER)
    pd.testing.assert_frame_equal(again[1], subjects)

    # the rule's function on a trials.tsv and a samples.tsv
    write_table(tmp_path / "trials.tsv", trials)
    write_table(tmp_path / "samples.tsv", ends.assign(status="used"))
    outputs = {name: tmp_path / f"trial_{name}.tsv" for name in ("images", "subjects")}
    outputs["figure"] = tmp_path / "psychometric.png"
    build_trial_fits(tmp_path / "trials.tsv", tmp_path / "samples.tsv", outputs, LADDER)
    table = read_table(outputs["subjects"])
    assert table["end_point_qp"].tolist() == merged_ends(subjects, ends)
    assert set(table["sample_status"]) == {"used"}
    assert outputs["figure"].read_bytes()[:8] == PNG


def merged_ends(subjects, ends):
    return subjects.merge(ends, on=["image_id", "subject_id"], how="left")["jnd_qp"].tolist()


def test_trial_fits_read_the_test_database(tmp_path):
    """A whole test with 4 deterministic observers through the server's API; the fits read
    the trials from its database."""
    stimuli = make_stimuli(tmp_path, training_trials=1, break_every=4)
    checked = load_stimuli(stimuli.table, stimuli.plan)
    store = Store(stimuli.db, checked.plan, checked.plan_text)
    client = TestClient(create_app(store, checked, "token"), raise_server_exceptions=False)
    try:
        for subject in ("p1", "p2", "p3", "p4"):
            client.post("/api/subjects", json={"subject_id": subject})
            client.post(f"/api/subjects/{subject}/consent")
            client.post(f"/api/subjects/{subject}/viewing", json=VIEWING)
            while not (trial := client.get(f"/api/subjects/{subject}/trial").json())["done"]:
                left, right = (client.get(trial["images"][k]).content for k in ("left", "right"))
                url = f"/api/subjects/{subject}/trials/{trial['trial_id']}/answer"
                client.post(url, json={"answer": observe(stimuli, left, right), "response_ms": 1})
    finally:
        store.close()
    config = validate_config(
        {
            "encode": {"qp": {"min": LEVELS[0], "max": LEVELS[-1]}},
            "labels": {"source": "test", "test": {"path": str(stimuli.db)}, "min_subjects": 4},
        }
    )
    out = tmp_path / "labels"
    build_labels(config, stimuli.manifest, label_outputs(out))
    outputs = {name: tmp_path / f"trial_{name}.tsv" for name in ("images", "subjects")}
    outputs["figure"] = tmp_path / "psychometric.png"
    images, subjects = build_trial_fits(stimuli.db, out / "samples.tsv", outputs, LEVELS)
    assert len(images) == 3 and (images["n_subjects"] == 4).all()
    assert len(subjects) == 12 and subjects["end_point_qp"].notna().all()
    # a deterministic observer's threshold lies between the last 'same' and the first
    # 'different' level: within one step below the end point (at or below the mildest level)
    found = subjects["end_point_qp"] > LEVELS[0]
    low = subjects["end_point_qp"] - 1 - 1e-9
    assert (subjects.loc[found, "threshold_qp"] >= low[found]).all()
    assert (subjects["threshold_qp"] <= subjects["end_point_qp"] + 1e-9).all()


def test_psychometric_input_errors():
    trials, _, _, _ = bisection_trials(1, images=2, subjects=3)
    with pytest.raises(VvcjndError, match=r"lacks column\(s\) \['answer'\]"):
        fit_psychometric(trials.drop(columns="answer"), LADDER)
    wrong = trials.copy()
    wrong.loc[0, "answer"] = "maybe"
    with pytest.raises(VvcjndError, match="answer 'maybe' is neither"):
        fit_psychometric(wrong, LADDER)
    wrong = trials.copy()
    wrong.loc[0, "level"] = 99
    with pytest.raises(VvcjndError, match="level '99.0' is not a QP of the ladder 13..51"):
        fit_psychometric(wrong, LADDER)
