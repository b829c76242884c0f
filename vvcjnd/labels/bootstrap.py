"""Bootstrap over subjects: a percentile interval of each image's JND point and SUR curve.

Each of B resamples draws an image's n used samples with replacement (a resample of its
subjects), recomputes the real-valued JND point under the configured rule (mean, median or the
QP where SUR falls to p on the normal fit or the empirical curve; the point before it is
snapped to the ladder) and the SUR curve at every ladder QP (of ``labels.jnd.sur_curve``). The
interval is the (1 - level) / 2 and (1 + level) / 2 quantiles over the resamples. Images are
drawn from their own stream (the master seed, ``labels_bootstrap``, the image id), so an
image's interval does not depend on the other images. All statistics are computed on arrays of
resamples x images x subjects (NaN-padded to the largest n) in chunks of images.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from vvcjnd.errors import VvcjndError
from vvcjnd.labels.jnd import JndRule
from vvcjnd.seeds import rng as seeded_rng

STREAM = "labels_bootstrap"
IMAGE_CHUNK = 32  # images per block of resamples (bounds memory: B x 32 x n x ladder floats)
INTERVAL_COLUMNS = ["image_id", "jnd_ci_low", "jnd_ci_high"]
BAND_COLUMNS = ["image_id", "qp", "sur_ci_low", "sur_ci_high"]


def padded_samples(used: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(image ids in first-seen order, images x max-n sample matrix NaN-padded, counts)."""
    groups = [
        (image_id, group["jnd_qp"].to_numpy(dtype=np.float64))
        for image_id, group in used.groupby("image_id", sort=False)
    ]
    counts = np.array([len(values) for _, values in groups], dtype=np.int64)
    matrix = np.full((len(groups), int(counts.max(initial=0))), np.nan)
    for row, (_, values) in enumerate(groups):
        matrix[row, : len(values)] = values
    return [image_id for image_id, _ in groups], matrix, counts


def empirical_rank(counts: np.ndarray, p: float) -> np.ndarray:
    """Per image, the smallest c with 1 - c / n <= p (the float test of jnd.sur_empirical): the
    empirical SUR point is the c-th smallest sample."""
    ranks = {}
    for n in np.unique(counts):
        ranks[n] = int(np.flatnonzero(1.0 - np.arange(n + 1) / n <= p)[0])
    return np.array([ranks[n] for n in counts], dtype=np.int64)


def _moments(values: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample sd (n - 1; 0 for one sample) over the last axis, NaN padding ignored."""
    total = np.nansum(values, axis=-1)
    mean = total / counts
    squares = np.nansum((values - mean[..., None]) ** 2, axis=-1)
    sd = np.sqrt(squares / np.maximum(counts - 1, 1))
    return mean, np.where(counts > 1, sd, 0.0)


def point_estimates(values: np.ndarray, counts: np.ndarray, rule: JndRule) -> np.ndarray:
    """Real-valued JND point per row of ``values`` (..., images, max n; row i has counts[i]
    samples, the rest NaN) under ``rule``: the value jnd.jnd_point snaps to the ladder."""
    if rule.method == "mean" or (rule.method == "sur" and rule.sur_curve == "normal"):
        mean, sd = _moments(values, counts)
        return mean if rule.method == "mean" else mean + sd * norm.ppf(1.0 - rule.p)
    ordered = np.sort(values, axis=-1)  # NaN padding sorts last
    shape = ordered.shape[:-1] + (1,)
    if rule.method == "median":
        low = np.broadcast_to(((counts - 1) // 2)[:, None], shape)
        high = np.broadcast_to((counts // 2)[:, None], shape)
        pair = np.take_along_axis(ordered, low, -1) + np.take_along_axis(ordered, high, -1)
        return pair[..., 0] / 2
    if rule.method == "sur" and rule.sur_curve == "empirical":
        rank = np.broadcast_to((empirical_rank(counts, rule.p) - 1)[:, None], shape)
        return np.take_along_axis(ordered, rank, -1)[..., 0]
    raise VvcjndError(f"no bootstrap point for JND method '{rule.method}' / '{rule.sur_curve}'")


def sur_curves(values: np.ndarray, counts: np.ndarray, ladder: list[int], curve: str) -> np.ndarray:
    """SUR at every ladder QP (..., images, ladder) of each row: the fitted normal or the
    empirical share of samples above the QP."""
    qps = np.asarray(ladder, dtype=np.float64)
    if curve == "normal":
        mean, sd = _moments(values, counts)
        with np.errstate(divide="ignore", invalid="ignore"):
            fitted = norm.sf(qps, loc=mean[..., None], scale=sd[..., None])
        return np.where(sd[..., None] > 0, fitted, (qps < mean[..., None]).astype(np.float64))
    if curve != "empirical":
        raise VvcjndError(f"unknown SUR curve '{curve}' (normal or empirical)")
    steps = np.searchsorted(qps, values)  # ladder index of each sample; NaN -> len(ladder)
    rows = np.arange(steps[..., 0].size).reshape(steps.shape[:-1])[..., None]
    flat = (rows * (len(qps) + 1) + steps).ravel()
    histogram = np.bincount(flat, minlength=rows.size * (len(qps) + 1))
    cumulative = np.cumsum(histogram.reshape(*steps.shape[:-1], len(qps) + 1), axis=-1)
    return 1.0 - cumulative[..., : len(qps)] / counts[:, None]


def resample(values: np.ndarray, counts: np.ndarray, generators: list, resamples: int):
    """B x images x max-n resampled samples: each image's n samples drawn with replacement."""
    out = np.full((resamples, *values.shape), np.nan)
    for row, (n, generator) in enumerate(zip(counts, generators, strict=True)):
        out[:, row, :n] = values[row, generator.integers(0, n, (resamples, n))]
    return out


def bootstrap(
    used: pd.DataFrame,
    ladder: list[int],
    rule: JndRule,
    resamples: int,
    level: float,
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(image_id, jnd_ci_low, jnd_ci_high; image_id, qp, sur_ci_low, sur_ci_high) of the used
    samples (image_id, jnd_qp). With ``labels.jnd.method: mle`` the point interval is left
    NaN (the observer model gives it) and only the SUR band is drawn."""
    image_ids, values, counts = padded_samples(used)
    quantiles = [(1 - level) / 2, (1 + level) / 2]
    intervals, bands = [], []
    for start in range(0, len(image_ids), IMAGE_CHUNK):
        chunk = slice(start, start + IMAGE_CHUNK)
        generators = [seeded_rng(seed, STREAM, image_id) for image_id in image_ids[chunk]]
        drawn = resample(values[chunk], counts[chunk], generators, resamples)
        if rule.method == "mle":
            intervals.append(np.full((2, len(generators)), np.nan))
        else:
            points = point_estimates(drawn, counts[chunk], rule)
            intervals.append(np.quantile(points, quantiles, axis=0))
        curves = sur_curves(drawn, counts[chunk], ladder, rule.sur_curve)
        bands.append(np.quantile(curves, quantiles, axis=0))  # 2 x images x ladder
    low, high = np.concatenate(intervals, axis=1)
    band = np.concatenate(bands, axis=1)
    table = pd.DataFrame({"image_id": image_ids, "jnd_ci_low": low, "jnd_ci_high": high})
    band_table = pd.DataFrame(
        {
            "image_id": np.repeat(image_ids, len(ladder)),
            "qp": np.tile(ladder, len(image_ids)),
            "sur_ci_low": band[0].ravel(),
            "sur_ci_high": band[1].ravel(),
        }
    )
    return table, band_table
