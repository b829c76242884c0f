"""Hypothesis fuzz of the test server's session and answer endpoints (FastAPI's test client):
arbitrary bodies, ids and orders of calls never give a 500, and never store an answer that
the server did not acknowledge as stored."""

from __future__ import annotations

import sqlite3
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vvcjnd.subjective.server import create_app
from vvcjnd.subjective.stimuli import load_stimuli
from vvcjnd.subjective.store import Store

from .test_subjective_fixtures import VIEWING, make_stimuli

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
SUBJECTS = ["s1", "s2"]
ANSWERS = ["same", "different", "not_sure"]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)
# ids as a client might send them: valid-looking ones, path tricks, unicode, empty
ids = st.one_of(
    st.sampled_from(SUBJECTS + ["", "..", "%2e%2e", "a/b", "a%2Fb", "s1 ", "x" * 41, "ünï"]),
    st.text(max_size=45),
)
trial_ids = st.one_of(
    st.text(alphabet="0123456789abcdef", min_size=30, max_size=34), st.text(max_size=40)
)
answer_bodies = st.one_of(
    st.fixed_dictionaries(
        {"answer": st.sampled_from(ANSWERS), "response_ms": st.integers(-5, 10**5) | st.integers()}
    ),
    st.dictionaries(
        st.sampled_from(["answer", "response_ms", "flicker_hz", "extra"]), json_values, max_size=4
    ),
    json_values,
)


@pytest.fixture
def server(tmp_path):
    stimuli = make_stimuli(tmp_path, training_trials=1, break_every=4)
    checked = load_stimuli(stimuli.table, stimuli.plan)
    store = Store(stimuli.db, checked.plan, checked.plan_text)
    client = TestClient(create_app(store, checked, "token"), raise_server_exceptions=False)
    yield client, stimuli.db
    store.close()


def answered(db) -> dict[str, str]:
    """trial id -> stored answer, read from the database file itself."""
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT trial_id, answer FROM trials WHERE answer IS NOT NULL")
        return dict(rows.fetchall())


def open_trial(client, subject) -> str | None:
    """The subject's open trial id (registering, consenting and checking them first)."""
    client.post("/api/subjects", json={"subject_id": subject})
    client.post(f"/api/subjects/{subject}/consent")
    client.post(f"/api/subjects/{subject}/viewing", json=VIEWING)
    trial = client.get(f"/api/subjects/{subject}/trial").json()
    return None if trial["done"] else trial["trial_id"]


@FUZZ
@given(body=json_values, raw=st.binary(max_size=64))
def test_register_never_fails_with_500(server, body, raw):
    client, _ = server
    for response in (
        client.post("/api/subjects", json=body),
        client.post("/api/subjects", content=raw, headers={"content-type": "application/json"}),
    ):
        assert response.status_code < 500, response.text
        if response.status_code == 200:
            assert isinstance(body, dict) or response.request.content == raw


@FUZZ
@given(subject=ids, trial=trial_ids, body=answer_bodies, use_open=st.booleans())
def test_answer_fuzz_stores_only_acknowledged_answers(server, subject, trial, body, use_open):
    client, db = server
    current = open_trial(client, "s1")
    if use_open and current is not None:
        trial = current
    before = answered(db)
    # as a browser sends them: slashes and percent signs raw, other characters encoded
    path = f"/api/subjects/{quote(subject, safe='/%')}/trials/{quote(trial, safe='/%')}/answer"
    response = client.post(path, json=body)
    assert response.status_code < 500, response.text
    after = answered(db)
    if response.status_code == 200 and response.json()["stored"] is True:
        assert set(after) - set(before) == {trial} and after[trial] == body["answer"]
        assert (subject, trial) == ("s1", current)
    else:
        assert after == before, response.text


CALLS = st.sampled_from(
    [
        "register",
        "consent",
        "viewing",
        "bad_viewing",
        "trial",
        "left",
        "right",
        "answer",
        "answer_again",
        "answer_other",
        "stale_answer",
    ]
)


@FUZZ
@given(
    steps=st.lists(
        st.tuples(CALLS, st.sampled_from(SUBJECTS), st.sampled_from(ANSWERS)),
        min_size=1,
        max_size=25,
    ),
    prepared=st.booleans(),
)
def test_any_order_of_calls_keeps_the_store_consistent(server, steps, prepared):
    """Calls in any order: never a 500; the stored answers are exactly the acknowledged ones.
    ``prepared``: both subjects registered, consented and checked first (so that trials and
    answers are often reached)."""
    client, db = server
    for subject in SUBJECTS if prepared else []:
        open_trial(client, subject)
    acknowledged = dict(answered(db))
    last_trial: dict[str, str] = {}
    for call, subject, answer in steps:
        base = f"/api/subjects/{subject}"
        trial = last_trial.get(subject, "0" * 32)
        other = last_trial.get(next(s for s in SUBJECTS if s != subject), "f" * 32)
        if call == "register":
            response = client.post("/api/subjects", json={"subject_id": subject})
        elif call == "consent":
            response = client.post(f"{base}/consent")
        elif call in ("viewing", "bad_viewing"):
            viewing = VIEWING if call == "viewing" else {**VIEWING, "window_w": 10}
            response = client.post(f"{base}/viewing", json=viewing)
        elif call == "trial":
            response = client.get(f"{base}/trial")
            if response.status_code == 200 and not response.json()["done"]:
                last_trial[subject] = response.json()["trial_id"]
        elif call in ("left", "right"):
            response = client.get(f"{base}/trials/{trial}/{call}")
        else:
            target = other if call == "answer_other" else trial
            body = {"answer": answer, "response_ms": 100}
            response = client.post(f"{base}/trials/{target}/answer", json=body)
            if response.status_code == 200 and response.json()["stored"]:
                assert target not in acknowledged
                acknowledged[target] = answer
        assert response.status_code < 500, (call, response.text)
        assert answered(db) == acknowledged, (call, subject, response.text)
