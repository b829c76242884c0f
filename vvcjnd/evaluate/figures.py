"""The evaluation stage's report figure: predicted against subjective JND QP."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from vvcjnd.evaluate.jnd_qp import JND_QP_PREDICTORS


def plot_jnd_qp(table: pd.DataFrame, output: Path, label: str = "jnd_qp") -> None:
    """Scatter of predicted vs subjective JND QP for each predictor, with the diagonal."""
    from vvcjnd.figures import Figure, save_figure

    figure = Figure(figsize=(5.5, 5))
    axis = figure.subplots()
    markers = dict(zip(JND_QP_PREDICTORS, ["o", "s", "^"], strict=True))
    for name in JND_QP_PREDICTORS:
        axis.scatter(table[label], table[name], marker=markers[name], label=name, alpha=0.7)
    values = table[[label, *JND_QP_PREDICTORS]].to_numpy(dtype=float)
    if values.size:
        low, high = values.min() - 1, values.max() + 1
        axis.plot([low, high], [low, high], color="grey", linewidth=1)
    axis.set_xlabel("subjective JND QP (label)")
    axis.set_ylabel("predicted JND QP")
    axis.set_title(f"JND-QP prediction, {len(table)} test image(s)")
    axis.legend()
    figure.tight_layout()
    save_figure(figure, output, dpi=100)
