"""The real server process: SIGKILL mid-session loses no acknowledged answer; subjects resume;
the database file follows the answers."""

from __future__ import annotations

import sqlite3
import time

import httpx2 as httpx
from fastapi.testclient import TestClient

from vvcjnd.io import read_table
from vvcjnd.subjective.checkpoint import CHECKPOINT_S
from vvcjnd.subjective.export import export
from vvcjnd.subjective.server import create_app
from vvcjnd.subjective.stimuli import load_stimuli
from vvcjnd.subjective.store import Store

from .test_subjective_api import TOKEN, begin, play
from .test_subjective_fixtures import LEVELS, THRESHOLDS, VIEWING, LiveServer, make_stimuli, observe


def stored_answers(db) -> dict[str, str]:
    connection = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT trial_id, answer FROM trials WHERE answer IS NOT NULL")
        return dict(rows.fetchall())
    finally:
        connection.close()


def test_sigkill_loses_no_acknowledged_answer_and_subjects_resume(tmp_path):
    stimuli = make_stimuli(tmp_path, training_trials=1)
    server = LiveServer(stimuli).start()
    acknowledged: dict[str, tuple[str, str]] = {}  # trial id -> (subject, answer)
    try:
        with httpx.Client(base_url=server.base, timeout=10) as client:
            for subject in ("k1", "k2"):
                client.post("/api/subjects", json={"subject_id": subject}).raise_for_status()
                client.post(f"/api/subjects/{subject}/consent").raise_for_status()
                client.post(f"/api/subjects/{subject}/viewing", json=VIEWING).raise_for_status()

            def step(subject: str) -> dict | None:
                trial = client.get(f"/api/subjects/{subject}/trial").json()
                if trial["done"]:
                    return None
                images = [client.get(trial["images"][slot]).content for slot in ("left", "right")]
                answer = observe(stimuli, *images)
                url = f"/api/subjects/{subject}/trials/{trial['trial_id']}/answer"
                reply = client.post(url, json={"answer": answer, "response_ms": 50})
                reply.raise_for_status()
                acknowledged[trial["trial_id"]] = (subject, answer)
                return trial

            for _ in range(4):
                step("k1")
                step("k2")
            open_trial = client.get("/api/subjects/k1/trial").json()  # served, not answered
        server.kill()
        assert stored_answers(stimuli.db) == {t: a for t, (_, a) in acknowledged.items()}

        server = LiveServer(stimuli, port=server.port).start()
        with httpx.Client(base_url=server.base, timeout=10) as client:
            again = client.post("/api/subjects", json={"subject_id": "k1"}).json()
            assert again == {
                "subject_id": "k1",
                "consented": True,
                "finished": False,
                "end": None,
                "completion_code": None,
            }
            resumed = client.get("/api/subjects/k1/trial").json()
            assert resumed["trial_id"] == open_trial["trial_id"]
            assert client.get(resumed["images"]["left"]).status_code == 200
            # a resubmission, after the restart, of an answer acknowledged before it
            trial_id, (subject, answer) = next(iter(acknowledged.items()))
            url = f"/api/subjects/{subject}/trials/{trial_id}/answer"
            reply = client.post(url, json={"answer": answer, "response_ms": 1})
            assert reply.status_code == 200 and reply.json()["stored"] is False
            while step("k1") is not None:
                pass
            while step("k2") is not None:
                pass
    finally:
        server.stop()
    assert stored_answers(stimuli.db) == {t: a for t, (_, a) in acknowledged.items()}
    samples = read_table(export(stimuli.db, tmp_path / "out")["samples"])
    assert len(samples) == 6
    expected = {image: LEVELS[index] for image, index in THRESHOLDS.items()}
    assert dict(zip(samples["image_id"], samples["jnd_qp"], strict=True)) == expected


def test_server_binds_to_the_loopback_address_by_default(tmp_path):
    server = LiveServer(make_stimuli(tmp_path)).start()
    try:
        assert server.admin_url.startswith(f"http://127.0.0.1:{server.port}/admin#token=")
        assert len(server.token) >= 32
        assert httpx.get(server.base + "/api/admin/progress").status_code == 401
        headers = {"Authorization": f"Bearer {server.token}"}
        assert httpx.get(server.base + "/api/admin/progress", headers=headers).status_code == 200
    finally:
        server.stop()


def test_the_database_file_holds_an_answer_soon_after_it_is_given(tmp_path):
    """Snakemake reruns the label stage when the database file changes: an answer reaches the
    file (not only the WAL) within about CHECKPOINT_S, and readers see it at once."""
    stimuli = make_stimuli(tmp_path, training_trials=0)
    checked = load_stimuli(stimuli.table, stimuli.plan)
    store = Store(stimuli.db, checked.plan, checked.plan_text)
    try:
        client = TestClient(create_app(store, checked, TOKEN))
        begin(client, "w1")
        time.sleep(CHECKPOINT_S * 2.5)  # the registration's own checkpoint is behind us
        before = stimuli.db.read_bytes()
        assert play(client, stimuli, "w1", stop_after=1) == 1
        assert len(stored_answers(stimuli.db)) == 1  # through the WAL, at once
        deadline = time.monotonic() + CHECKPOINT_S * 5
        while stimuli.db.read_bytes() == before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stimuli.db.read_bytes() != before
    finally:
        store.close()
