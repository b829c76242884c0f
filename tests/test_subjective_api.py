"""The test server's API through FastAPI's test client: a whole session, exports, the labels
stage on the database, and every bad input (a clear 4xx, nothing written)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from vvcjnd.config import validate_config
from vvcjnd.errors import VvcjndError
from vvcjnd.io import read_table
from vvcjnd.labels.stage import build_labels
from vvcjnd.subjective.export import export
from vvcjnd.subjective.server import create_app
from vvcjnd.subjective.stimuli import load_stimuli
from vvcjnd.subjective.store import Store

from .test_subjective_fixtures import LEVELS, REPO, THRESHOLDS, VIEWING, make_stimuli, observe

TOKEN = "admin-token-for-tests"


@pytest.fixture
def setup(tmp_path):
    stimuli = make_stimuli(tmp_path, training_trials=1, break_every=4)
    checked = load_stimuli(stimuli.table, stimuli.plan)
    store = Store(stimuli.db, checked.plan, checked.plan_text)
    client = TestClient(create_app(store, checked, TOKEN), raise_server_exceptions=False)
    yield stimuli, client
    store.close()


def begin(client, subject, viewing=VIEWING):
    assert client.post("/api/subjects", json={"subject_id": subject}).status_code == 200
    assert client.post(f"/api/subjects/{subject}/consent").status_code == 200
    return client.post(f"/api/subjects/{subject}/viewing", json=viewing)


def play(client, stimuli, subject, thresholds=THRESHOLDS, stop_after=None) -> int:
    """Answer trials as a deterministic observer; returns how many were answered."""
    answered = 0
    while stop_after is None or answered < stop_after:
        trial = client.get(f"/api/subjects/{subject}/trial").json()
        if trial["done"]:
            break
        left, right = (client.get(trial["images"][slot]).content for slot in ("left", "right"))
        body = {"answer": observe(stimuli, left, right, thresholds), "response_ms": 321}
        url = f"/api/subjects/{subject}/trials/{trial['trial_id']}/answer"
        assert client.post(url, json=body).json()["stored"] is True
        answered += 1
    return answered


def dump(db) -> list[str]:
    connection = sqlite3.connect(db)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def labels_config(source: str, path) -> dict:
    return validate_config(
        {
            "encode": {"qp": {"min": LEVELS[0], "max": LEVELS[-1]}},
            "labels": {"source": source, source: {"path": str(path)}, "min_subjects": 4},
        }
    )


def expected_jnd() -> dict[str, int]:
    return {image: LEVELS[index] for image, index in THRESHOLDS.items()}


def test_whole_sessions_export_and_label_stage(setup, tmp_path):
    stimuli, client = setup
    codes = {}
    for subject in ("p1", "p2", "p3", "p4"):
        assert begin(client, subject).json() == {"display": "side_by_side"}
        assert play(client, stimuli, subject) > 0
        done = client.get(f"/api/subjects/{subject}/trial").json()
        assert done.keys() == {"done", "end", "completion_code"} and done["end"] == "finished"
        codes[subject] = done["completion_code"]
    files = export(stimuli.db, tmp_path / "export")
    samples = read_table(files["samples"])
    assert list(samples.columns[:4]) == ["image_id", "subject_id", "jnd_qp", "session"]
    assert len(samples) == 12
    assert dict(zip(samples["image_id"], samples["jnd_qp"], strict=True)) == expected_jnd()
    assert set(samples["outcome"]) == {"found", "mildest"}
    trials = read_table(files["trials"])
    assert set(trials["kind"]) >= {"training", "data"}
    assert trials.loc[trials["kind"] != "data", "correct"].all()
    subjects = read_table(files["subjects"])
    assert not subjects["flagged"].any() and (subjects["images_done"] == 3).all()
    assert (subjects["user_agent"] == "pytest").all()
    assert dict(zip(subjects["subject_id"], subjects["completion_code"], strict=True)) == codes
    assert len(set(codes.values())) == 4 and all(len(c) == 12 for c in codes.values())

    for source, path in (("test", stimuli.db), ("tidy", files["samples"])):
        outputs = {
            name: tmp_path / source / f"{name}.tsv"
            for name in ("jnd", "samples", "screening", "sur")
        }
        outputs["record"] = tmp_path / source / "labels.json"
        tables = build_labels(labels_config(source, path), stimuli.manifest, outputs)
        jnd = dict(zip(tables.jnd["image_id"], tables.jnd["jnd_qp"], strict=True))
        assert jnd == expected_jnd()
        assert set(read_table(outputs["jnd"])["label_source"]) == {"human"}

    progress = client.get("/api/admin/progress", headers={"Authorization": f"Bearer {TOKEN}"})
    assert progress.json()["samples_per_image"] == {"alpha": 4, "bravo": 4, "charlie": 4}
    exported = client.get("/api/admin/export/samples", headers={"Authorization": f"Bearer {TOKEN}"})
    assert exported.text == files["samples"].read_text()


def test_a_resubmitted_answer_counts_once(setup):
    stimuli, client = setup
    begin(client, "p1")
    trial = client.get("/api/subjects/p1/trial").json()
    url = f"/api/subjects/p1/trials/{trial['trial_id']}/answer"
    assert client.post(url, json={"answer": "same", "response_ms": 5}).json()["stored"] is True
    before = dump(stimuli.db)
    again = client.post(url, json={"answer": "same", "response_ms": 9})
    assert again.status_code == 200 and again.json()["stored"] is False
    assert dump(stimuli.db) == before


def test_a_reload_gets_the_same_open_trial(setup):
    stimuli, client = setup
    begin(client, "p1")
    first = client.get("/api/subjects/p1/trial").json()
    assert client.get("/api/subjects/p1/trial").json() == first
    assert client.get(first["images"]["left"]).headers["content-type"] == "image/png"


@pytest.fixture
def busy(setup):
    """p1 with one answered and one open trial, p2 with an open trial, p3 not yet checked."""
    stimuli, client = setup
    begin(client, "p1")
    begin(client, "p2")
    client.post("/api/subjects", json={"subject_id": "p3"})
    answered = client.get("/api/subjects/p1/trial").json()["trial_id"]
    url = f"/api/subjects/p1/trials/{answered}/answer"
    client.post(url, json={"answer": "different", "response_ms": 10})
    ids = {
        "done": answered,
        "open": client.get("/api/subjects/p1/trial").json()["trial_id"],
        "other": client.get("/api/subjects/p2/trial").json()["trial_id"],
    }
    return stimuli, client, ids


def _chunks():
    yield b'{"answer": "same", "response_ms": 1, "pad": "'
    for _ in range(10):
        yield b"x" * 1000
    yield b'"}'


OK = {"answer": "same", "response_ms": 100}
BAD = [
    ("another subject's trial", "POST", "/api/subjects/p2/trials/{open}/answer", OK, 404),
    ("answered differently", "POST", "/api/subjects/p1/trials/{done}/answer", OK, 409),
    ("unknown subject", "POST", "/api/subjects/nobody/consent", None, 404),
    ("unknown subject's trial", "GET", "/api/subjects/nobody/trial", None, 404),
    ("unknown trial", "POST", "/api/subjects/p1/trials/" + "0" * 32 + "/answer", OK, 404),
    ("malformed trial id", "POST", "/api/subjects/p1/trials/xyz/answer", OK, 422),
    ("malformed json", "POST", "/api/subjects/p1/trials/{open}/answer", b'{"answer": ', 422),
    (
        "wrong answer",
        "POST",
        "/api/subjects/p1/trials/{open}/answer",
        {"answer": "maybe", "response_ms": 1},
        422,
    ),
    ("extra field", "POST", "/api/subjects/p1/trials/{open}/answer", {**OK, "level": 3}, 422),
    (
        "negative time",
        "POST",
        "/api/subjects/p1/trials/{open}/answer",
        {"answer": "same", "response_ms": -1},
        422,
    ),
    ("missing field", "POST", "/api/subjects/p1/trials/{open}/answer", {"answer": "same"}, 422),
    (
        "oversized body",
        "POST",
        "/api/subjects/p1/trials/{open}/answer",
        {**OK, "pad": "x" * 10_000},
        413,
    ),
    ("oversized stream", "POST", "/api/subjects/p1/trials/{open}/answer", _chunks, 413),
    ("path in subject id", "POST", "/api/subjects", {"subject_id": "../etc"}, 422),
    ("long subject id", "POST", "/api/subjects", {"subject_id": "a" * 41}, 422),
    ("bad viewing", "POST", "/api/subjects/p1/viewing", {**VIEWING, "dpr": 0}, 422),
    ("answered trial's image", "GET", "/api/subjects/p1/trials/{done}/left", None, 404),
    ("another subject's image", "GET", "/api/subjects/p2/trials/{open}/left", None, 404),
    ("unknown slot", "GET", "/api/subjects/p1/trials/{open}/middle", None, 422),
    ("dot-dot slot", "GET", "/api/subjects/p1/trials/{open}/..%2F..%2Fplan.json", None, 404),
    ("dot-dot static", "GET", "/static/..%2F..%2F..%2Fpyproject.toml", None, 404),
    ("absolute static", "GET", "/static/%2Fetc%2Fpasswd", None, 404),
    ("encoded dots", "GET", "/static/%2e%2e/%2e%2e/README.md", None, 404),
    ("stimulus file name", "GET", "/stimuli/{file}", None, 404),
    ("trial before check", "GET", "/api/subjects/p3/trial", None, 409),
    ("admin without token", "GET", "/api/admin/progress", None, 401),
    ("export without token", "GET", "/api/admin/export/samples", None, 401),
]


@pytest.mark.parametrize(("case", "method", "url", "body", "status"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_gets_a_clear_4xx_and_writes_nothing(busy, case, method, url, body, status):
    stimuli, client, ids = busy
    file = read_table(stimuli.table)["file"].iloc[0]
    url = url.format(**ids, file=file)
    before = dump(stimuli.db)
    if isinstance(body, dict):
        response = client.request(method, url, json=body)
    elif callable(body):
        response = client.request(method, url, content=body())
    else:
        response = client.request(method, url, content=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert 0 < len(error) <= 200 and "Traceback" not in error
    assert dump(stimuli.db) == before


def test_admin_needs_the_right_token(busy):
    _, client, _ = busy
    for header in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        assert client.get("/api/admin/progress", headers=header).status_code == 401
    right = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/api/admin/export/trials", headers=right).status_code == 200


def test_small_windows_get_the_toggle_or_are_refused(setup):
    _, client = setup
    assert begin(client, "p1", {**VIEWING, "window_w": 150}).json() == {"display": "toggle"}
    # 96 x 64 pixels at dpr 2 need 48 CSS pixels: a 100-pixel window shows them side by side
    assert begin(client, "p2", {**VIEWING, "window_w": 110, "dpr": 2}).json() == {
        "display": "side_by_side"
    }
    small = begin(client, "p3", {**VIEWING, "window_w": 80})
    assert small.status_code == 422 and "window too small" in small.json()["error"]
    assert client.get("/api/subjects/p3/trial").status_code == 409


def test_pages_are_served_from_the_package_without_external_urls(setup):
    _, client = setup
    index = client.get("/")
    assert index.status_code == 200 and "/static/app.js" in index.text
    for name in ("app.js", "admin.js", "style.css"):
        text = client.get(f"/static/{name}").text
        assert "cdn" not in text.lower() and "https://" not in text and "http://" not in text
    assert "admin.js" in client.get("/admin").text


def test_a_changed_stimulus_stops_the_server_naming_the_file(tmp_path):
    stimuli = make_stimuli(tmp_path)
    victim = stimuli.table.parent / read_table(stimuli.table)["file"].iloc[3]
    victim.write_bytes(victim.read_bytes() + b"\0")
    with pytest.raises(VvcjndError, match=victim.name):
        load_stimuli(stimuli.table, stimuli.plan)
    command = [sys.executable, "-m", "vvcjnd", "subjective", "serve", "--db", str(stimuli.db)]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and victim.name in result.stderr
    assert "does not match its sha256" in result.stderr and not stimuli.db.exists()


def test_a_database_of_another_plan_is_refused(setup):
    stimuli, _ = setup
    checked = load_stimuli(stimuli.table, stimuli.plan)
    with pytest.raises(VvcjndError, match="another stimulus set"):
        Store(stimuli.db, checked.plan, checked.plan_text.replace('"seed": 2021', '"seed": 1'))


def test_stimulus_names_say_nothing_and_are_reproducible(tmp_path):
    first = make_stimuli(tmp_path / "a")
    second = make_stimuli(tmp_path / "b")
    table = read_table(first.table)
    assert table.equals(read_table(second.table))
    assert first.plan.read_bytes() == second.plan.read_bytes()
    for name in table["file"]:
        stem = name.split("/")[-1].removesuffix(".png")
        assert len(stem) == 24 and set(stem) <= set("0123456789abcdef")
    assert table.groupby("image_id")[["width", "height"]].nunique().eq(1).all().all()
    assert isinstance(table, pd.DataFrame)


def test_edge_cases_are_recorded_and_mapped_to_the_ladder_ends(tmp_path):
    stimuli = make_stimuli(tmp_path, training_trials=0, traps={"rate": 0.0})
    checked = load_stimuli(stimuli.table, stimuli.plan)
    store = Store(stimuli.db, checked.plan, checked.plan_text)
    client = TestClient(create_app(store, checked, TOKEN))
    begin(client, "edge")
    play(client, stimuli, "edge", thresholds={"alpha": len(LEVELS), "bravo": 0, "charlie": 2})
    store.close()
    samples = read_table(export(stimuli.db, tmp_path / "out")["samples"]).set_index("image_id")
    assert samples.loc["alpha", ["jnd_qp", "outcome"]].tolist() == [LEVELS[-1], "never"]
    assert samples.loc["bravo", ["jnd_qp", "outcome"]].tolist() == [LEVELS[0], "mildest"]
    assert samples.loc["charlie", ["jnd_qp", "outcome"]].tolist() == [LEVELS[2], "found"]
    assert (samples["trials"] <= 3).all()  # ceil(log2(5 + 1))


def test_an_internal_error_is_a_short_json_answer(setup, monkeypatch):
    stimuli, client = setup
    begin(client, "p1")

    def broken(*args):
        raise RuntimeError("disk on fire at /secret/path")

    monkeypatch.setattr(Store, "history", broken)
    response = client.get("/api/subjects/p1/trial")
    assert response.status_code == 500 and response.json() == {"error": "internal error"}
