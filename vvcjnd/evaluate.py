"""Judging JND profiles on the test split: own level, equal-PSNR quality, and JND-QP prediction.

All comparisons are on luma (uint8 0..255, MATLAB rgb2gray weights), the plane the models
work on. Model names: ``proposed`` (the patch-level model, our trained network) and the
baselines of :mod:`vvcjnd.baselines`.
"""

from __future__ import annotations

import json
import tempfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from vvcjnd.baselines import baseline_jnd
from vvcjnd.colour import luma_uint8
from vvcjnd.errors import VvcjndError
from vvcjnd.images import read_png, write_png
from vvcjnd.io import read_table, write_text
from vvcjnd.metrics import ms_ssim, psnr, ssim, vif_pixel, vmaf
from vvcjnd.patches import extract_patches, grid_positions

PROPOSED = "proposed"
NOISE_SEED_OFFSET = 6002  # mixed with config["seed"] and the image id for the +-1 signs
MAX_BISECTION_STEPS = 200
JND_QP_PREDICTORS = (PROPOSED, "constant", "psnr_threshold")

MODEL_LABELS = {
    PROPOSED: "Shen 2021 patch-level (ours, trained here)",
    "chou_li_1995": "Chou & Li 1995 (paper equations)",
    "yang_2005_namm": "Yang 2005 NAMM (paper equations)",
    "wu_2017_pc": "Wu 2017 pattern complexity (paper equations)",
}

# Authors' supplement, Table IV: mean SSIM / VIF / DLM / HDR-VDP-2.2 at equal PSNR, 19 images.
AUTHORS_TABLE_IV = pd.DataFrame(
    [
        ("Liu 2010", None, 0.77, 0.64, 0.94, 52),
        ("Yang 2005", "yang_2005_namm", 0.76, 0.65, 0.94, 51),
        ("Wu 2013", None, 0.91, 0.68, 0.93, 48),
        ("Wu 2017", "wu_2017_pc", 0.78, 0.61, 0.95, 50),
        ("Proposed (Shen 2021)", PROPOSED, 0.88, 0.72, 0.94, 55),
    ],
    columns=[
        "authors_row",
        "model",
        "ssim_authors",
        "vif_authors",
        "dlm_authors",
        "hdrvdp_authors",
    ],
)


# -- noise injection and the equal-PSNR search ----------------------------------------------------


def random_signs(shape: tuple[int, int], seed: int, image_id: str) -> np.ndarray:
    """S: +1 or -1 per pixel (float64), the same for every baseline of one image."""
    rng = np.random.default_rng([seed, NOISE_SEED_OFFSET, zlib.crc32(image_id.encode())])
    return rng.choice(np.array([-1.0, 1.0]), size=shape)


def inject(reference: np.ndarray, perturbation: np.ndarray, beta: float) -> np.ndarray:
    """uint8 image clip(round(reference + beta * perturbation), 0, 255)."""
    return np.clip(np.rint(reference + beta * perturbation), 0, 255).astype(np.uint8)


def scale_to_psnr(
    reference: np.ndarray,
    perturbation: np.ndarray,
    target_db: float,
    tolerance_db: float = 0.01,
) -> tuple[float, np.ndarray, float]:
    """Find beta >= 0 so that :func:`inject` (reference, perturbation, beta) has the target PSNR.

    Bisection on beta (the PSNR falls as beta grows) until the rounded image's PSNR is within
    ``tolerance_db`` of ``target_db``. Returns (beta, the uint8 image, its PSNR in dB).
    Raises when the perturbation cannot reach the target (all zero, or stuck by rounding).
    """
    reference = reference.astype(np.float64)

    def level(beta: float) -> tuple[np.ndarray, float]:
        image = inject(reference, perturbation, beta)
        return image, psnr(reference, image)

    low, high = 0.0, 1.0
    image, value = level(high)
    while value > target_db:  # widen until the target is bracketed
        low, high = high, 2.0 * high
        if high > 2.0**40:
            raise VvcjndError(f"the perturbation cannot lower the PSNR to {target_db} dB")
        image, value = level(high)
    beta = high
    for _ in range(MAX_BISECTION_STEPS):
        if abs(value - target_db) <= tolerance_db:
            return beta, image, value
        beta = 0.5 * (low + high)
        image, value = level(beta)
        if value > target_db:
            low = beta
        else:
            high = beta
    raise VvcjndError(
        f"bisection did not reach {target_db} dB within {tolerance_db} dB (last {value:.4f} dB)"
    )


