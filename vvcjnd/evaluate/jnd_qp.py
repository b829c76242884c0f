"""JND-QP prediction on the test split: the network, a constant and a PSNR threshold,
judged against the subjective labels (MAE and Spearman).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from vvcjnd.colour import luma_uint8
from vvcjnd.errors import VvcjndError
from vvcjnd.evaluate.equal_psnr import PROPOSED
from vvcjnd.images import read_png
from vvcjnd.io import read_table
from vvcjnd.labels.levels import QP_AXIS, LevelAxis
from vvcjnd.patches.grid import extract_patches, grid_positions
from vvcjnd.patches.split import read_split_ids
from vvcjnd.psnr import psnr_from_mse

JND_QP_PREDICTORS = (PROPOSED, "constant", "psnr_threshold")


JND_QP_TITLE = "JND-QP prediction on the test split"


def grid_mse(pristine: np.ndarray, other: np.ndarray, positions: np.ndarray, size: int) -> float:
    """Mean over the grid patches of the MSE between two uint8 luma planes (grey levels^2)."""
    a = extract_patches(pristine, positions, size).astype(np.float64)
    b = extract_patches(other, positions, size).astype(np.float64)
    return float(np.mean((a - b) ** 2))


def closest_qp(values_by_qp: Mapping[int, float], target: float) -> int:
    """The QP whose value is closest to ``target`` (the lower QP on a tie)."""
    return min(sorted(values_by_qp), key=lambda qp: abs(values_by_qp[qp] - target))


def mse_db(mse: float) -> float:
    """MSE (grey levels^2) as PSNR in dB for peak 255 (an MSE of 0 counts as 1e-12)."""
    return psnr_from_mse(mse, min_mse=1e-12)


def predict_qp_from_network(network_mse: float, ladder_mse: Mapping[int, float]) -> int:
    """Our rule: the ladder QP whose decoded luma has the grid-patch MSE (against the pristine
    luma) closest, in dB, to the grid-patch MSE of the network's own output."""
    return closest_qp({qp: mse_db(m) for qp, m in ladder_mse.items()}, mse_db(network_mse))


def fit_psnr_threshold(train_psnr_at_jnd: Sequence[float]) -> float:
    """The PSNR threshold: mean over the training images of the luma PSNR at their JND QP."""
    if len(train_psnr_at_jnd) == 0:
        raise VvcjndError("the PSNR-threshold predictor needs at least one labelled training image")
    return float(np.mean(train_psnr_at_jnd))


def prediction_summary(predictions: pd.DataFrame, predictors: Sequence[str]) -> pd.DataFrame:
    """MAE (QP) and Spearman correlation of each predictor's column against ``jnd_qp``.

    Spearman is NaN when it is undefined (fewer than two images, or a constant column).
    """
    rows = []
    for name in predictors:
        predicted = predictions[name].to_numpy(dtype=float)
        label = predictions["jnd_qp"].to_numpy(dtype=float)
        rho = float("nan")
        if len(label) >= 2 and np.ptp(predicted) > 0 and np.ptp(label) > 0:
            rho = float(spearmanr(predicted, label).statistic)
        mae = float(np.mean(np.abs(predicted - label))) if len(label) else float("nan")
        rows.append({"predictor": name, "n_images": len(label), "mae_qp": mae, "spearman": rho})
    return pd.DataFrame(rows)


