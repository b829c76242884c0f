"""Report figures of the labels stage (PNG, byte-stable; matplotlib figures without pyplot)."""

from __future__ import annotations

import os

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter

from vvcjnd.figures import Figure, save_figure
from vvcjnd.labels.levels import QP_AXIS, LevelAxis
from vvcjnd.labels.screening import STATUS_MISSING, STATUS_USED

LEGEND_LIMIT = 12  # images named in the SUR legend; more are drawn unnamed


def _in_levels(ticks, axis: LevelAxis) -> str:
    """Label the ``ticks`` (a matplotlib x or y axis drawn in positions) with the codec's
    levels; return the unit's name for the axis title (QP, quality, ...)."""
    if not axis.identity:
        ticks.set_major_formatter(FuncFormatter(lambda value, _: f"{axis.level_of(value):g}"))
    return "QP" if axis.identity else axis.scale.name


def plot_sur_curves(
    sur: pd.DataFrame, jnd: pd.DataFrame, path: str | os.PathLike, axis: LevelAxis = QP_AXIS
) -> None:
    """Empirical (steps) and fitted-normal (dashed) SUR curves per image, JND points marked;
    drawn in positions (more distortion to the right), labelled in the codec's levels."""
    figure = Figure(figsize=(7, 4.5))
    axes = figure.subplots()
    images = list(jnd["image_id"])
    curve_kind = "empirical" if str(jnd["method"].iloc[0]).endswith("_empirical") else "normal"
    band_step = "post" if curve_kind == "empirical" else None
    colours = matplotlib.colormaps["tab20" if len(images) > 10 else "tab10"]
    for rank, image_id in enumerate(images):
        curve = sur[sur["image_id"] == image_id]
        colour = colours(rank % colours.N)
        label = image_id if len(images) <= LEGEND_LIMIT else None
        axes.step(curve["qp"], curve["sur_empirical"], where="post", color=colour, label=label)
        axes.plot(curve["qp"], curve["sur_normal"], "--", color=colour, linewidth=0.8)
        if "sur_ci_low" in curve and curve["sur_ci_low"].notna().any():
            axes.fill_between(
                curve["qp"], curve["sur_ci_low"], curve["sur_ci_high"], step=band_step,
                color=colour, alpha=0.15, linewidth=0,
            )  # fmt: skip
        point = int(jnd.loc[jnd["image_id"] == image_id, "jnd_qp"].iloc[0])
        at_point = curve.loc[curve["qp"] == point, "sur_normal"].iloc[0]
        axes.plot([point], [at_point], "o", color=colour, markersize=4)
    unit = _in_levels(axes.xaxis, axis)
    axes.set_xlabel(unit)
    axes.set_ylabel("satisfied user ratio")
    method = jnd["method"].iloc[0] if len(jnd) else ""
    axes.set_title(
        f"SUR: steps empirical, dashed normal fit, band bootstrap ({curve_kind}); dots JND "
        f"{unit} ({method})",
        fontsize=9,
    )
    axes.set_ylim(-0.02, 1.02)
    if len(images) <= LEGEND_LIMIT:
        axes.legend(fontsize="small", loc="lower left")
    figure.tight_layout()
    save_figure(figure, path, dpi=120)


def plot_jnd_histogram(
    jnd: pd.DataFrame, ladder: list, path: str | os.PathLike, axis: LevelAxis = QP_AXIS
) -> None:
    """Histogram of the images' JND levels over the ladder (positions, labelled in levels)."""
    figure = Figure(figsize=(6, 3.5))
    axes = figure.subplots()
    step = ladder[1] - ladder[0] if len(ladder) > 1 else 1
    edges = np.append(np.asarray(ladder) - step / 2, ladder[-1] + step / 2)
    axes.hist(jnd["jnd_qp"], bins=edges, color="tab:blue", edgecolor="white")
    unit = _in_levels(axes.xaxis, axis)
    axes.set_xlabel(f"JND {unit}")
    axes.set_ylabel("images")
    axes.set_title(f"JND {unit} of {len(jnd)} images ({jnd['label_source'].iloc[0]} labels)")
    figure.tight_layout()
    save_figure(figure, path, dpi=120)


def subject_offsets(samples: pd.DataFrame) -> pd.Series:
    """Each subject's mean offset (QP) of their valid samples from the image's used-sample mean."""
    panel_mean = samples[samples["status"] == STATUS_USED].groupby("image_id")["jnd_qp"].mean()
    valid = samples[samples["status"] != STATUS_MISSING]
    offset = valid["jnd_qp"] - valid["image_id"].map(panel_mean)
    return offset.groupby(valid["subject_id"], sort=False).mean()


