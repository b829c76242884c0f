"""Issue 17's server side through FastAPI's test client: the flicker rate stored and marked,
"not sure", the settings endpoint, completion codes, the qualification block, the time limit
and the screen requirements; every bad input a clear 4xx with nothing stored."""

from __future__ import annotations

import threading
import time

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from vvcjnd.io import read_table
from vvcjnd.labels.stage import build_labels
from vvcjnd.subjective.export import export
from vvcjnd.subjective.schedule import SLOTS
from vvcjnd.subjective.server import create_app
from vvcjnd.subjective.stimuli import load_stimuli
from vvcjnd.subjective.store import Store

from .test_subjective_api import TOKEN, begin, dump, expected_jnd, labels_config, play
from .test_subjective_fixtures import (
    LEVELS,
    THRESHOLDS,
    VIEWING,
    LiveServer,
    make_stimuli,
    observe,
)

FLICKER_VIEWING = {**VIEWING, "refresh_hz": 60.0}


def client_for(root, **subjective):
    stimuli = make_stimuli(root, training_trials=1, break_every=40, **subjective)
    checked = load_stimuli(stimuli.table, stimuli.plan)
    store = Store(stimuli.db, checked.plan, checked.plan_text)
    return stimuli, store, TestClient(create_app(store, checked, TOKEN))


@pytest.fixture
def flicker(tmp_path):
    stimuli, store, client = client_for(
        tmp_path, display="flicker", not_sure=True, flicker={"rate_hz": 10, "tolerance": 0.2}
    )
    yield stimuli, client
    store.close()


def tidy_jnd(out, samples, manifest, min_subjects: int = 4) -> dict:
    """The label stage on an exported samples.tsv: jnd.tsv as image id -> jnd_qp."""
    outputs = {name: out / f"{name}.tsv" for name in ("jnd", "samples", "screening", "sur")}
    outputs["record"] = out / "labels.json"
    config = labels_config("tidy", samples)
    config["labels"]["min_subjects"] = min_subjects
    build_labels(config, manifest, outputs)
    jnd = read_table(outputs["jnd"])
    assert (jnd["n_used"] == min_subjects).all()
    return dict(zip(jnd["image_id"], jnd["jnd_qp"], strict=True))


def answer_url(client, subject):
    trial = client.get(f"/api/subjects/{subject}/trial").json()
    return f"/api/subjects/{subject}/trials/{trial['trial_id']}/answer", trial


def test_flicker_rate_is_stored_and_an_off_rate_marked(flicker, tmp_path):
    stimuli, client = flicker
    assert begin(client, "f1", FLICKER_VIEWING).json() == {"display": "flicker"}
    for rate in (10.0, 8.1, 7.9, 12.5):  # tolerance 0.2 x 10 Hz: 7.9 and 12.5 are off
        url, trial = answer_url(client, "f1")
        assert trial["display"] == "flicker" and trial["flicker_hz"] == 10
        body = {"answer": "not_sure", "response_ms": 800, "flicker_hz": rate}
        assert client.post(url, json=body).json()["stored"] is True
    trials = read_table(export(stimuli.db, tmp_path / "out")["trials"])
    assert trials["flicker_hz"].astype(float).tolist() == [10.0, 8.1, 7.9, 12.5]
    assert trials["flicker_off"].tolist() == [False, False, True, True]
    assert trials["answer"].tolist() == ["not_sure"] * 4


@pytest.mark.parametrize(
    "body",
    [
        {"answer": "different", "response_ms": 5},  # no measured rate
        {"answer": "different", "response_ms": 5, "flicker_hz": -1},
        {"answer": "different", "response_ms": 5, "flicker_hz": 1e9},
        {"answer": "different", "response_ms": 5, "flicker_hz": "fast"},
        {"answer": "unsure", "response_ms": 5, "flicker_hz": 10},
    ],
)
def test_bad_flicker_answers_are_refused_and_store_nothing(flicker, body):
    stimuli, client = flicker
    begin(client, "f1", FLICKER_VIEWING)
    url, _ = answer_url(client, "f1")
    before = dump(stimuli.db)
    reply = client.post(url, json=body)
    assert reply.status_code == 422 and set(reply.json()) == {"error"}
    assert dump(stimuli.db) == before


