"""The test's SQLite store: WAL journal, synchronous=FULL, one transaction per answer.

Tables: ``meta`` (the plan the database was created for), ``subjects`` (one row per subject:
consent, the latest viewing check) and ``trials`` (one row per served trial: what was shown,
the answer, response time and timestamps). Answers are the only state: a subject's next trial
is recomputed from them (:mod:`vvcjnd.subjective.schedule`), so every acknowledged answer is on
disk (in the WAL, fsynced at commit) before the reply leaves and a restarted server resumes
every subject; :class:`~vvcjnd.subjective.checkpoint.Checkpointer` moves them into the
database file soon after, off the commit's path.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

from vvcjnd.errors import VvcjndError
from vvcjnd.subjective.checkpoint import Checkpointer
from vvcjnd.subjective.schedule import EXPIRED, Past, TrialPlan, TrialSpec

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS subjects (
    subject_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    consent_at TEXT,
    checked_at TEXT,
    screen_w INTEGER, screen_h INTEGER, window_w INTEGER, window_h INTEGER,
    dpr REAL, user_agent TEXT, display TEXT, refresh_hz REAL,
    finished_at TEXT,
    end_reason TEXT
);
CREATE TABLE IF NOT EXISTS trials (
    trial_id TEXT PRIMARY KEY,
    subject_id TEXT NOT NULL REFERENCES subjects (subject_id),
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    image_id TEXT NOT NULL,
    session INTEGER NOT NULL,
    level_index INTEGER,
    level INTEGER,
    distorted_slot TEXT NOT NULL,
    display TEXT NOT NULL,
    break_before INTEGER NOT NULL,
    served_at TEXT NOT NULL,
    answer TEXT,
    response_ms INTEGER,
    flicker_hz REAL,
    flicker_off INTEGER,
    answered_at TEXT,
    answer_seq INTEGER,
    UNIQUE (subject_id, seq)
);
CREATE INDEX IF NOT EXISTS trials_answer_seq ON trials (answer_seq);
"""


class Refused(Exception):
    """A request the store turns down: an HTTP status and a short message for the client."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def now() -> str:
    """UTC time stamp with milliseconds, ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def connect_readonly(path: str | os.PathLike) -> sqlite3.Connection:
    """A read-only connection (export, labels); a missing file is an error naming it."""
    path = Path(path)
    if not path.is_file():
        raise VvcjndError(f"test database {path} not found")
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    connection.row_factory = sqlite3.Row
    return connection


def completion_code(secret: str, subject_id: str) -> str:
    """The subject's completion code: 12 characters of an HMAC-SHA256 of the id keyed by the
    database's secret (deterministic, unguessable without the secret)."""
    digest = hmac.new(secret.encode(), subject_id.encode(), hashlib.sha256).hexdigest()
    return digest[:12].upper()


def stored_secret(connection: sqlite3.Connection) -> str:
    return connection.execute("SELECT value FROM meta WHERE key = 'secret'").fetchone()[0]