def quality_scores(
    reference: np.ndarray, distorted: np.ndarray, with_vmaf: bool, vmaf_threads: int = 1
) -> dict[str, float]:
    """PSNR, SSIM, VIF (pixel), MS-SSIM and (optionally) VMAF of two uint8 luma planes."""
    scores = {
        "psnr_db": psnr(reference, distorted),
        "ssim": ssim(reference, distorted),
        "vif": vif_pixel(reference, distorted),
        "ms_ssim": ms_ssim(reference, distorted),
        "vmaf": float("nan"),
    }
    if with_vmaf:
        with tempfile.TemporaryDirectory(prefix="vvcjnd-eval-") as tmp:
            ref_png, dist_png = Path(tmp) / "ref.png", Path(tmp) / "dist.png"
            write_png(ref_png, reference)
            write_png(dist_png, distorted)
            scores["vmaf"] = vmaf(ref_png, dist_png, threads=vmaf_threads)
    return scores


def model_perturbations(
    pristine: np.ndarray, residual: np.ndarray, seed: int, image_id: str, baselines: Sequence[str]
) -> dict[str, np.ndarray]:
    """The perturbation each model adds at beta = 1 (float64 grey levels).

    ``proposed``: its residual JND - pristine; a baseline: S * JND with the seeded signs S.
    """
    signs = random_signs(pristine.shape, seed, image_id)
    perturbations = {PROPOSED: residual.astype(np.float64)}
    for name in baselines:
        perturbations[name] = signs * baseline_jnd(name, pristine)
    return perturbations


def evaluate_image(
    image_id: str,
    pristine: np.ndarray,
    residual: np.ndarray,
    seed: int,
    settings: Mapping,
) -> tuple[list[dict], list[dict]]:
    """Own-level and equal-PSNR rows of one test image.

    ``settings``: the validated ``evaluate`` section (baselines, target_psnr_db,
    tolerance_db, vmaf, threads). A null target means the proposed model's own-level PSNR.
    """
    perturbations = model_perturbations(pristine, residual, seed, image_id, settings["baselines"])
    own_rows = []
    for model, perturbation in perturbations.items():
        image = inject(pristine, perturbation, 1.0)
        own_rows.append({"image_id": image_id, "model": model, "psnr_db": psnr(pristine, image)})
    target = settings["target_psnr_db"]
    if target is None:
        target = own_rows[0]["psnr_db"]
    equal_rows = []
    for model, perturbation in perturbations.items():
        beta, image, _ = scale_to_psnr(pristine, perturbation, target, settings["tolerance_db"])
        scores = quality_scores(pristine, image, settings["vmaf"], settings["threads"])
        equal_rows.append(
            {"image_id": image_id, "model": model, "target_psnr_db": target, "beta": beta, **scores}
        )
    return own_rows, equal_rows


def table_iv(equal_psnr: pd.DataFrame) -> pd.DataFrame:
    """Mean scores per model at equal PSNR beside the authors' Table IV numbers (theirs).

    Columns ending in ``_authors`` are quoted from the authors' supplement (their 19 test
    images, their implementations); the others are ours, on our test split.
    """
    ours = (
        equal_psnr.groupby("model", sort=False)[["psnr_db", "ssim", "vif", "ms_ssim", "vmaf"]]
        .mean()
        .reset_index()
    )
    ours["n_images"] = equal_psnr.groupby("model", sort=False).size().to_numpy()
    table = ours.merge(AUTHORS_TABLE_IV, on="model", how="outer")
    table["row"] = [
        MODEL_LABELS.get(model, authors) if isinstance(model, str) else authors
        for model, authors in zip(table["model"], table["authors_row"], strict=True)
    ]
    order = {name: i for i, name in enumerate([*MODEL_LABELS, *AUTHORS_TABLE_IV["authors_row"]])}
    table["_order"] = [
        order.get(m if isinstance(m, str) else a, 99)
        for m, a in zip(table["model"], table["authors_row"], strict=True)
    ]
    table = table.sort_values("_order").drop(columns="_order")
    first = ["row", "model", "n_images", "psnr_db", "ssim", "vif", "ms_ssim", "vmaf"]
    return table[first + [c for c in table.columns if c.endswith("_authors")] + ["authors_row"]]


# -- JND-QP prediction against the subjective labels ---------------------------------------------


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
    return float(10.0 * np.log10(255.0**2 / max(mse, 1e-12)))


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


# -- stage drivers: read the stage files, write tables and figures ---------------------------------


def split_ids(splits_path: Path, split: str = "test") -> list[str]:
    """Image ids of one split in ``splits.tsv``, in file order; raises if there are none."""
    splits = read_table(splits_path)
    ids = [str(i) for i in splits.loc[splits["split"] == split, "image_id"]]
    if not ids:
        raise VvcjndError(f"{splits_path}: no image in the '{split}' split")
    return ids


