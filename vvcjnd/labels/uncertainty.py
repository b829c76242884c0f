"""How sure the labels are (config section ``labels.uncertainty``), for the labels rules.

:func:`label_uncertainty` gives the labels_jnd rule each image's interval and SUR band (the
bootstrap over subjects; for ``labels.jnd.method: mle`` the observer model's latent JND and
its interval). :func:`build_observers` is the labels_observers rule: the observer model of the
used samples (per-subject and per-image tables), the how-many-subjects table and their figures.
"""

from __future__ import annotations

import logging
import os

import pandas as pd

from vvcjnd.errors import VvcjndError
from vvcjnd.io import write_json
from vvcjnd.labels.bootstrap import bootstrap
from vvcjnd.labels.figures import plot_observers, plot_subjects_needed
from vvcjnd.labels.jnd import JndRule
from vvcjnd.labels.levels import QP_AXIS, LevelAxis
from vvcjnd.labels.observers import ObserverFit, fit_observers
from vvcjnd.labels.screening import STATUS_USED
from vvcjnd.labels.subjects import bias_spread, planning_table

log = logging.getLogger(__name__)


def fit_model(used: pd.DataFrame, ladder: list[int], uncertainty: dict) -> ObserverFit:
    """The observer model of the used samples under ``labels.uncertainty``."""
    return fit_observers(used, ladder, uncertainty["ambiguity"], uncertainty["level"])


def label_uncertainty(
    used: pd.DataFrame, ladder: list[int], rule: JndRule, uncertainty: dict, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series | None]:
    """(intervals, SUR band, latent JND by image id or None) of the used samples."""
    intervals, band = bootstrap(
        used, ladder, rule, uncertainty["bootstrap"], uncertainty["level"], seed
    )
    if rule.method != "mle":
        return intervals, band, None
    model = fit_model(used, ladder, uncertainty).images.set_index("image_id")
    intervals = model[["latent_ci_low", "latent_ci_high"]].rename(
        columns={"latent_ci_low": "jnd_ci_low", "latent_ci_high": "jnd_ci_high"}
    )
    return intervals.reset_index(), band, model["latent_qp"]


def subject_counts(planning: dict) -> range:
    """The subject counts of the how-many-subjects table (``labels.uncertainty.planning``)."""
    low, high = planning["min_subjects"], planning["max_subjects"]
    if low > high:
        raise VvcjndError(
            f"config key labels.uncertainty.planning.min_subjects: {low} is greater than "
            f"max_subjects: {high}"
        )
    return range(low, high + 1)


def build_observers(
    inputs: dict[str, str | os.PathLike],
    outputs: dict[str, str | os.PathLike],
    jnd: dict,
    uncertainty: dict,
    ladder: list,
    seed: int,
    axis: LevelAxis = QP_AXIS,
) -> ObserverFit:
    """The labels_observers rule. ``inputs``: samples, jnd (the labels_jnd tables);
    ``outputs``: subjects, images, planning (TSV), record (JSON), observers_figure and
    planning_figure (PNG); ``jnd`` and ``uncertainty``: those config sections; ``ladder``:
    positions along ``axis``."""
    samples, labels = axis.read(inputs["samples"]), axis.read(inputs["jnd"])
    used = samples[samples["status"] == STATUS_USED]
    rule = JndRule.from_config(jnd)
    fit = fit_model(used, ladder, uncertainty)
    counts = subject_counts(uncertainty["planning"])
    panels, level = uncertainty["planning"]["panels"], uncertainty["level"]
    planning = planning_table(fit, ladder, rule, seed, counts, panels, level)
    label_source = str(labels["label_source"].iloc[0])

    axis.write(outputs["subjects"], fit.subjects)
    axis.write(outputs["images"], fit.images)
    axis.write(outputs["planning"], planning)
    record = {
        **fit.record(),
        "label_source": label_source,
        "bias_sd_qp": round(bias_spread(fit), 6),
        "uncertainty": uncertainty,
        "jnd": jnd,
        "seed": seed,
    }
    write_json(outputs["record"], record)
    plot_observers(fit.subjects, label_source, outputs["observers_figure"])
    plot_subjects_needed(planning, label_source, outputs["planning_figure"])
    log.info(
        "observer model (%s): %d images, %d subjects, log-likelihood %.3f, converged %s",
        label_source,
        len(fit.images),
        len(fit.subjects),
        fit.log_likelihood,
        fit.converged,
    )
    return fit