@pytest.mark.parametrize(
    ("viewing", "message"),
    [
        (VIEWING, "browser too slow"),  # refresh rate not measured
        ({**VIEWING, "refresh_hz": 15.0}, "browser too slow"),  # under 2 x 10 Hz
        ({**VIEWING, "refresh_hz": 60.0, "window_w": 50}, "window too small"),
    ],
)
def test_flicker_needs_a_fast_enough_browser(flicker, viewing, message):
    _, client = flicker
    reply = begin(client, "f1", viewing)
    assert reply.status_code == 422 and reply.json()["error"].startswith(message)
    assert client.get("/api/subjects/f1/trial").status_code == 409


def test_not_sure_and_flicker_rates_are_refused_where_not_offered(tmp_path):
    stimuli, store, client = client_for(tmp_path)
    try:
        begin(client, "p1")
        url, trial = answer_url(client, "p1")
        assert trial["not_sure"] is False
        before = dump(stimuli.db)
        for body in (
            {"answer": "not_sure", "response_ms": 5},
            {"answer": "same", "response_ms": 5, "flicker_hz": 8.0},
        ):
            reply = client.post(url, json=body)
            assert reply.status_code == 422 and set(reply.json()) == {"error"}
        assert dump(stimuli.db) == before
    finally:
        store.close()


def test_settings_and_completion_codes(tmp_path):
    stimuli, store, client = client_for(tmp_path / "a", crowd={"id_param": "PROLIFIC_PID"})
    try:
        assert client.get("/api/settings").json() == {"id_param": "PROLIFIC_PID", "not_sure": False}
        begin(client, "w1")
        assert client.post("/api/subjects", json={"subject_id": "w1"}).json()["end"] is None
        play(client, stimuli, "w1")
        done = client.get("/api/subjects/w1/trial").json()
        again = client.post("/api/subjects", json={"subject_id": "w1"}).json()
        assert again["finished"] and again["completion_code"] == done["completion_code"]
        assert store.code("w1") == done["completion_code"] != store.code("w2")
    finally:
        store.close()
    other_stimuli, other, _ = client_for(tmp_path / "b", crowd={"id_param": "PROLIFIC_PID"})
    try:  # another database, another secret: another code for the same id
        assert other.code("w1") != done["completion_code"]
    finally:
        other.close()


def test_a_subject_failing_the_qualification_is_disqualified(tmp_path):
    crowd = {"qualification_trials": 3, "qualification_max_errors": 1}
    stimuli, store, client = client_for(tmp_path, crowd=crowd)
    try:
        for subject, wrong in (("good", 1), ("bad", 2)):
            begin(client, subject)
            kinds = []
            for index in range(1 + 3):
                url, trial = answer_url(client, subject)
                kinds.append(store.trial(subject, trial["trial_id"])["kind"])
                level = store.trial(subject, trial["trial_id"])["level_index"]
                right = "same" if level is None else "different"
                flipped = "different" if right == "same" else "same"
                answer = right if index == 0 or index > wrong else flipped
                client.post(url, json={"answer": answer, "response_ms": 5})
            assert kinds == ["training", "qualification", "qualification", "qualification"]
        assert client.get("/api/subjects/good/trial").json()["done"] is False
        done = client.get("/api/subjects/bad/trial").json()
        assert done == {"done": True, "end": "disqualified", "completion_code": None}
        assert client.get("/api/subjects/bad/trial").json() == done  # stays ended
        subjects = read_table(export(stimuli.db, tmp_path / "out")["subjects"])
        row = subjects.set_index("subject_id").loc["bad"]
        assert row["end_reason"] == "disqualified" and row["qualification_errors"] == 2
        assert row["data_trials"] == 0 and str(row["completion_code"]) in ("", "nan", "<NA>")
    finally:
        store.close()


def test_the_time_limit_ends_the_test_and_refuses_late_answers(tmp_path):
    stimuli, store, client = client_for(tmp_path, crowd={"time_limit_min": 0.02})
    try:
        begin(client, "slow")
        url, _ = answer_url(client, "slow")
        assert client.post(url, json={"answer": "same", "response_ms": 5}).status_code == 200
        url, _ = answer_url(client, "slow")
        time.sleep(1.3)  # 0.02 minutes = 1.2 s
        before = dump(stimuli.db)
        late = client.post(url, json={"answer": "same", "response_ms": 5})
        assert late.status_code == 409 and late.json() == {"error": "time limit reached"}
        rows = [line for line in dump(stimuli.db) if 'INSERT INTO "trials"' in line]
        assert rows == [line for line in before if 'INSERT INTO "trials"' in line]
        done = client.get("/api/subjects/slow/trial").json()
        assert done == {"done": True, "end": "expired", "completion_code": None}
        subjects = read_table(export(stimuli.db, tmp_path / "out")["subjects"])
        assert subjects["end_reason"].tolist() == ["expired"]
    finally:
        store.close()


