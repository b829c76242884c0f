"""Protocol planning: the simulated panel run through the subjective test's real procedures.

The label stage's simulated observers (:func:`vvcjnd.labels.simulate.observer_levels`: a
latent threshold per image from the quality table, a bias per subject, a noise per image and
subject, careless subjects at a random ladder QP) answer the library's procedures, with no
browser and no server: bisection (:class:`~vvcjnd.subjective.procedures.Bisection`), QUEST+ per
subject and collective QUEST+ (:mod:`vvcjnd.subjective.quest`). An observer answers "different"
at a level when its QP is at or above the observer's QP for the image plus a per-trial normal
noise (``trial_noise_sd``). Panels are nested (a panel of 10 is the first 10 subjects of the
panel of 40), so the table compares panel sizes on the same observers. This module lives in
the labels package because the observer model is the label stage's; the labels stage may
import the subjective stage, never the other way round.

The JND point of a panel estimates the image's latent threshold (the QP half the panel
notices): for bisection and per-subject QUEST+ it is the median of the subjects' results
(the first noticeable ladder QP; the posterior mean threshold in QP), for the collective it is
its posterior mean threshold. Errors are point - latent, in QP.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from vvcjnd.figures import Figure, save_figure
from vvcjnd.io import read_table
from vvcjnd.labels.ingest import read_manifest
from vvcjnd.labels.levels import QP_AXIS, LevelAxis
from vvcjnd.labels.simulate import PanelSettings, latent_thresholds, observer_levels
from vvcjnd.seeds import rng as seeded_rng
from vvcjnd.subjective.procedures import Bisection
from vvcjnd.subjective.quest import Collective, Quest, QuestSettings

STREAM = "labels_protocols"  # keys: panel, then procedure, image and subject
PROCEDURES = ("bisection", "quest", "collective_quest")
COLUMNS = [
    "procedure",
    "n_subjects",
    "panels",
    "images",
    "trials_per_image",
    "trials_per_subject_image",
    "minutes_per_subject",
    "rmse_qp",
    "bias_qp",
    "max_abs_error_qp",
]


@dataclass(frozen=True)
class PlanningSettings:
    """Config section ``subjective.planning``."""

    subjects: tuple[int, ...] = (5, 10, 20, 40)
    panels: int = 2
    seconds_per_trial: float = 6.0
    trial_noise_sd: float = 1.0

    @classmethod
    def from_config(cls, planning: dict) -> PlanningSettings:
        return cls(**{**planning, "subjects": tuple(sorted(planning["subjects"]))})


def index_to_qp(index: float, ladder) -> float:
    """A real-valued level index as a QP: linear between ladder QPs, beyond the ends by the
    end steps (one step per index)."""
    qps = np.asarray(ladder, dtype=np.float64)
    if len(qps) == 1:
        return float(qps[0])
    if index < 0:
        return float(qps[0] + index * (qps[1] - qps[0]))
    if index > len(qps) - 1:
        return float(qps[-1] + (index - len(qps) + 1) * (qps[-1] - qps[-2]))
    return float(np.interp(index, np.arange(len(qps)), qps))


class Answerer:
    """A simulated observer at ``noticed`` QP with per-trial noise from ``rng``."""

    def __init__(self, noticed: float, ladder, noise_sd: float, rng: np.random.Generator):
        self.noticed, self.qps, self.noise_sd, self.rng = noticed, ladder, noise_sd, rng

    def __call__(self, level: int) -> str:
        noise = self.rng.normal(0.0, self.noise_sd) if self.noise_sd > 0 else 0.0
        return "different" if self.qps[level] >= self.noticed + noise else "same"


def run_search(state, answer):
    """(the finished state, its trial count) of one subject's search."""
    while (level := state.next_level()) is not None:
        state = state.record(level, answer(level))
    return state, state.trials


def individual_results(noticed, ladder, procedure, quest, planning, seed, panel):
    """(images x subjects result QPs, images x subjects trial counts) of one procedure."""
    n_images, n_subjects = noticed.shape
    results = np.empty(noticed.shape)
    trials = np.empty(noticed.shape, dtype=np.int64)
    for i in range(n_images):
        for j in range(n_subjects):
            rng = seeded_rng(seed, STREAM, panel, procedure, i, j)
            answer = Answerer(noticed[i, j], ladder, planning.trial_noise_sd, rng)
            start = (
                Bisection(len(ladder)) if procedure == "bisection" else Quest(len(ladder), quest)
            )
            state, trials[i, j] = run_search(start, answer)
            if procedure == "bisection":
                results[i, j] = ladder[state.result().level_index]
            else:
                results[i, j] = index_to_qp(state.threshold, ladder)
    return results, trials


