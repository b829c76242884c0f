"""Judging JND profiles on the test split: own-level PSNR and quality at equal PSNR.

All comparisons are on luma (uint8 0..255, MATLAB rgb2gray weights), the plane the models
work on. Model names: ``proposed`` (the patch-level model, our trained network) and the
baselines of :mod:`vvcjnd.evaluate.baselines`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from vvcjnd.colour import luma_uint8
from vvcjnd.errors import VvcjndError
from vvcjnd.evaluate.baselines import baseline_jnd
from vvcjnd.images import read_png, write_png
from vvcjnd.psnr import psnr
from vvcjnd.quality.metrics import ms_ssim, ssim, vif_pixel, vmaf
from vvcjnd.seeds import rng as seeded_rng

PROPOSED = "proposed"
MAX_BISECTION_STEPS = 200

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
    rng = seeded_rng(seed, "evaluate_noise", image_id)
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


# -- stage drivers: read the stage files, write tables and figures ---------------------------------


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


TABLE_IV_TITLE = "Quality at equal PSNR (laid out like the authors' supplement, Table IV)"


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
