"""From the test database to tables: tidy samples, every trial, every subject.

``samples.tsv`` (image_id, subject_id, jnd_qp, session, outcome, trials) is what
``labels.source: tidy`` reads unchanged; ``labels.source: test`` reads the same rows straight
from the database (:func:`label_table`). Only finished searches become samples; with
``exclude_flagged`` (config key ``subjective.traps.exclude_flagged``) subjects who failed more
than ``trap_fail_share`` of their traps are left out of them (and listed in subjects.tsv).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from vvcjnd.io import write_table
from vvcjnd.subjective.schedule import (
    COLLECTIVE,
    DATA,
    FINISHED,
    TRAP_MAX,
    TRAP_SAME,
    Past,
    TrialPlan,
    collective_states,
    correct_answer,
    qualification_errors,
    searches,
)
from vvcjnd.subjective.store import completion_code, connect_readonly, stored_plan, stored_secret

TRIAL_COLUMNS = [
    "subject_id",
    "seq",
    "kind",
    "image_id",
    "session",
    "level_index",
    "level",
    "distorted_slot",
    "display",
    "answer",
    "correct",
    "response_ms",
    "flicker_hz",
    "flicker_off",
    "served_at",
    "answered_at",
    "answer_seq",
]
VIEWING_COLUMNS = ["screen_w", "screen_h", "window_w", "window_h", "dpr", "display", "user_agent"]
VIEWING_COLUMNS += ["refresh_hz"]
END_COLUMNS = ["end_reason", "completion_code"]


def read_database(path: str | os.PathLike) -> tuple[TrialPlan, pd.DataFrame, pd.DataFrame]:
    """(plan, trials, subjects) of a test database, opened read-only."""
    connection = connect_readonly(path)
    try:
        plan = TrialPlan.from_json(json.loads(stored_plan(connection, path)))
        trials = pd.read_sql_query("SELECT * FROM trials ORDER BY subject_id, seq", connection)
        subjects = pd.read_sql_query("SELECT * FROM subjects ORDER BY subject_id", connection)
        secret = stored_secret(connection)
    finally:
        connection.close()
    subjects["completion_code"] = [
        completion_code(secret, subject) if reason == FINISHED else None
        for subject, reason in zip(subjects["subject_id"], subjects["end_reason"], strict=True)
    ]
    return plan, trials, subjects


def _answered(trials: pd.DataFrame) -> pd.DataFrame:
    return trials[trials["answer"].notna()]


def _history(rows: pd.DataFrame) -> list[Past]:
    return [
        Past(
            r.kind,
            r.image_id,
            int(r.session),
            None if pd.isna(r.level_index) else int(r.level_index),
            r.answer,
        )
        for r in rows.itertuples(index=False)
    ]


def subject_table(plan: TrialPlan, trials: pd.DataFrame, subjects: pd.DataFrame) -> pd.DataFrame:
    """One row per subject: viewing conditions, progress and trap results (flagged)."""
    answered = _answered(trials)
    rows = []
    for subject in subjects.itertuples(index=False):
        mine = answered[answered["subject_id"] == subject.subject_id]
        traps = mine[mine["kind"].isin([TRAP_SAME, TRAP_MAX])]
        failed = int((traps["answer"] != traps["kind"].map(_trap_answer)).sum())
        share = failed / len(traps) if len(traps) else 0.0
        done = sum(state.done for state in searches(plan, _history(mine)).values())
        rows.append(
            {
                "subject_id": subject.subject_id,
                "created_at": subject.created_at,
                "finished_at": subject.finished_at,
                **{column: getattr(subject, column) for column in END_COLUMNS},
                **{column: getattr(subject, column) for column in VIEWING_COLUMNS},
                "trials": len(mine),
                "data_trials": int((mine["kind"] == DATA).sum()),
                "images_done": done,
                "traps": len(traps),
                "trap_failures": failed,
                "trap_failure_share": share,
                "qualification_errors": qualification_errors(_history(mine)),
                "flagged": share > plan.trap_fail_share,
            }
        )
    columns = ["subject_id", "created_at", "finished_at", *END_COLUMNS, *VIEWING_COLUMNS, "trials"]
    columns += ["data_trials", "images_done", "traps", "trap_failures", "trap_failure_share"]
    columns += ["qualification_errors"]
    return pd.DataFrame(rows, columns=[*columns, "flagged"])


def _trap_answer(kind: str) -> str:
    return correct_answer(kind, None if kind == TRAP_SAME else 0)


def sample_table(plan: TrialPlan, trials: pd.DataFrame, subjects: pd.DataFrame) -> pd.DataFrame:
    """One row per finished (subject, image) search: the first noticeable level and how the
    search ended (found, mildest, never; never is clipped to the ladder's last level)."""
    answered = _answered(trials)
    flagged = subject_table(plan, trials, subjects).set_index("subject_id")["flagged"]
    level_column = f"jnd_{plan.level_name}"
    rows = []
    for subject_id, mine in answered.groupby("subject_id", sort=True):
        if plan.procedure == COLLECTIVE:
            break  # one posterior per image, no per-subject sample: collective.tsv
        if plan.exclude_flagged and flagged.get(subject_id, False):
            continue
        counts = mine[mine["kind"] == DATA]["image_id"].value_counts()
        for image_id, state in searches(plan, _history(mine)).items():
            if not state.done:
                continue
            outcome = state.result()
            rows.append(
                {
                    "image_id": image_id,
                    "subject_id": subject_id,
                    level_column: plan.levels[outcome.level_index],
                    "session": plan.session_of(image_id),
                    "outcome": outcome.kind.value,
                    "trials": int(counts.get(image_id, 0)),
                }
            )
    columns = ["image_id", "subject_id", level_column, "session", "outcome", "trials"]
    order = {image: i for i, image in enumerate(i for s in plan.sessions.values() for i in s)}
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values(
        ["image_id", "subject_id"], key=lambda c: c.map(order) if c.name == "image_id" else c
    ).reset_index(drop=True)


def trial_table(trials: pd.DataFrame) -> pd.DataFrame:
    """Every served trial (training, data, traps), with the right answer where there is one."""
    table = trials.copy()
    table["correct"] = [
        None
        if row.kind == DATA or pd.isna(row.answer)
        else row.answer == correct_answer(row.kind, None if pd.isna(row.level_index) else 0)
        for row in table.itertuples(index=False)
    ]
    table["correct"] = table["correct"].astype("boolean")
    return table[TRIAL_COLUMNS].astype(
        {
            "level_index": "Int64",
            "level": "Int64",
            "response_ms": "Int64",
            "flicker_off": "boolean",
            "answer_seq": "Int64",
        }
    )


def collective_answers(plan: TrialPlan, trials: pd.DataFrame, subjects: pd.DataFrame):
    """(image id -> collective posterior, the data answers it pools) of a collective test:
    every subject's answered data trials in commit order, without flagged subjects' with
    ``exclude_flagged`` (as for the samples of the other procedures)."""
    data = _answered(trials)
    data = data[data["kind"] == DATA].sort_values("answer_seq")
    if plan.exclude_flagged:
        flagged = subject_table(plan, trials, subjects).set_index("subject_id")["flagged"]
        data = data[~data["subject_id"].map(flagged).fillna(False).astype(bool)]
    answers = zip(data["image_id"], data["level_index"].astype(int), data["answer"], strict=True)
    return collective_states(plan, answers), data


def collective_table(plan: TrialPlan, trials: pd.DataFrame, subjects: pd.DataFrame) -> pd.DataFrame:
    """One row per image of the collective QUEST+ posterior (:func:`collective_answers`):
    threshold mean and sd (level indices), trials, subjects, and the satisfied-user ratio at
    each ladder level (sur_<level>)."""
    states, data = collective_answers(plan, trials, subjects)
    rows = []
    for image, state in states.items():
        mine = data[data["image_id"] == image]
        row = {"image_id": image, "threshold": state.threshold, "threshold_sd": state.threshold_sd}
        row.update(trials=len(mine), subjects=mine["subject_id"].nunique())
        sur = state.sur_curve()
        row.update({f"sur_{level}": float(sur[i]) for i, level in enumerate(plan.levels)})
        rows.append(row)
    return pd.DataFrame(rows)


def label_table(plan: TrialPlan, trials: pd.DataFrame, subjects: pd.DataFrame) -> pd.DataFrame:
    """The samples of a test database (:func:`read_database`) as the text columns of a tidy
    label table (image_id, subject_id, jnd_<level>, session), for the labels stage."""
    table = sample_table(plan, trials, subjects)
    return table.drop(columns=["outcome", "trials"]).astype(str)


def export(path: str | os.PathLike, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write samples.tsv, trials.tsv and subjects.tsv of a test database into ``out_dir``."""
    plan, trials, subjects = read_database(path)
    out_dir = Path(out_dir)
    files = {name: out_dir / f"{name}.tsv" for name in ("samples", "trials", "subjects")}
    if plan.procedure == COLLECTIVE:
        files["collective"] = out_dir / "collective.tsv"
        write_table(files["collective"], collective_table(plan, trials, subjects))
    write_table(files["samples"], sample_table(plan, trials, subjects))
    write_table(files["trials"], trial_table(trials))
    write_table(files["subjects"], subject_table(plan, trials, subjects))
    return files