def test_a_screen_under_the_minimum_is_refused(tmp_path):
    stimuli, store, client = client_for(
        tmp_path, crowd={"min_screen_width": 1920, "min_screen_height": 1000}
    )
    try:
        small = begin(client, "s1", {**VIEWING, "screen_w": 1280, "screen_h": 720})
        assert small.status_code == 422 and small.json()["error"].startswith("screen too small")
        hidpi = client.post("/api/subjects/s1/viewing", json={**VIEWING, "screen_w": 1280,
                            "screen_h": 720, "dpr": 1.5})  # fmt: skip
        assert hidpi.json() == {"display": "side_by_side"}  # 1920 x 1080 screen pixels
    finally:
        store.close()


def test_quest_per_subject_labels_reach_jnd(tmp_path):
    stimuli, store, client = client_for(tmp_path, procedure="quest", traps={"rate": 0.0})
    try:
        for subject in ("q1", "q2", "q3", "q4"):
            begin(client, subject)
            assert play(client, stimuli, subject) <= 1 + 3 * 16  # QUEST+'s max_trials
    finally:
        store.close()
    files = export(stimuli.db, tmp_path / "out")
    assert tidy_jnd(tmp_path / "labels", files["samples"], stimuli.manifest) == expected_jnd()


def test_collective_quest_under_concurrent_subjects(tmp_path):
    """Eight subjects at once against the real server: every answer stored once, in one commit
    order, and the image's posterior (replayed from them) puts each threshold on its level."""
    stimuli = make_stimuli(
        tmp_path, training_trials=0, procedure="quest_collective", traps={"rate": 0.0}
    )
    server = LiveServer(stimuli).start()
    acknowledged, errors = [], []

    def run(subject):
        try:
            with httpx.Client(base_url=server.base, timeout=30) as client:
                begin(client, subject)
                while not (trial := client.get(f"/api/subjects/{subject}/trial").json())["done"]:
                    images = [client.get(trial["images"][slot]).content for slot in SLOTS]
                    url = f"/api/subjects/{subject}/trials/{trial['trial_id']}/answer"
                    body = {"answer": observe(stimuli, *images), "response_ms": 1}
                    assert client.post(url, json=body).json()["stored"] is True
                    acknowledged.append(trial["trial_id"])
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    try:
        threads = [threading.Thread(target=run, args=(f"c{i}",)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        server.stop()
    assert not errors, errors
    files = export(stimuli.db, tmp_path / "out")
    trials = read_table(files["trials"])
    assert len(acknowledged) == len(trials) == 8 * 3 * 4  # collective_trials 4 per image
    assert sorted(trials["answer_seq"].astype(int)) == list(range(1, len(trials) + 1))
    collective = read_table(files["collective"]).set_index("image_id")
    assert (collective["trials"] == 32).all() and (collective["subjects"] == 8).all()
    for image, index in THRESHOLDS.items():  # an observer says "different" from index on
        assert index - 1 < collective.loc[image, "threshold"] <= index
        sur = collective.loc[image, [f"sur_{level}" for level in LEVELS]].astype(float)
        assert sur.is_monotonic_decreasing
    assert read_table(files["samples"]).empty


def test_bisection_repeats_a_level_after_not_sure_and_counts_a_second_as_same(tmp_path):
    """The documented treatment: a first "not sure" shows the same level again; a second one
    there counts as "same" (conservative: the threshold is not lowered)."""
    stimuli, store, client = client_for(tmp_path, not_sure=True, traps={"rate": 0.0})
    try:
        begin(client, "u1")
        while not (trial := client.get("/api/subjects/u1/trial").json())["done"]:
            row = store.trial("u1", trial["trial_id"])
            answer = "not_sure" if row["kind"] == "data" else "different"
            url = f"/api/subjects/u1/trials/{trial['trial_id']}/answer"
            assert client.post(url, json={"answer": answer, "response_ms": 5}).status_code == 200
    finally:
        store.close()
    files = export(stimuli.db, tmp_path / "out")
    trials = read_table(files["trials"])
    data = trials[trials["kind"] == "data"]
    for image, rows in data.groupby("image_id"):
        levels = rows["level_index"].astype(int).tolist()
        assert levels == [2, 2, 4, 4], (image, levels)  # 5 levels: middle, then above, twice
    samples = read_table(files["samples"])
    assert set(samples["outcome"]) == {"never"} and (samples["trials"] == 4).all()
