"""Satisfied-user-ratio curves and the JND point of each image.

A subject's sample x is the first QP at which they notice the distortion, so at QP q the
satisfied share is SUR(q) = P(X > q) = 1 - F(q): empirically the share of samples above q,
or 1 - Phi((q - mean) / sd) for the fitted normal. The JND point is the samples' mean, their
median, or the QP where SUR falls to p (normal: mean + sd * PhiInv(1 - p); empirical: the
lowest ladder QP whose SUR is at most p), snapped to the ladder, or (``mle``) the latent JND
of the observer model (vvcjnd.labels.observers), snapped the same way. Each point carries an
interval (bootstrap over subjects, or the model's for ``mle``) and each SUR curve a band.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from vvcjnd.errors import VvcjndError

JND_COLUMNS = [
    "image_id",
    "session",
    "n_used",
    "mean_qp",
    "std_qp",
    "jnd_qp",
    "jnd_ci_low",
    "jnd_ci_high",
    "method",
    "label_source",
]
SUR_COLUMNS = [
    "image_id",
    "session",
    "qp",
    "sur_empirical",
    "sur_normal",
    "sur_ci_low",
    "sur_ci_high",
]


@dataclass(frozen=True)
class JndRule:
    """How samples become one JND QP (config section ``labels.jnd``)."""

    method: str = "sur"
    p: float = 0.75
    sur_curve: str = "normal"
    rounding: str = "nearest"

    @classmethod
    def from_config(cls, jnd: dict) -> JndRule:
        return cls(**jnd)

    @property
    def name(self) -> str:
        """The method as written in the JND table, e.g. ``mean`` or ``sur0.75_normal``."""
        return f"sur{self.p:g}_{self.sur_curve}" if self.method == "sur" else self.method


def sample_sd(values: np.ndarray) -> float:
    """Sample standard deviation (n - 1) in QP; 0 for a single sample."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def sur_empirical(values: np.ndarray, qps) -> np.ndarray:
    """Share of samples above each QP in ``qps`` (non-increasing in QP, 0..1)."""
    values = np.sort(np.asarray(values, dtype=np.float64))
    return 1.0 - np.searchsorted(values, np.asarray(qps), side="right") / len(values)


def sur_normal(mean: float, sd: float, qps) -> np.ndarray:
    """1 - Phi((q - mean) / sd) at each QP; with sd 0 a step: 1 below the mean, else 0."""
    qps = np.asarray(qps, dtype=np.float64)
    if sd == 0:
        return (qps < mean).astype(np.float64)
    return norm.sf(qps, loc=mean, scale=sd)


def snap_to_ladder(value: float, ladder: list[int], rounding: str) -> int:
    """The ladder QP for a real-valued QP: nearest (ties go to the lower QP), floor or ceil.

    Values beyond the ladder's ends snap to the end QP.
    """
    steps = np.asarray(ladder, dtype=np.float64)
    if rounding == "nearest":
        return int(ladder[int(np.argmin(np.abs(steps - value)))])  # argmin: first = lower on ties
    if rounding == "floor":
        below = np.flatnonzero(steps <= value)
        return int(ladder[below[-1]] if below.size else ladder[0])
    if rounding == "ceil":
        above = np.flatnonzero(steps >= value)
        return int(ladder[above[0]] if above.size else ladder[-1])
    raise VvcjndError(f"rounding must be nearest, floor or ceil, got '{rounding}'")


def jnd_point(values: np.ndarray, ladder: list[int], rule: JndRule) -> int:
    """The JND QP (on the ladder) of one image's screened samples (QP)."""
    values = np.asarray(values, dtype=np.float64)
    if rule.method == "mean":
        point = values.mean()
    elif rule.method == "median":
        point = float(np.median(values))
    elif rule.method == "sur" and rule.sur_curve == "empirical":
        sur = sur_empirical(values, ladder)
        return int(ladder[int(np.flatnonzero(sur <= rule.p)[0])])
    elif rule.method == "sur" and rule.sur_curve == "normal":
        point = values.mean() + sample_sd(values) * norm.ppf(1.0 - rule.p)
    else:
        raise VvcjndError(f"unknown JND method '{rule.method}' / curve '{rule.sur_curve}'")
    return snap_to_ladder(float(point), ladder, rule.rounding)


def label_images(
    used: pd.DataFrame,
    ladder: list[int],
    rule: JndRule,
    label_source: str,
    intervals: pd.DataFrame | None = None,
    band: pd.DataFrame | None = None,
    latent: pd.Series | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(JND table, SUR table) of the used samples (image_id, session, jnd_qp), in image order.

    ``intervals`` (image_id, jnd_ci_low, jnd_ci_high) and ``band`` (image_id, qp, sur_ci_low,
    sur_ci_high) come from vvcjnd.labels.uncertainty (NaN where not given); ``latent`` (latent
    JND QP by image id) is required by ``method: mle``.
    """
    if rule.method == "mle" and latent is None:
        raise VvcjndError("labels.jnd.method mle needs the observer model's latent JNDs")
    images = used["image_id"].unique()
    if intervals is None:
        intervals = pd.DataFrame({"image_id": images, "jnd_ci_low": np.nan, "jnd_ci_high": np.nan})
    if band is None:
        band = pd.DataFrame(
            {"image_id": np.repeat(images, len(ladder)), "qp": np.tile(ladder, len(images))}
        ).assign(sur_ci_low=np.nan, sur_ci_high=np.nan)
    interval_of = intervals.set_index("image_id")
    band_of = band.set_index(["image_id", "qp"])
    jnd_rows, sur_frames = [], []
    for image_id, group in used.groupby("image_id", sort=False):
        values = group["jnd_qp"].to_numpy(dtype=np.float64)
        session = int(group["session"].iloc[0])
        mean, sd = float(values.mean()), sample_sd(values)
        if rule.method == "mle":
            point = snap_to_ladder(float(latent[image_id]), ladder, rule.rounding)
        else:
            point = jnd_point(values, ladder, rule)
        curve_band = band_of.loc[image_id].reindex(ladder)
        jnd_rows.append(
            {
                "image_id": image_id,
                "session": session,
                "n_used": len(values),
                "mean_qp": mean,
                "std_qp": sd,
                "jnd_qp": point,
                "jnd_ci_low": float(interval_of.at[image_id, "jnd_ci_low"]),
                "jnd_ci_high": float(interval_of.at[image_id, "jnd_ci_high"]),
                "method": rule.name,
                "label_source": label_source,
            }
        )
        sur_frames.append(
            pd.DataFrame(
                {
                    "image_id": image_id,
                    "session": session,
                    "qp": ladder,
                    "sur_empirical": sur_empirical(values, ladder),
                    "sur_normal": sur_normal(mean, sd, ladder),
                    "sur_ci_low": curve_band["sur_ci_low"].to_numpy(),
                    "sur_ci_high": curve_band["sur_ci_high"].to_numpy(),
                }
            )
        )
    return pd.DataFrame(jnd_rows, columns=JND_COLUMNS), pd.concat(sur_frames, ignore_index=True)
