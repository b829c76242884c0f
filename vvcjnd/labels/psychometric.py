"""Psychometric fits of the subjective test's trial records (every answer, not only the end point).

Input: the ``trials.tsv`` that ``python -m vvcjnd subjective export`` writes
(:data:`vvcjnd.subjective.export.TRIAL_COLUMNS`); the fit reads its columns ``subject_id``,
``image_id``, ``kind`` (only ``data`` trials are used: training and trap trials are not about
the image's threshold), ``level`` (the ladder QP shown beside the pristine image) and
``answer`` (``same`` or ``different``; unanswered trials are skipped).

Model: an observer answers "different" at QP q with probability

    P(q) = lapse / 2 + (1 - lapse) * Phi((q - t) / sigma),

t the noticing threshold (the observer model's mean noticing point, so the end-point sample
of a bisection is about t + half a ladder step). Per image the pooled function (t = the
image's point of subjective equality, sigma its spread over all subjects' trials) is fitted
by maximum likelihood; each subject's threshold on an image is then the maximum-likelihood t
of all their trials there with sigma fixed at the image's pooled value (a bisection's answers
are always consistent with a threshold inside its final interval, so a free per-subject slope
would fit a step). The maximum is found on a grid of ``GRID_STEP`` QP over the ladder widened
by ``GRID_MARGIN`` QP on either side.

:func:`build_trial_fits` is the labels_trials rule (``labels.source: test``): it reads the
trials straight from the test's database (or a trials.tsv), writes both tables, the subject
table with each search's end point from the labels stage's samples.tsv beside the threshold,
and the figure comparing them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.stats import norm

from vvcjnd.errors import VvcjndError
from vvcjnd.io import read_table
from vvcjnd.labels.figures import plot_psychometric
from vvcjnd.labels.levels import QP_AXIS, LevelAxis
from vvcjnd.subjective.export import read_database, trial_table

DATA_KIND = "data"  # vvcjnd.subjective.schedule.DATA
DIFFERENT, SAME = "different", "same"  # vvcjnd.subjective.procedures.Answer
TRIAL_FIT_COLUMNS = ["subject_id", "image_id", "kind", "level", "answer"]
GRID_STEP, GRID_MARGIN = 0.05, 8.0
SPREAD_BOUNDS = (0.05, 50.0)  # sigma, QP
IMAGE_COLUMNS = ["image_id", "n_subjects", "n_trials", "pse_qp", "spread_qp", "converged"]
SUBJECT_COLUMNS = ["image_id", "subject_id", "n_trials", "threshold_qp"]


def data_trials(
    trials: pd.DataFrame, ladder: list[int], name: str = "trials table"
) -> pd.DataFrame:
    """The answered data trials (subject_id, image_id, level, different: bool), checked."""
    lacking = [column for column in TRIAL_FIT_COLUMNS if column not in trials.columns]
    if lacking:
        raise VvcjndError(
            f"{name} lacks column(s) {lacking}; expected the trials.tsv of "
            "'python -m vvcjnd subjective export' (subject_id, image_id, kind, level, answer)"
        )
    rows = trials[(trials["kind"] == DATA_KIND) & trials["answer"].notna()]
    rows = rows[rows["answer"].astype(str) != ""]
    bad = ~rows["answer"].isin([SAME, DIFFERENT])
    if bad.any():
        raise VvcjndError(
            f"{name}: answer '{rows['answer'][bad].iloc[0]}' is neither '{SAME}' nor '{DIFFERENT}'"
        )
    level = pd.to_numeric(rows["level"], errors="coerce")
    off = ~level.isin(ladder)
    if off.any():
        raise VvcjndError(
            f"{name}: data trial level '{rows['level'][off].iloc[0]}' is not a QP of the ladder "
            f"{ladder[0]}..{ladder[-1]}"
        )
    return pd.DataFrame(
        {
            "subject_id": rows["subject_id"].astype(str).to_numpy(),
            "image_id": rows["image_id"].astype(str).to_numpy(),
            "level": level.to_numpy(dtype=np.float64),
            "different": (rows["answer"] == DIFFERENT).to_numpy(),
        }
    )


def _probability(levels, threshold, spread, lapse):
    return lapse / 2 + (1 - lapse) * norm.cdf((levels - threshold) / spread)


def _log_likelihood(different, p):
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return np.where(different, np.log(p), np.log1p(-p)).sum(axis=-1)


def _fit_image(levels, different, lapse, grid) -> tuple[float, float, bool]:
    """(PSE, spread, converged): grid start at spread 2 QP, then L-BFGS-B on (t, log sigma)."""
    start = grid[
        np.argmax(_log_likelihood(different, _probability(levels, grid[:, None], 2.0, lapse)))
    ]

    def negative(theta):
        return -float(
            _log_likelihood(different, _probability(levels, theta[0], np.exp(theta[1]), lapse))
        )

    bounds = [(grid[0], grid[-1]), tuple(np.log(SPREAD_BOUNDS))]
    result = optimize.minimize(negative, [start, np.log(2.0)], method="L-BFGS-B", bounds=bounds)
    return float(result.x[0]), float(np.exp(result.x[1])), bool(result.success)


def fit_psychometric(
    trials: pd.DataFrame, ladder: list[int], lapse: float = 0.02, name: str = "trials table"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per image: pooled PSE and spread; per subject and image: threshold), in first-seen order."""
    if not 0 <= lapse < 1:
        raise VvcjndError(f"psychometric lapse rate must be in [0, 1), got {lapse}")
    rows = data_trials(trials, ladder, name)
    if rows.empty:
        raise VvcjndError(f"{name} has no answered data trials")
    grid = np.arange(ladder[0] - GRID_MARGIN, ladder[-1] + GRID_MARGIN + GRID_STEP / 2, GRID_STEP)
    images, spread_of = [], {}
    for image_id, group in rows.groupby("image_id", sort=False):
        levels, different = group["level"].to_numpy(), group["different"].to_numpy()
        pse, spread, converged = _fit_image(levels, different, lapse, grid)
        spread_of[image_id] = spread
        images.append(
            {
                "image_id": image_id,
                "n_subjects": group["subject_id"].nunique(),
                "n_trials": len(group),
                "pse_qp": pse,
                "spread_qp": spread,
                "converged": converged,
            }
        )

    pair_codes, pairs = pd.factorize(pd.MultiIndex.from_frame(rows[["image_id", "subject_id"]]))
    spread = rows["image_id"].map(spread_of).to_numpy()
    log_p = np.zeros((len(pairs), len(grid)))
    for start in range(0, len(rows), 4096):  # trials x grid in blocks
        block = slice(start, start + 4096)
        p = _probability(rows["level"].to_numpy()[block, None], grid, spread[block, None], lapse)
        p = np.clip(p, 1e-12, 1 - 1e-12)
        terms = np.where(rows["different"].to_numpy()[block, None], np.log(p), np.log1p(-p))
        np.add.at(log_p, pair_codes[block], terms)
    subjects = pd.DataFrame(
        {
            "image_id": pairs.get_level_values(0),
            "subject_id": pairs.get_level_values(1),
            "n_trials": np.bincount(pair_codes, minlength=len(pairs)),
            "threshold_qp": grid[np.argmax(log_p, axis=1)],
        }
    )
    return pd.DataFrame(images, columns=IMAGE_COLUMNS), subjects[SUBJECT_COLUMNS]


