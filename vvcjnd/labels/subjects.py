"""How many subjects: the expected interval width of the JND point, and panels fitted to data.

From a fitted observer model (:mod:`vvcjnd.labels.observers`) a simulated panel of n subjects
rates every image: subject biases ~ N(0, sd_b) with sd_b the biases' spread net of their
estimation error, each subject's inconsistency drawn from the fitted ones, each sample the
first ladder QP at or above latent + bias + noise. For n = 5..40 and R panels (seeded stream
``labels_planning``) the JND point is recomputed under the configured rule; the
width of the central ``level`` share of its R values is the interval a lab can expect for
that image with n screened observers. ``mle`` uses the mean rule as its stand-in (the latent
JND is a mean-like location). The same fitted spreads set a simulated panel
(``labels.simulate.fit_from``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

from vvcjnd.errors import VvcjndError
from vvcjnd.labels.bootstrap import point_estimates
from vvcjnd.labels.jnd import JndRule
from vvcjnd.labels.levels import QP_AXIS, LevelAxis
from vvcjnd.labels.observers import ObserverFit, fit_observers
from vvcjnd.seeds import rng as seeded_rng

STREAM = "labels_planning"
PLANNING_COLUMNS = ["n_subjects", "width_mean", "width_median", "width_p90", "panels", "method"]
STATUS_USED, STATUS_REJECTED = "used", "rejected_subject"  # as in labels.screening


def bias_spread(fit: ObserverFit) -> float:
    """SD of the subjects' biases net of estimation error: sqrt(max(var(b) - mean(se^2), 0)),
    var with one degree of freedom per block (session) lost to the zero-sum constraint."""
    subjects = fit.subjects
    se = (subjects["bias_ci_high"] - subjects["bias_ci_low"]) / (2 * _z(fit.level))
    dof = max(len(subjects) - subjects["session"].nunique(), 1)
    variance = float((subjects["bias_qp"] ** 2).sum()) / dof - float(np.nanmean(se**2))
    return float(np.sqrt(max(variance, 0.0)))


def _z(level: float) -> float:
    return float(norm.ppf(0.5 + level / 2))


def simulate_samples(
    latent: np.ndarray,
    bias_sd: float,
    inconsistency: np.ndarray,
    ladder: list[int],
    n_subjects: int,
    panels: int,
    generator: np.random.Generator,
) -> np.ndarray:
    """panels x images x ``n_subjects`` ladder-QP samples of simulated panels."""
    bias = generator.normal(0.0, bias_sd, (panels, 1, n_subjects))
    noise_sd = generator.choice(inconsistency, (panels, 1, n_subjects))
    noise = generator.normal(0.0, 1.0, (panels, len(latent), n_subjects)) * noise_sd
    steps = np.asarray(ladder, dtype=np.float64)
    noticed = latent[None, :, None] + bias + noise
    return steps[np.minimum(np.searchsorted(steps, noticed, side="left"), len(steps) - 1)]


def planning_table(
    fit: ObserverFit,
    ladder: list[int],
    rule: JndRule,
    seed: int,
    subjects: range = range(5, 41),
    panels: int = 400,
    level: float = 0.95,
) -> pd.DataFrame:
    """n_subjects, mean / median / 90th percentile over images of the JND point's interval
    width (QP) expected with that many screened subjects per image. The panels of n subjects
    are the first n subjects of the same simulated panels (common random numbers), so the
    widths fall smoothly with n."""
    latent = fit.images["latent_qp"].to_numpy(dtype=np.float64)
    inconsistency = fit.subjects["inconsistency_qp"].to_numpy(dtype=np.float64)
    generator = seeded_rng(seed, STREAM)
    samples = simulate_samples(
        latent, bias_spread(fit), inconsistency, ladder, max(subjects), panels, generator
    )
    stand_in = JndRule(method="mean") if rule.method == "mle" else rule
    rows = []
    for n in subjects:
        counts = np.full(len(latent), n, dtype=np.int64)
        points = point_estimates(samples[..., :n], counts, stand_in)
        low, high = np.quantile(points, [(1 - level) / 2, (1 + level) / 2], axis=0)
        width = high - low
        rows.append(
            {
                "n_subjects": n,
                "width_mean": float(width.mean()),
                "width_median": float(np.median(width)),
                "width_p90": float(np.quantile(width, 0.9)),
                "panels": panels,
                "method": rule.name,
            }
        )
    return pd.DataFrame(rows, columns=PLANNING_COLUMNS)


def erratic_subjects(fit: ObserverFit, whisker: float = 1.5) -> pd.Series:
    """Subjects whose inconsistency is an upper box-plot outlier of the panel's (on the log
    scale: log v > Q3 + whisker IQR), e.g. careless observers that screening kept."""
    log_v = np.log(fit.subjects["inconsistency_qp"].to_numpy(dtype=np.float64))
    q1, q3 = np.quantile(log_v, [0.25, 0.75])
    return pd.Series(log_v > q3 + whisker * (q3 - q1), index=fit.subjects["subject_id"])


def panel_from_samples(
    path: str | os.PathLike, ladder: list, axis: LevelAxis = QP_AXIS
) -> dict[str, float]:
    """bias_sd, noise_sd and careless_share of a simulated panel resembling a labels run's
    samples.tsv. The observer model is fitted to its used samples; careless subjects are
    those screening rejected plus the erratic ones (:func:`erratic_subjects`); noise_sd is
    the RMS inconsistency of the others and bias_sd the biases' spread net of estimation
    error (:func:`bias_spread`). ``ladder``: positions along ``axis``."""
    path = Path(path)
    if not path.is_file():
        raise VvcjndError(f"config key labels.simulate.fit_from: {path} does not exist")
    samples = axis.read(path)
    needed = ["image_id", "session", "subject_id", "jnd_qp", "status"]
    lacking = [column for column in needed if column not in samples.columns]
    if lacking:
        raise VvcjndError(
            f"config key labels.simulate.fit_from: {path} lacks column(s) {lacking}; expected "
            "the samples.tsv of a labels run (results/labels/samples.tsv)"
        )
    used = samples[samples["status"] == STATUS_USED]
    if used.empty:
        raise VvcjndError(f"config key labels.simulate.fit_from: {path} has no used samples")
    try:
        fit = fit_observers(used, ladder)
    except VvcjndError as exc:
        raise VvcjndError(f"config key labels.simulate.fit_from: {path}: {exc}") from exc
    rejected = samples.groupby("subject_id")["status"].apply(lambda s: (s == STATUS_REJECTED).any())
    erratic = erratic_subjects(fit)
    honest = fit.subjects[~erratic.to_numpy()]
    inconsistency = honest["inconsistency_qp"].to_numpy(dtype=np.float64)
    return {
        "bias_sd": bias_spread(fit),
        "noise_sd": float(np.sqrt(np.mean(inconsistency**2))),
        "careless_share": float((rejected.sum() + erratic.sum()) / len(rejected)),
    }