def evaluate_models(
    image_ids: Sequence[str],
    pristine_png: Callable[[str], Path],
    residual_npy: Callable[[str], Path],
    seed: int,
    settings: Mapping,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Own-level and equal-PSNR tables over ``image_ids`` (see :func:`evaluate_image`)."""
    own_rows, equal_rows = [], []
    for image_id in image_ids:
        pixels = read_png(pristine_png(image_id))
        luma = luma_uint8(pixels)
        residual = np.load(residual_npy(image_id))
        if residual.shape != luma.shape:
            raise VvcjndError(
                f"{residual_npy(image_id)}: residual of shape {residual.shape}, "
                f"expected the image's {luma.shape}"
            )
        own, equal = evaluate_image(image_id, luma, residual, seed, settings)
        own_rows += own
        equal_rows += equal
    return pd.DataFrame(own_rows), pd.DataFrame(equal_rows)


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
) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """Per-image JND-QP predictions, their summary (MAE, Spearman) and the PSNR threshold."""
    test_ids = split_ids(splits_path)
    network_mse = {
        i: float(json.loads(summary_json(i).read_text())["network_mse"]) for i in test_ids
    }

    def ladder_mse(image_id: str) -> dict[int, float]:
        return ladder_grid_mse(
            pristine_png(image_id), lambda qp: ladder_png(image_id, qp), qps, size, stride
        )

    table, threshold = jnd_qp_predictions(
        read_table(labels_path),
        read_table(splits_path),
        read_table(quality_path),
        network_mse,
        ladder_mse,
    )
    return table, prediction_summary(table, JND_QP_PREDICTORS), threshold


TABLE_IV_TITLE = "Quality at equal PSNR (laid out like the authors' supplement, Table IV)"
JND_QP_TITLE = "JND-QP prediction on the test split"


def table_iv_note(target_psnr_db: float | None) -> str:
    """What the equal-PSNR table shows and whose numbers are whose."""
    target = (
        "each image at the proposed model's own-level PSNR"
        if target_psnr_db is None
        else f"{target_psnr_db} dB for every image"
    )
    return (
        f"Target PSNR: {target} (bisection on beta, tolerance in the config). Columns ending in"
        " _authors are quoted from the authors' supplement (their 19 test images, their"
        " implementations of the baselines, their trained network); all other columns are ours,"
        " measured on our test split with our implementations. Luma only."
    )


def jnd_qp_note(threshold_db: float) -> str:
    """The rules of the three JND-QP predictors."""
    return (
        "proposed: the ladder QP whose decoded luma is closest, in grid-patch MSE expressed in"
        " dB, to the network's own output (same 64x64 inference grid); constant: the training"
        " images' mean JND QP; psnr_threshold: the ladder QP whose luma PSNR (quality table) is"
        f" closest to {threshold_db:.3f} dB, the mean PSNR of the training images at their JND"
        " QP. Spearman is blank when undefined (constant predictions or fewer than two images)."
    )


def write_html_table(path: Path, frame: pd.DataFrame, title: str, note: str) -> None:
    """A small self-contained HTML page with one table (for the Snakemake report)."""
    body = frame.to_html(index=False, float_format=lambda v: f"{v:.3f}", na_rep="—", border=0)
    page = (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>"
        f"{title}</title><style>body{{font-family:sans-serif}} td,th{{padding:2px 8px;"
        f"text-align:right}}</style></head><body><h3>{title}</h3>\n{body}\n<p>{note}</p>"
        "</body></html>\n"
    )
    write_text(path, page)


def plot_jnd_qp(table: pd.DataFrame, output: Path) -> None:
    """Scatter of predicted vs subjective JND QP for each predictor, with the diagonal."""
    from vvcjnd.figures import Figure, save_figure

    figure = Figure(figsize=(5.5, 5))
    axis = figure.subplots()
    markers = dict(zip(JND_QP_PREDICTORS, ["o", "s", "^"], strict=True))
    for name in JND_QP_PREDICTORS:
        axis.scatter(table["jnd_qp"], table[name], marker=markers[name], label=name, alpha=0.7)
    values = table[["jnd_qp", *JND_QP_PREDICTORS]].to_numpy(dtype=float)
    if values.size:
        low, high = values.min() - 1, values.max() + 1
        axis.plot([low, high], [low, high], color="grey", linewidth=1)
    axis.set_xlabel("subjective JND QP (label)")
    axis.set_ylabel("predicted JND QP")
    axis.set_title(f"JND-QP prediction, {len(table)} test image(s)")
    axis.legend()
    figure.tight_layout()
    save_figure(figure, output, dpi=100)
