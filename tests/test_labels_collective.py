"""A collective QUEST+ test's labels reach jnd.tsv: real server (FastAPI's test client), real
database, the label stage reading it; the rules of vvcjnd.labels.collective on known
curves; a procedure that is not the database's is refused; the DAG plans no per-subject rule.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml
from fastapi.testclient import TestClient

from vvcjnd.config import validate_config
from vvcjnd.errors import VvcjndError
from vvcjnd.io import read_table
from vvcjnd.labels.collective import curve_moments, rule_levels, weighted_quantiles
from vvcjnd.labels.figures import write_figures
from vvcjnd.labels.jnd import JndRule
from vvcjnd.labels.stage import build_labels
from vvcjnd.subjective.server import create_app
from vvcjnd.subjective.stimuli import load_stimuli
from vvcjnd.subjective.store import Store

from .conftest import REPO
from .test_subjective_api import TOKEN, begin, expected_jnd, play
from .test_subjective_fixtures import LEVELS, make_stimuli

SUBJECTS = 4


@pytest.fixture(scope="module")
def collective_db(tmp_path_factory):
    """A finished collective test of four deterministic observers (thresholds THRESHOLDS)."""
    root = tmp_path_factory.mktemp("collective")
    stimuli = make_stimuli(
        root, training_trials=0, procedure="quest_collective", traps={"rate": 0.0}
    )
    checked = load_stimuli(stimuli.table, stimuli.plan)
    store = Store(stimuli.db, checked.plan, checked.plan_text)
    try:
        client = TestClient(create_app(store, checked, TOKEN))
        for number in range(SUBJECTS):
            begin(client, f"s{number}")
            assert play(client, stimuli, f"s{number}") == 3 * 4  # collective_trials 4 an image
    finally:
        store.close()
    return stimuli


def labels_run(stimuli, out, procedure="quest_collective", **labels):
    config = validate_config(
        {
            "encode": {"qp": {"min": LEVELS[0], "max": LEVELS[-1]}},
            "labels": {"source": "test", "test": {"path": str(stimuli.db)}, **labels},
            "subjective": {"procedure": procedure},
        }
    )
    outputs = {name: out / f"{name}.tsv" for name in ("jnd", "samples", "screening", "sur")}
    outputs["record"] = out / "labels.json"
    build_labels(config, stimuli.manifest, outputs)
    return outputs


def test_collective_labels_reach_jnd_tsv(collective_db, tmp_path):
    outputs = labels_run(collective_db, tmp_path, min_subjects=SUBJECTS)
    jnd = read_table(outputs["jnd"]).set_index("image_id")
    assert jnd["jnd_qp"].astype(int).to_dict() == expected_jnd()  # as bisection labels them
    assert (jnd["n_used"] == SUBJECTS).all() and set(jnd["label_source"]) == {"human"}
    assert (jnd["jnd_ci_low"] <= jnd["jnd_qp"]).all() and (
        jnd["jnd_qp"] <= jnd["jnd_ci_high"]
    ).all()
    assert (abs(jnd["mean_qp"] - jnd["jnd_qp"]) < 0.5).all()
    sur = read_table(outputs["sur"])
    for image, curve in sur.groupby("image_id"):
        fitted = curve["sur_normal"].astype(float)
        assert fitted.is_monotonic_decreasing, image
        band = curve[["sur_ci_low", "sur_ci_high"]].astype(float)
        assert (band["sur_ci_low"] <= band["sur_ci_high"]).all() and band.stack().between(
            0, 1
        ).all()
        first = expected_jnd()[image]
        seen = curve.dropna(subset=["sur_empirical"])  # deterministic observers: 1 below, 0 from
        assert (seen["sur_empirical"] == (seen["qp"] < first)).all()
    assert read_table(outputs["samples"]).empty and read_table(outputs["screening"]).empty
    record = json.loads(outputs["record"].read_text())
    assert record["counts"]["images"] == 3 and record["label_source"] == "human"
    figures = {name: tmp_path / f"{name}.png" for name in ("sur", "histogram", "offsets")}
    write_figures(outputs, figures, LEVELS)  # rule labels_figures, on the empty sample tables
    assert all(path.stat().st_size > 0 for path in figures.values())


def test_more_subjects_than_answered_are_asked_for_by_name(collective_db, tmp_path):
    with pytest.raises(
        VvcjndError, match="image 'alpha' has answers of 4 subject.*min_subjects = 5"
    ):
        labels_run(collective_db, tmp_path, min_subjects=5)


def test_the_configured_procedure_must_be_the_databases(collective_db, tmp_path):
    with pytest.raises(VvcjndError, match="planned with procedure 'quest_collective'.*'bisection'"):
        labels_run(collective_db, tmp_path, procedure="bisection", min_subjects=SUBJECTS)
    assert not (tmp_path / "jnd.tsv").exists()


def test_mle_needs_samples_and_says_so(collective_db, tmp_path):
    with pytest.raises(VvcjndError, match="labels.jnd.method: 'mle' needs per-subject samples"):
        labels_run(collective_db, tmp_path, min_subjects=SUBJECTS, jnd={"method": "mle"})


def test_rules_on_known_curves():
    ladder = [20, 22, 24, 26]
    sur = np.array([[1.0, 0.8, 0.3, 0.1], [0.9, 0.6, 0.5, 0.4]])  # second never below 0.25
    assert rule_levels(sur, ladder, JndRule(p=0.75)).tolist() == [24, 22]
    assert rule_levels(sur, ladder, JndRule(p=0.25)).tolist() == [26, 26]
    assert rule_levels(sur, ladder, JndRule(method="median")).tolist() == [24, 24]
    # first-noticeable masses of the first curve: 0, 0.2, 0.5, 0.3 (0.2 + never 0.1): mean 24.2
    assert rule_levels(sur[:1], ladder, JndRule(method="mean")).tolist() == [24]
    mean, sd = curve_moments(sur[0], ladder)
    assert mean == pytest.approx(24.2)
    assert sd == pytest.approx(np.sqrt(0.2 * 2.2**2 + 0.5 * 0.2**2 + 0.3 * 1.8**2))


def test_weighted_quantiles_match_repeated_values():
    values = np.array([3.0, 1.0, 2.0, 5.0])
    weights = np.array([1.0, 2.0, 1.0, 0.0])  # as 1, 1, 2, 3 unweighted
    assert weighted_quantiles(values, weights, [0.25, 0.5, 0.75, 1.0]).tolist() == [1, 1, 2, 3]
    columns = weighted_quantiles(np.stack([values, -values], axis=1), weights, [0.5])
    assert columns.tolist() == [[1.0, -2.0]]


def test_the_dag_plans_no_per_subject_rule_for_a_collective_test(tmp_path):
    database = tmp_path / "test.sqlite"
    database.write_bytes(b"")  # planning only: the file must exist, its content is not read
    requests = []
    for procedure in ("bisection", "quest_collective"):
        config = yaml.safe_load((REPO / "config.yaml").read_text())
        config["labels"]["source"] = "test"
        config["labels"]["test"] = {"path": str(database)}
        config["subjective"] = {**config.get("subjective", {}), "procedure": procedure}
        path = tmp_path / f"{procedure}.yaml"
        path.write_text(yaml.safe_dump(config))
        requests.append({"configfile": str(path)})
    result = subprocess.run(
        [sys.executable, str(REPO / "tests" / "plan_jobs.py"), str(tmp_path / "work")],
        input=json.dumps(requests), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    bisection, collective = (json.loads(line) for line in result.stdout.splitlines())
    assert "error" not in bisection and "error" not in collective, (bisection, collective)
    assert bisection["labels_observers"] == bisection["labels_trials"] == 1
    assert bisection["labels_jnd"] == collective["labels_jnd"] == 1
    assert "labels_observers" not in collective and "labels_trials" not in collective