def read_trials(path: str | os.PathLike) -> pd.DataFrame:
    """Every trial of the test's SQLite database (``.sqlite``/``.db``) or of a trials.tsv."""
    path = Path(path)
    if path.suffix in (".sqlite", ".db"):
        _, trials, _ = read_database(path)
        return trial_table(trials)
    return read_table(path)


def build_trial_fits(
    trials_path: str | os.PathLike,
    samples_path: str | os.PathLike,
    outputs: dict[str, str | os.PathLike],
    ladder: list,
    axis: LevelAxis = QP_AXIS,
    lapse: float = 0.02,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The labels_trials rule; ``outputs``: images, subjects (TSV) and figure (PNG);
    ``ladder``: positions along ``axis`` (the test database holds positions)."""
    images, subjects = fit_psychometric(
        read_trials(trials_path), ladder, lapse, name=f"trials of {trials_path}"
    )
    samples = axis.read(samples_path)
    ends = samples.loc[samples["jnd_qp"].notna(), ["image_id", "subject_id", "jnd_qp", "status"]]
    subjects = subjects.merge(ends, on=["image_id", "subject_id"], how="left")
    subjects = subjects.rename(columns={"jnd_qp": "end_point_qp", "status": "sample_status"})
    axis.write(outputs["images"], images)
    axis.write(outputs["subjects"], subjects)
    plot_psychometric(subjects, outputs["figure"])
    return images, subjects