def collective_result(noticed_image, ladder, quest, planning, rng) -> tuple[float, int]:
    """(posterior mean threshold in QP, trials) of one image's collective posterior; subjects
    take turns, one trial each, ``collective_trials`` rounds."""
    answerers = [Answerer(q, ladder, planning.trial_noise_sd, rng) for q in noticed_image]
    state = Collective(len(ladder), quest)
    for _ in range(quest.collective_trials):
        for answer in answerers:
            level = state.next_level()
            state = state.update(level, answer(level))
    return index_to_qp(state.threshold, ladder), state.trials


def _row(procedure, n, panels, points, latent, trials_per_image, planning) -> dict:
    errors = np.asarray(points) - np.asarray(latent)
    per_image = float(np.mean(trials_per_image))
    return {
        "procedure": procedure,
        "n_subjects": n,
        "panels": panels,
        "images": len(latent) // panels,
        "trials_per_image": per_image,
        "trials_per_subject_image": per_image / n,
        "minutes_per_subject": per_image
        / n
        * (len(latent) // panels)
        * planning.seconds_per_trial
        / 60.0,
        "rmse_qp": float(np.sqrt(np.mean(errors**2))),
        "bias_qp": float(np.mean(errors)),
        "max_abs_error_qp": float(np.max(np.abs(errors))),
    }


def planning_table(
    latent: np.ndarray,
    ladder,
    panel: PanelSettings,
    quest: QuestSettings,
    planning: PlanningSettings,
    seed: int,
) -> pd.DataFrame:
    """One row per procedure and panel size (COLUMNS), over all images and panels."""
    largest = max(planning.subjects)
    collected = {(p, n): ([], [], []) for p in PROCEDURES for n in planning.subjects}
    for k in range(planning.panels):
        observers = replace(panel, subjects=largest)
        noticed, _, _ = observer_levels(latent, ladder, observers, seeded_rng(seed, STREAM, k))
        for procedure in PROCEDURES[:2]:
            results, trials = individual_results(
                noticed, ladder, procedure, quest, planning, seed, k
            )
            for n in planning.subjects:
                points, truth, counts = collected[(procedure, n)]
                points += list(np.median(results[:, :n], axis=1))
                truth += list(latent)
                counts += list(trials[:, :n].sum(axis=1))
        for n in planning.subjects:
            points, truth, counts = collected[("collective_quest", n)]
            for i in range(len(latent)):
                rng = seeded_rng(seed, STREAM, k, "collective_quest", i, n)
                point, trials = collective_result(noticed[i, :n], ladder, quest, planning, rng)
                points.append(point)
                counts.append(trials)
            truth += list(latent)
    rows = [
        _row(p, n, planning.panels, *collected[(p, n)], planning)
        for p in PROCEDURES
        for n in planning.subjects
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def plot_planning(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Error of the JND point and time per subject against subjects per image, per procedure."""
    figure = Figure(figsize=(9, 3.6))
    error, time = figure.subplots(1, 2)
    for procedure, rows in table.groupby("procedure", sort=False):
        error.plot(rows["n_subjects"], rows["rmse_qp"], "o-", markersize=3, label=procedure)
        time.plot(
            rows["n_subjects"], rows["minutes_per_subject"], "o-", markersize=3, label=procedure
        )
    error.set_xlabel("subjects per image")
    error.set_ylabel("RMSE of the JND point vs latent (QP)")
    error.set_ylim(bottom=0)
    time.set_xlabel("subjects per image")
    time.set_ylabel("minutes per subject (whole set)")
    time.set_ylim(bottom=0)
    error.legend(fontsize="small")
    figure.suptitle("Protocol planning: simulated panel through the test's procedures", fontsize=10)
    figure.tight_layout()
    save_figure(figure, path, dpi=120)


def write_planning(
    quality_path,
    manifest_path,
    ladder,
    simulate: dict,
    quest: dict,
    planning: dict,
    seed: int,
    table_path,
    figure_path,
    axis: LevelAxis = QP_AXIS,
) -> pd.DataFrame:
    """The planning table and figure from the quality table and the manifest; ``simulate`` is
    the observer part of ``labels.simulate`` (metric, threshold, bias_sd, noise_sd,
    careless_share); ``ladder``: positions along ``axis``."""
    panel = PanelSettings(**simulate)
    latent = latent_thresholds(
        axis.quality_positions(read_table(quality_path)),
        read_manifest(manifest_path),
        panel.metric,
        panel.threshold,
        ladder,
    )["latent_qp"].to_numpy()
    table = planning_table(
        latent,
        list(ladder),
        panel,
        QuestSettings.from_config(quest),
        PlanningSettings.from_config(planning),
        seed,
    )
    axis.write(table_path, table)
    plot_planning(table, figure_path)
    return table