def parse_time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def stored_plan(connection: sqlite3.Connection, path) -> str:
    """The plan.json text a database was created for."""
    try:
        row = connection.execute("SELECT value FROM meta WHERE key = 'plan'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise VvcjndError(f"{path} is not a vvcjnd test database: {exc}") from exc
    if row is None:
        raise VvcjndError(f"{path} is not a vvcjnd test database (no plan)")
    return row[0]


class Store:
    """The server's one connection; every method is one transaction under one lock."""

    def __init__(self, path: str | os.PathLike, plan: TrialPlan, plan_text: str):
        self.path = Path(path)
        self.plan = plan
        self.lock = threading.RLock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = FULL")
        self.db.execute("PRAGMA foreign_keys = ON")
        with self.db:
            self.db.executescript(SCHEMA)
            row = self.db.execute("SELECT value FROM meta WHERE key = 'plan'").fetchone()
            if row is None:
                self.db.execute("INSERT INTO meta VALUES ('plan', ?)", (plan_text,))
                secret = secrets.token_hex(32)
                self.db.execute("INSERT INTO meta VALUES ('secret', ?)", (secret,))
            elif row[0] != plan_text:
                raise VvcjndError(
                    f"test database {self.path} was created for another stimulus set or plan; "
                    "use a new --db for this one"
                )
        self.checkpointer = Checkpointer(self.path)

    def close(self) -> None:
        self.checkpointer.close()
        self.db.close()

    def _write(self, sql: str, args: tuple, *more: tuple[str, tuple]) -> None:
        """Run the statements in one committed transaction (all or nothing)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for statement, values in [(sql, args), *more]:
                self.db.execute(statement, values)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.checkpointer.committed()

    def code(self, subject_id: str) -> str:
        with self.lock:
            return completion_code(stored_secret(self.db), subject_id)

    def _end(self, subject_id: str, reason: str) -> None:
        self._write(
            "UPDATE subjects SET finished_at = COALESCE(finished_at, ?), "
            "end_reason = COALESCE(end_reason, ?) WHERE subject_id = ?",
            (now(), reason, subject_id),
        )

    def _expired(self, subject: sqlite3.Row) -> bool:
        """Past the plan's time limit (from consent): ends the subject's test if so."""
        limit = self.plan.time_limit_min
        if limit is None or subject["consent_at"] is None or subject["end_reason"] is not None:
            return subject["end_reason"] == EXPIRED
        elapsed = datetime.now(UTC) - parse_time(subject["consent_at"])
        if elapsed.total_seconds() <= limit * 60:
            return False
        self._end(subject["subject_id"], EXPIRED)
        return True

    def subject(self, subject_id: str) -> sqlite3.Row:
        with self.lock:
            row = self.db.execute("SELECT * FROM subjects WHERE subject_id = ?", (subject_id,))
            row = row.fetchone()
        if row is None:
            raise Refused(404, "unknown subject")
        return row

    def register(self, subject_id: str) -> sqlite3.Row:
        """The subject's row, created on first sight (a returning id resumes)."""
        with self.lock:
            self._write(
                "INSERT OR IGNORE INTO subjects (subject_id, created_at) VALUES (?, ?)",
                (subject_id, now()),
            )
            return self.subject(subject_id)

    def consent(self, subject_id: str) -> None:
        with self.lock:
            self.subject(subject_id)
            self._write(
                "UPDATE subjects SET consent_at = COALESCE(consent_at, ?) WHERE subject_id = ?",
                (now(), subject_id),
            )

    def viewing(self, subject_id: str, conditions: dict, display: str | None) -> None:
        """Record a viewing check and the display mode it allows (also for the open trial);
        ``display`` None (the window is too small) stops the subject until a check passes."""
        with self.lock:
            if self.subject(subject_id)["consent_at"] is None:
                raise Refused(409, "consent first")
            open_trial = []
            if display is not None:
                sql = "UPDATE trials SET display = ? WHERE subject_id = ? AND answer IS NULL"
                open_trial.append((sql, (display, subject_id)))
            measured = [conditions[k] for k in ("screen_w", "screen_h", "window_w", "window_h")]
            self._write(
                "UPDATE subjects SET checked_at = ?, screen_w = ?, screen_h = ?, window_w = ?, "
                "window_h = ?, dpr = ?, user_agent = ?, display = ?, refresh_hz = ? "
                "WHERE subject_id = ?",
                (
                    now(),
                    *measured,
                    conditions["dpr"],
                    conditions["user_agent"],
                    display,
                    conditions.get("refresh_hz"),
                    subject_id,
                ),
                *open_trial,
            )

    def history(self, subject_id: str) -> list[Past]:
        rows = self.db.execute(
            "SELECT kind, image_id, session, level_index, answer, break_before FROM trials "
            "WHERE subject_id = ? AND answer IS NOT NULL ORDER BY seq",
            (subject_id,),
        )
        return [Past(*row[:5], bool(row[5])) for row in rows]

    def open_trial(self, subject_id: str) -> sqlite3.Row | None:
        return self.db.execute(
            "SELECT * FROM trials WHERE subject_id = ? AND answer IS NULL", (subject_id,)
        ).fetchone()

    def current(self, subject_id: str, schedule) -> sqlite3.Row | None:
        """The subject's open trial, serving a new one from ``schedule(history)`` if there is
        none; None (and the subject's end written) when the test has ended: ``schedule``
        returns a :class:`TrialSpec` or the end reason, and a time limit ends it too."""
        with self.lock:
            subject = self.subject(subject_id)
            if subject["display"] is None:
                raise Refused(409, "viewing check first")
            if subject["end_reason"] is not None or self._expired(subject):
                return None
            trial = self.open_trial(subject_id)
            if trial is not None:
                return trial
            spec: TrialSpec | str = schedule(self.history(subject_id))
            if isinstance(spec, str):
                self._end(subject_id, spec)
                return None
            level = None if spec.level_index is None else self.plan.levels[spec.level_index]
            self._write(
                "INSERT INTO trials (trial_id, subject_id, seq, kind, image_id, session, "
                "level_index, level, distorted_slot, display, break_before, served_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    secrets.token_hex(16),
                    subject_id,
                    spec.seq,
                    spec.kind,
                    spec.image_id,
                    spec.session,
                    spec.level_index,
                    level,
                    spec.distorted_slot,
                    subject["display"],
                    int(spec.break_before),
                    now(),
                ),
            )
            return self.open_trial(subject_id)

    def trial(self, subject_id: str, trial_id: str) -> sqlite3.Row:
        """One of the subject's trials; another subject's trial is as unknown as no trial."""
        with self.lock:
            row = self.db.execute(
                "SELECT * FROM trials WHERE trial_id = ? AND subject_id = ?",
                (trial_id, subject_id),
            ).fetchone()
        if row is None:
            raise Refused(404, "unknown trial")
        return row

    def answer(
        self, subject_id: str, trial_id: str, answer: str, response_ms: int, flicker=(None, None)
    ) -> bool:
        """Store the answer of the subject's open trial (and the flicker rate measured with it
        and whether it was off: ``flicker``); True if stored now, False if the same answer was
        stored before (a resubmission). A different answer to an answered trial is refused, and
        so is an answer after the subject's time limit."""
        with self.lock:
            subject = self.subject(subject_id)
            trial = self.trial(subject_id, trial_id)
            if trial["answer"] is not None:
                if trial["answer"] != answer:
                    raise Refused(409, "trial already answered differently")
                return False
            if self._expired(subject):
                raise Refused(409, "time limit reached")
            self._write(  # answer_seq: the commit order of all answers (collective QUEST+)
                "UPDATE trials SET answer = ?, response_ms = ?, flicker_hz = ?, flicker_off = ?, "
                "answered_at = ?, answer_seq = (SELECT COALESCE(MAX(answer_seq), 0) + 1 FROM "
                "trials) WHERE trial_id = ? AND answer IS NULL",
                (answer, response_ms, *flicker, now(), trial_id),
            )
            return True

    def data_answers(self, after: int = 0) -> tuple[int, list[tuple[str, int, str]]]:
        """(last answer_seq, [(image id, level index, answer)]) of every subject's data trials
        committed after answer_seq ``after``, in commit order."""
        with self.lock:
            last = self.db.execute("SELECT COALESCE(MAX(answer_seq), 0) FROM trials")
            last = last.fetchone()[0]
            rows = self.db.execute(
                "SELECT image_id, level_index, answer FROM trials WHERE kind = 'data' "
                "AND answer_seq > ? AND answer_seq <= ? ORDER BY answer_seq",
                (after, last),
            )
            return last, [tuple(row) for row in rows]

    def progress_rows(self) -> tuple[list[sqlite3.Row], list[sqlite3.Row]]:
        """(subjects, trials) for the admin page."""
        with self.lock:
            subjects = self.db.execute("SELECT * FROM subjects ORDER BY subject_id").fetchall()
            trials = self.db.execute("SELECT * FROM trials ORDER BY subject_id, seq").fetchall()
        return subjects, trials