def plot_subject_offsets(
    samples: pd.DataFrame,
    subjects: pd.DataFrame,
    path: str | os.PathLike,
    axis: LevelAxis = QP_AXIS,
) -> None:
    """Bar per subject: mean offset from the panel (up: toward more distortion, labelled in
    the codec's levels); rejected subjects in red."""
    offsets = subject_offsets(samples).reindex(subjects["subject_id"])
    rejected = subjects["rejected"].to_numpy(dtype=bool)
    figure = Figure(figsize=(max(6.0, 0.18 * len(offsets)), 3.5))
    axes = figure.subplots()
    positions = np.arange(len(offsets))
    axes.bar(positions, offsets.fillna(0), color=np.where(rejected, "tab:red", "tab:gray"))
    axes.axhline(0, color="black", linewidth=0.8)
    axes.set_xticks(positions, offsets.index, rotation=90, fontsize=6)
    axes.set_ylabel(f"mean offset from panel ({_in_levels(axes.yaxis, axis)})")
    axes.set_title(f"Subject offsets ({int(rejected.sum())} rejected in red)")
    figure.tight_layout()
    save_figure(figure, path, dpi=120)


def plot_observers(subjects: pd.DataFrame, label_source: str, path: str | os.PathLike) -> None:
    """Each subject's bias and inconsistency (observer model) with their intervals."""
    figure = Figure(figsize=(max(6.0, 0.18 * len(subjects)), 5.0))
    top, bottom = figure.subplots(2, 1, sharex=True)
    positions = np.arange(len(subjects))
    for axes, name, colour in ((top, "bias", "tab:blue"), (bottom, "inconsistency", "tab:orange")):
        value = subjects[f"{name}_qp"].to_numpy(dtype=np.float64)
        errors = [
            value - subjects[f"{name}_ci_low"].to_numpy(dtype=np.float64),
            subjects[f"{name}_ci_high"].to_numpy(dtype=np.float64) - value,
        ]
        axes.errorbar(positions, value, yerr=errors, fmt="o", color=colour, markersize=3)
        axes.set_ylabel(f"{name} (QP)")
    top.axhline(0, color="black", linewidth=0.8)
    bottom.set_xticks(positions, subjects["subject_id"], rotation=90, fontsize=6)
    top.set_title(
        f"Observer model: bias and inconsistency per subject ({label_source} labels)", fontsize=9
    )
    figure.tight_layout()
    save_figure(figure, path, dpi=120)


def plot_subjects_needed(planning: pd.DataFrame, label_source: str, path: str | os.PathLike):
    """Expected interval width of the JND point against subjects per image."""
    figure = Figure(figsize=(6, 3.8))
    axes = figure.subplots()
    n = planning["n_subjects"]
    axes.plot(
        n, planning["width_median"], "o-", color="tab:blue", markersize=3, label="median image"
    )
    axes.fill_between(n, planning["width_median"], planning["width_p90"], color="tab:blue",
                      alpha=0.2, linewidth=0, label="up to the 90th percentile image")  # fmt: skip
    axes.set_xlabel("screened subjects per image")
    axes.set_ylabel("interval width of the JND point (QP)")
    axes.set_ylim(bottom=0)
    axes.legend(fontsize="small")
    method = planning["method"].iloc[0] if len(planning) else ""
    axes.set_title(
        f"How many subjects ({method}; model fitted to {label_source} labels)", fontsize=10
    )
    figure.tight_layout()
    save_figure(figure, path, dpi=120)


def plot_psychometric(thresholds: pd.DataFrame, path: str | os.PathLike) -> None:
    """Per-trial thresholds (threshold_qp, psychometric fit) against the bisection end points
    (end_point_qp) of the same searches."""
    merged = thresholds.dropna(subset=["threshold_qp", "end_point_qp"])
    figure = Figure(figsize=(4.5, 4.5))
    axes = figure.subplots()
    axes.plot(merged["end_point_qp"], merged["threshold_qp"], ".", color="tab:blue", alpha=0.5)
    both = merged[["end_point_qp", "threshold_qp"]].to_numpy(dtype=np.float64)
    ends = [float(both.min()), float(both.max())] if len(both) else [0.0, 1.0]
    axes.plot(ends, ends, "-", color="black", linewidth=0.8, label="threshold = end point")
    axes.plot(ends, [e - 0.5 for e in ends], ":", color="black", linewidth=0.8,
              label="threshold = end point - 0.5")  # fmt: skip
    axes.set_xlabel("bisection end point (QP)")
    axes.set_ylabel("threshold from all trials (QP)")
    axes.legend(fontsize="small")
    axes.set_title(f"Per-trial fits vs end points ({len(merged)} searches)", fontsize=10)
    figure.tight_layout()
    save_figure(figure, path, dpi=120)


def write_figures(inputs: dict, outputs: dict, ladder: list, axis: LevelAxis = QP_AXIS) -> None:
    """All three figures from the stage's tables (inputs: jnd, samples, screening, sur paths;
    outputs: sur, histogram, offsets paths), in positions along ``axis``."""
    jnd, samples = axis.read(inputs["jnd"]), axis.read(inputs["samples"])
    plot_sur_curves(axis.read(inputs["sur"]), jnd, outputs["sur"], axis)
    plot_jnd_histogram(jnd, ladder, outputs["histogram"], axis)
    plot_subject_offsets(samples, axis.read(inputs["screening"]), outputs["offsets"], axis)
