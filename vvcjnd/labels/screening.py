"""Observer screening of raw JND samples: box-plot sample outliers and BT.500 subject rejection.

1. Sample outliers (Tukey's box-plot rule), per image over its valid samples: a sample
   outside [Q1 - w IQR, Q3 + w IQR] (quartiles by linear interpolation) is an outlier.
2. Subject rejection (ITU-R BT.500): per image j the mean u_j, standard deviation s_j
   (n - 1) and kurtosis b_j = m4 / m2^2 are taken over its box-plot-screened samples
   (or over all valid ones); k_j = 2 when 2 <= b_j <= 4, else sqrt(20). Each of observer
   i's samples above u_j + k_j s_j adds to P_i, below u_j - k_j s_j to Q_i; with J_i the
   images they rated, the observer is rejected when (P_i + Q_i) / J_i > share and
   |P_i - Q_i| / (P_i + Q_i) < balance.
A sample is then used unless it is missing, its observer is rejected, or it is an outlier.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from vvcjnd.labels.levels import QP_AXIS, LevelAxis

K_NORMAL = 2.0
K_NON_NORMAL = math.sqrt(20.0)
NORMAL_KURTOSIS = (2.0, 4.0)

STATUS_USED = "used"
STATUS_MISSING = "missing"
STATUS_OUTLIER = "outlier"
STATUS_REJECTED = "rejected_subject"

SUBJECT_COLUMNS = [
    "subject_id",
    "n_rated",
    "n_high",
    "n_low",
    "share_outside",
    "balance",
    "rejected",
    "n_outliers",
    "n_used",
]


@dataclass(frozen=True)
class ScreeningRules:
    """The screening settings (config section ``labels.screening``)."""

    sample_outliers: str = "boxplot"
    whisker: float = 1.5
    subject_rejection: str = "bt500"
    bt500_statistics: str = "screened"
    reject_share: float = 0.05
    reject_balance: float = 0.3

    @classmethod
    def from_config(cls, screening: dict) -> ScreeningRules:
        return cls(**screening)


def boxplot_outliers(values: np.ndarray, whisker: float) -> tuple[np.ndarray, float, float]:
    """(outlier mask, lower fence, upper fence) of one image's valid samples (QP)."""
    q1, q3 = np.percentile(values, [25.0, 75.0])
    low, high = q1 - whisker * (q3 - q1), q3 + whisker * (q3 - q1)
    return (values < low) | (values > high), float(low), float(high)


def bt500_band(values: np.ndarray) -> tuple[float, float, float]:
    """(mean, half-width k * s, kurtosis) of one image's statistics samples (QP).

    A sample set with no spread has an undefined kurtosis (NaN, so k = sqrt(20)) and a band
    of width 0: any differing sample then counts as high or low.
    """
    mean = float(values.mean())
    deviations = values - mean
    m2 = float(np.mean(deviations**2))
    kurtosis = float(np.mean(deviations**4) / m2**2) if m2 > 0 else math.nan
    sd = float(values.std(ddof=1)) if values.size > 1 else 0.0
    normal = NORMAL_KURTOSIS[0] <= kurtosis <= NORMAL_KURTOSIS[1]
    return mean, (K_NORMAL if normal else K_NON_NORMAL) * sd, kurtosis


def screen(
    samples: pd.DataFrame, rules: ScreeningRules, axis: LevelAxis = QP_AXIS
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Screen a tidy sample table (see :mod:`vvcjnd.labels.ingest`) in positions along
    ``axis``; a reason quotes the codec's levels.

    Returns (samples with ``status`` and ``reason`` columns added, one row per subject with
    the BT.500 counts P = n_high, Q = n_low, J = n_rated and the decision).
    """
    samples = samples.reset_index(drop=True)
    valid = samples["jnd_qp"].notna().to_numpy()
    values = samples["jnd_qp"].to_numpy(dtype=np.float64)
    outlier = np.zeros(len(samples), dtype=bool)
    high = np.zeros(len(samples), dtype=bool)
    low = np.zeros(len(samples), dtype=bool)
    reason = np.where(valid, "", "missing sample").astype(object)

    for _, rows in samples.groupby("image_id", sort=False).indices.items():
        rows = rows[valid[rows]]
        if rows.size == 0:
            continue
        image_values = values[rows]
        if rules.sample_outliers == "boxplot":
            flagged, fence_low, fence_high = boxplot_outliers(image_values, rules.whisker)
            outlier[rows] = flagged
            fences = sorted(axis.level_of(fence) for fence in (fence_low, fence_high))
            for row in rows[flagged]:
                reason[row] = (
                    f"box-plot outlier: {axis.level_of(values[row]):g} outside "
                    f"[{fences[0]:.6g}, {fences[1]:.6g}] (whisker {rules.whisker:g} IQR)"
                )
        statistics_rows = rows
        if rules.bt500_statistics == "screened" and not outlier[rows].all():
            statistics_rows = rows[~outlier[rows]]
        mean, half_width, _ = bt500_band(values[statistics_rows])
        high[rows] = image_values > mean + half_width
        low[rows] = image_values < mean - half_width

    frame = pd.DataFrame(
        {"subject_id": samples["subject_id"], "valid": valid, "high": high, "low": low}
    )
    frame["outlier"] = outlier
    subjects = frame.groupby("subject_id", sort=False).agg(
        n_rated=("valid", "sum"),
        n_high=("high", "sum"),
        n_low=("low", "sum"),
        n_outliers=("outlier", "sum"),
    )
    outside = subjects["n_high"] + subjects["n_low"]
    subjects["share_outside"] = outside / subjects["n_rated"].where(subjects["n_rated"] > 0)
    subjects["balance"] = (subjects["n_high"] - subjects["n_low"]).abs() / outside.where(
        outside > 0
    )
    subjects["rejected"] = (
        (rules.subject_rejection == "bt500")
        & (subjects["share_outside"] > rules.reject_share)
        & (subjects["balance"] < rules.reject_balance)
    )

    rejected = samples["subject_id"].map(subjects["rejected"]).to_numpy(dtype=bool)
    status = np.select(
        [~valid, rejected, outlier],
        [STATUS_MISSING, STATUS_REJECTED, STATUS_OUTLIER],
        default=STATUS_USED,
    )
    for row in np.flatnonzero(rejected & valid):
        subject = subjects.loc[samples.at[row, "subject_id"]]
        reason[row] = (
            f"subject rejected by BT.500: P={subject.n_high} Q={subject.n_low} of "
            f"J={subject.n_rated}, (P+Q)/J={subject.share_outside:.3f} > {rules.reject_share:g} "
            f"and |P-Q|/(P+Q)={subject.balance:.3f} < {rules.reject_balance:g}"
        )
    screened = samples.assign(status=status, reason=reason)
    subjects["n_used"] = screened.groupby("subject_id", sort=False)["status"].agg(
        lambda s: int((s == STATUS_USED).sum())
    )
    return screened, subjects.reset_index()[SUBJECT_COLUMNS]