def jnd_qp_predictions(
    labels: pd.DataFrame,
    splits: pd.DataFrame,
    quality: pd.DataFrame,
    network_mse: Mapping[str, float],
    ladder_mse: Callable[[str], Mapping[int, float]],
) -> tuple[pd.DataFrame, float]:
    """Per labelled test image: label, ours, constant and PSNR-threshold predictions.

    ``labels``: jnd.tsv; ``splits``: splits.tsv; ``quality``: the quality table (image_id, qp,
    psnr_y); ``network_mse``: per test image, the grid-patch MSE of the network output;
    ``ladder_mse(image_id)``: per ladder QP, the grid-patch MSE of the decoded luma.
    Returns the table and the fitted PSNR threshold (dB).
    """
    labelled = labels.merge(splits, on="image_id", how="inner")
    train = labelled[labelled["split"] == "train"]
    test = labelled[labelled["split"] == "test"]
    if train.empty:
        raise VvcjndError("no labelled training image: the JND-QP baselines cannot be fitted")
    psnr_y = {(r.image_id, int(r.qp)): float(r.psnr_y) for r in quality.itertuples()}
    train_keys = [(i, int(q)) for i, q in zip(train["image_id"], train["jnd_qp"], strict=True)]
    missing = [key for key in train_keys if key not in psnr_y]
    if missing:
        raise VvcjndError(
            f"the quality table lacks rows (image_id, qp) {missing} of training images"
        )
    threshold = fit_psnr_threshold([psnr_y[key] for key in train_keys])
    qps = sorted({qp for _, qp in psnr_y})
    constant = closest_qp({qp: float(qp) for qp in qps}, float(train["jnd_qp"].mean()))
    rows = []
    for row in test.itertuples():
        image_psnr = {qp: psnr_y[(row.image_id, qp)] for qp in qps if (row.image_id, qp) in psnr_y}
        rows.append(
            {
                "image_id": row.image_id,
                "jnd_qp": int(row.jnd_qp),
                PROPOSED: predict_qp_from_network(
                    network_mse[row.image_id], ladder_mse(row.image_id)
                ),
                "constant": constant,
                "psnr_threshold": closest_qp(image_psnr, threshold),
                "network_psnr_db": mse_db(network_mse[row.image_id]),
            }
        )
    columns = ["image_id", "jnd_qp", PROPOSED, "constant", "psnr_threshold", "network_psnr_db"]
    return pd.DataFrame(rows, columns=columns), threshold


def ladder_grid_mse(
    pristine_path: Path,
    ladder_png: Callable[[int], Path],
    qps: Sequence[int],
    size: int,
    stride: int,
) -> dict[int, float]:
    """Per QP, the grid-patch MSE of the decoded luma against the pristine luma.

    The grid is the inference grid (``size``, ``stride``, border covered), so the numbers are
    comparable with the network's ``network_mse``.
    """
    pristine = luma_uint8(read_png(pristine_path))
    positions = grid_positions(*pristine.shape, size, stride, cover_border=True)
    return {
        qp: grid_mse(pristine, luma_uint8(read_png(ladder_png(qp))), positions, size) for qp in qps
    }


def evaluate_jnd_qp(
    labels_path: Path,
    splits_path: Path,
    quality_path: Path,
    summary_json: Callable[[str], Path],
    pristine_png: Callable[[str], Path],
    ladder_png: Callable[[str, int], Path],
    qps: Sequence[int],
    size: int,
    stride: int,
    axis: LevelAxis = QP_AXIS,
) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """Per-image JND-QP predictions, their summary (MAE, Spearman) and the PSNR threshold, in
    positions along the encoder's ``axis`` (``qps``; jnd.tsv and the quality table hold the
    codec's levels; ``ladder_png(image_id, position)``)."""
    test_ids = read_split_ids(splits_path)
    network_mse = {
        i: float(json.loads(summary_json(i).read_text())["network_mse"]) for i in test_ids
    }

    def ladder_mse(image_id: str) -> dict[int, float]:
        return ladder_grid_mse(
            pristine_png(image_id), lambda qp: ladder_png(image_id, qp), qps, size, stride
        )

    table, threshold = jnd_qp_predictions(
        axis.read(labels_path),
        read_table(splits_path),
        axis.quality_positions(read_table(quality_path)),
        network_mse,
        ladder_mse,
    )
    return table, prediction_summary(table, JND_QP_PREDICTORS), threshold


def jnd_qp_note(threshold_db: float) -> str:
    """The rules of the three JND-QP predictors."""
    return (
        "proposed: the ladder QP whose decoded luma is closest, in grid-patch MSE expressed in"
        " dB, to the network's own output (same 64x64 inference grid); constant: the training"
        " images' mean JND QP; psnr_threshold: the ladder QP whose luma PSNR (quality table) is"
        f" closest to {threshold_db:.3f} dB, the mean PSNR of the training images at their JND"
        " QP. Spearman is blank when undefined (constant predictions or fewer than two images)."
    )
