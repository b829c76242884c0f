"""The training stage's report figure: loss curves."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from vvcjnd.model.training import LOG_COLUMNS


def plot_losses(path: str | Path, history: list[dict]) -> None:
    """Training and validation L1 per epoch against the identity map's loss (PNG)."""
    from matplotlib.ticker import MaxNLocator

    from vvcjnd.figures import Figure, save_figure

    frame = pd.DataFrame(history, columns=LOG_COLUMNS)
    figure = Figure(figsize=(6, 4))
    axes = figure.subplots()
    axes.plot(frame["epoch"], frame["train_loss"], marker="o", ms=3, label="training")
    axes.plot(frame["epoch"], frame["val_loss"], marker="o", ms=3, label="validation")
    axes.plot(frame["epoch"], frame["identity_loss"], ls="--", c="grey", label="identity map")
    best = frame.loc[frame["val_loss"].idxmin()]
    axes.scatter([best["epoch"]], [best["val_loss"]], s=80, facecolors="none", edgecolors="k",
                 zorder=3, label=f"best (epoch {int(best['epoch'])})")  # fmt: skip
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set(xlabel="epoch", ylabel="L1 loss ([-1, 1] scale)", title="Structural-visibility net")
    axes.legend()
    figure.tight_layout()
    save_figure(figure, path, dpi=100)
