"""Codecs compared on the same images (their quality tables combined by
`vvcjnd.quality.table.combine`): the rate-distortion overlay and BD-rate against the anchor
codec (``encode.encoder``).

BD-rate (Bjontegaard delta rate, VCEG-M33) is the mean difference, in percent, of the test
codec's bitrate against the anchor's at equal quality, over the quality range both ladders
cover: 100 * (10**d - 1) with d the mean of log10(rate_test) - log10(rate_anchor) over that
range. It is computed per image by the ``bjontegaard`` package (1.3.0) with piecewise cubic
Hermite interpolation (``pchip``) of log-rate as a function of quality, which stays monotone
between the points where VCEG-M33's single cubic polynomial can overshoot on a ladder of 39
points. A negative BD-rate means the test codec needs fewer bits for the same quality.

Each curve keeps only its points whose quality rises strictly with the rate (sorted by rate:
a point no better than a cheaper one is dropped), as the interpolation needs. MS-SSIM enters
as -10 log10(1 - MS-SSIM) dB so that the range near 1 is not squeezed. An image whose two
curves share no quality range, or that has fewer than two points left on a curve, gets an
empty BD-rate with the reason.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

BD_METHOD = "pchip"
BD_COLUMNS = ["image_id", "anchor", "codec", "metric", "bd_rate_percent", "overlap", "reason"]
SUMMARY_COLUMNS = ["anchor", "codec", "metric", "images", "mean_bd_rate_percent",
                   "median_bd_rate_percent"]  # fmt: skip
METRIC_AXES = {"psnr_y": "PSNR-Y (dB)", "ms_ssim": "MS-SSIM (dB)", "vmaf": "VMAF"}


def metrics_present(table: pd.DataFrame) -> list[str]:
    """The metrics of :data:`METRIC_AXES` that the table has values for (VMAF may be off)."""
    return [m for m in METRIC_AXES if m in table and table[m].notna().any()]


def _quality(rows: pd.DataFrame, metric: str) -> np.ndarray:
    values = rows[metric].to_numpy(float)
    if metric == "ms_ssim":
        return -10 * np.log10(np.clip(1 - values, 1e-10, None))
    return values


def _monotone_curve(rows: pd.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(bits per pixel, quality) of the points whose quality rises strictly with the rate."""
    rows = rows.sort_values("bpp", kind="stable")
    rates, qualities = rows["bpp"].to_numpy(float), _quality(rows, metric)
    kept = []
    for index, quality in enumerate(qualities):
        if np.isfinite(quality) and (not kept or quality > qualities[kept[-1]]):
            kept.append(index)
    return rates[kept], qualities[kept]


def bd_rate(anchor: pd.DataFrame, test: pd.DataFrame, metric: str) -> tuple[float, float, str]:
    """(BD-rate in percent, shared share of the quality range, reason if empty) of one image's
    ``test`` ladder against its ``anchor`` ladder (quality-table rows) on ``metric``."""
    import bjontegaard

    rate_a, quality_a = _monotone_curve(anchor, metric)
    rate_t, quality_t = _monotone_curve(test, metric)
    if min(len(rate_a), len(rate_t)) < 2:
        return np.nan, np.nan, "fewer than two increasing points"
    low, high = max(quality_a.min(), quality_t.min()), min(quality_a.max(), quality_t.max())
    span = max(quality_a.max(), quality_t.max()) - min(quality_a.min(), quality_t.min())
    overlap = max(high - low, 0.0) / span if span > 0 else 0.0
    if overlap <= 0:
        return np.nan, 0.0, "no shared quality range"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the overlap is recorded instead of warned about
        value = bjontegaard.bd_rate(
            rate_a, quality_a, rate_t, quality_t, method=BD_METHOD,
            require_matching_points=False, min_overlap=0,
        )  # fmt: skip
    return float(value), overlap, ""


def bd_rate_table(table: pd.DataFrame, anchor: str) -> pd.DataFrame:
    """BD-rate of every other codec against ``anchor``, per image and metric."""
    rows = []
    codecs = [codec for codec in table["encoder"].unique() if codec != anchor]
    for image_id, image_rows in table.groupby("image_id", sort=False):
        anchor_rows = image_rows[image_rows["encoder"] == anchor]
        for codec in codecs:
            test_rows = image_rows[image_rows["encoder"] == codec]
            for metric in metrics_present(table):
                value, overlap, reason = bd_rate(anchor_rows, test_rows, metric)
                rows.append([image_id, anchor, codec, metric, value, overlap, reason])
    return pd.DataFrame(rows, columns=BD_COLUMNS)


def bd_rate_summary(bd_rates: pd.DataFrame) -> pd.DataFrame:
    """Mean and median BD-rate over the images that have one, per codec and metric."""
    valid = bd_rates.dropna(subset=["bd_rate_percent"])
    grouped = valid.groupby(["anchor", "codec", "metric"], sort=False)["bd_rate_percent"]
    summary = grouped.agg(["count", "mean", "median"]).reset_index()
    summary.columns = SUMMARY_COLUMNS
    return summary


def plot_overlay(table: pd.DataFrame, out_path: Path) -> None:
    """Rate-distortion curves of every codec: per level, the mean bits per pixel against the
    mean quality over the images, one panel per metric (PSNR-Y, MS-SSIM, VMAF when there)."""
    from vvcjnd.figures import Figure, save_figure

    metrics = metrics_present(table)
    fig = Figure(figsize=(5 * len(metrics), 4.2))
    axes = np.atleast_1d(fig.subplots(1, len(metrics)))
    for ax, metric in zip(axes, metrics, strict=True):
        for codec, rows in table.groupby("encoder", sort=False):
            means = pd.DataFrame({"level": rows["level"], "bpp": rows["bpp"],
                                  "quality": _quality(rows, metric)})  # fmt: skip
            curve = means.groupby("level").mean().sort_values("bpp")
            ax.plot(curve["bpp"], curve["quality"], marker=".", linewidth=1.2, label=codec)
        ax.set_xscale("log")
        ax.set_xlabel("bits per pixel (mean over images)")
        ax.set_ylabel(METRIC_AXES[metric])
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Rate-distortion of {table['image_id'].nunique()} images, per codec")
    fig.tight_layout()
    save_figure(fig, out_path, dpi=110)
