"""An observer model of the raw JND samples, fitted by (penalised) maximum likelihood.

Subject i notices the distortion of image j at the latent point T_ij = x_j + b_i + e_ij,
e_ij ~ N(0, v_i^2 + a_j^2): x_j is the image's latent JND (the mean noticing point of a
zero-bias observer), b_i the subject's bias, v_i their inconsistency and a_j (optional) the
image's ambiguity, the structure of Netflix's sureal MLE model and of VideoSet's analysis. A
sample is the first ladder QP at or above T_ij (clipped to the ladder), so it is interval
censored: sample q_k says T_ij lies in (q_{k-1}, q_k], the lowest QP says T_ij <= q_0 and the
highest T_ij > q_{L-2}. The log-likelihood is

    sum_ij log[ Phi((hi_ij - mu_ij) / s_ij) - Phi((lo_ij - mu_ij) / s_ij) ],
    mu_ij = x_j + b_i,  s_ij^2 = v_i^2 + a_j^2,

plus a weak prior that keeps a subject with few samples identifiable: each log v_i ~
N(m, PRIOR_SD^2) with PRIOR_SD = 1 (a factor e) and the centre m fitted too (likewise log a_j
around its own centre), i.e. a penalised likelihood that, with tens of samples per subject,
moves the estimates by far less than their intervals. It is maximised with L-BFGS-B over
(x, b, log v[, log a], m) with its analytic gradient. Biases are relative: they sum to zero
inside each connected block of images and subjects (a session of the published layout), the
constraint sureal uses. Intervals are Wald intervals from the observed information (central
differences of the gradient) projected on that constraint; those of v and a are taken on the
log scale (and end at the bounds). An sd fitted at its bound (0.05 or 50 QP) has no interval
(NaN) and is left out of the others'; so has a parameter whose standard error exceeds the
ladder's span (for log sds: their range), where the likelihood is flat (e.g. every sample of a
coarse ladder on one QP).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import linalg, optimize, sparse
from scipy.sparse.csgraph import connected_components
from scipy.special import ndtr
from scipy.stats import norm

from vvcjnd.errors import VvcjndError

SUBJECT_COLUMNS = [
    "subject_id",
    "session",
    "n_samples",
    "bias_qp",
    "bias_ci_low",
    "bias_ci_high",
    "inconsistency_qp",
    "inconsistency_ci_low",
    "inconsistency_ci_high",
]
IMAGE_COLUMNS = ["image_id", "session", "n_samples", "latent_qp", "latent_ci_low", "latent_ci_high"]
AMBIGUITY_COLUMNS = ["ambiguity_qp", "ambiguity_ci_low", "ambiguity_ci_high"]
LOG_SD_BOUNDS = (np.log(0.05), np.log(50.0))  # inconsistency and ambiguity, QP
PRIOR_SD = 1.0  # sd of the weak normal prior on log inconsistency (log ambiguity)


@dataclass(frozen=True)
class ObserverFit:
    """The fitted model: per-image and per-subject tables and the fit's record."""

    images: pd.DataFrame  # IMAGE_COLUMNS (+ AMBIGUITY_COLUMNS)
    subjects: pd.DataFrame  # SUBJECT_COLUMNS
    log_likelihood: float
    converged: bool
    iterations: int
    level: float
    at_bound: int = 0  # sds fitted at a bound (0.05 or 50 QP): their intervals are NaN

    def record(self) -> dict:
        """A JSON-ready summary for labels.json."""
        return {
            "log_likelihood": round(self.log_likelihood, 6),
            "converged": self.converged,
            "iterations": self.iterations,
            "sds_at_bound": self.at_bound,
            "interval_level": self.level,
            "parameters": (len(self.images) + 1) * (1 + self.ambiguity) + 2 * len(self.subjects),
            "samples": int(self.images["n_samples"].sum()),
        }

    @property
    def ambiguity(self) -> bool:
        return "ambiguity_qp" in self.images.columns


def censoring_bounds(values: np.ndarray, ladder: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) of the interval (lo, hi] each ladder-QP sample says its latent point lies in."""
    steps = np.asarray(ladder, dtype=np.float64)
    index = np.searchsorted(steps, values)
    off = (index >= len(steps)) | (steps[np.minimum(index, len(steps) - 1)] != values)
    if off.any():
        raise VvcjndError(
            f"observer model: sample {values[off][0]:g} is not a QP of the ladder "
            f"{ladder[0]}..{ladder[-1]}"
        )
    lo = np.where(index == 0, -np.inf, steps[np.maximum(index - 1, 0)])
    hi = np.where(index == len(steps) - 1, np.inf, steps[index])
    return lo, hi


class _Problem:
    """The negative log-likelihood and its gradient over the packed parameters."""

    def __init__(self, image, subject, lo, hi, n_images, n_subjects, ambiguity):
        self.image, self.subject, self.lo, self.hi = image, subject, lo, hi
        self.n_images, self.n_subjects, self.ambiguity = n_images, n_subjects, ambiguity

    def unpack(self, theta):
        i, s = self.n_images, self.n_subjects
        x, b, w = theta[:i], theta[i : i + s], theta[i + s : i + 2 * s]
        u = theta[i + 2 * s : 2 * i + 2 * s] if self.ambiguity else None
        return x, b, w, u, theta[-(1 + self.ambiguity) :]

    def __call__(self, theta) -> tuple[float, np.ndarray]:
        x, b, w, u, centre = self.unpack(theta)
        mu = x[self.image] + b[self.subject]
        v2 = np.exp(2 * w)[self.subject]
        a2 = np.exp(2 * u)[self.image] if self.ambiguity else 0.0
        s = np.sqrt(v2 + a2)
        z_lo, z_hi = (self.lo - mu) / s, (self.hi - mu) / s
        upper = z_lo > 0  # both in the upper tail: difference of survival functions
        p = np.where(upper, ndtr(-z_lo) - ndtr(-z_hi), ndtr(z_hi) - ndtr(z_lo))
        p = np.maximum(p, 1e-300)
        d_lo, d_hi = norm.pdf(z_lo), norm.pdf(z_hi)
        with np.errstate(invalid="ignore"):  # an infinite bound: z * pdf(z) -> 0
            zd_lo = np.where(np.isfinite(z_lo), z_lo * d_lo, 0.0)
            zd_hi = np.where(np.isfinite(z_hi), z_hi * d_hi, 0.0)
        g_mu = (d_lo - d_hi) / (s * p)  # d log p / d mu
        g_s = (zd_lo - zd_hi) / (s * p)  # d log p / d s
        # the weak prior: log sds ~ N(centre, PRIOR_SD^2), the centre fitted too
        shrink_w = (w - centre[0]) / PRIOR_SD**2
        parts = [
            np.bincount(self.image, g_mu, self.n_images),
            np.bincount(self.subject, g_mu, self.n_subjects),
            np.bincount(self.subject, g_s * v2 / s, self.n_subjects) - shrink_w,
        ]
        centres = [shrink_w.sum()]
        if self.ambiguity:
            shrink_u = (u - centre[1]) / PRIOR_SD**2
            parts.append(np.bincount(self.image, g_s * a2 / s, self.n_images) - shrink_u)
            centres.append(shrink_u.sum())
        value = -float(np.log(p).sum()) + self.penalty(theta)
        return value, -np.concatenate(parts + [centres])

    def penalty(self, theta) -> float:
        """The prior's part of the objective (the rest is the negative log-likelihood)."""
        _, _, w, u, centre = self.unpack(theta)
        value = float(((w - centre[0]) ** 2).sum())
        if self.ambiguity:
            value += float(((u - centre[1]) ** 2).sum())
        return value / (2 * PRIOR_SD**2)

    def hessian(self, theta: np.ndarray, step: float = 1e-5) -> np.ndarray:
        """Observed information: central differences of the analytic gradient, symmetrised."""
        rows = []
        for k in range(len(theta)):
            shift = np.zeros_like(theta)
            shift[k] = step
            rows.append((self(theta + shift)[1] - self(theta - shift)[1]) / (2 * step))
        hessian = np.array(rows)
        return (hessian + hessian.T) / 2


def _blocks(image: np.ndarray, subject: np.ndarray, n_images: int, n_subjects: int) -> np.ndarray:
    """Connected block of each subject in the bipartite image-subject graph."""
    n = n_images + n_subjects
    graph = sparse.coo_matrix((np.ones(len(image)), (image, n_images + subject)), shape=(n, n))
    return connected_components(graph, directed=False)[1][n_images:]


def _covariance(hessian: np.ndarray, n_images: int, block: np.ndarray, free: np.ndarray):
    """Inverse information of the ``free`` parameters (the others: NaN) on the subspace where
    the biases of each block sum to zero; a pseudo-inverse where the information is singular
    (directions with eigenvalues below 1e-10 of the largest get no variance)."""
    constraints = np.zeros((block.max() + 1, len(hessian)))
    constraints[block, n_images + np.arange(len(block))] = 1.0
    basis = linalg.null_space(constraints[:, free])
    reduced = basis.T @ hessian[np.ix_(free, free)] @ basis
    values, vectors = linalg.eigh(reduced)
    keep = values > 1e-10 * max(float(values.max(initial=0.0)), 1e-300)
    inverse = (vectors[:, keep] / values[keep]) @ vectors[:, keep].T
    covariance = np.full(hessian.shape, np.nan)
    covariance[np.ix_(free, free)] = basis @ inverse @ basis.T
    return covariance


def fit_observers(
    samples: pd.DataFrame, ladder: list[int], ambiguity: bool = False, level: float = 0.95
) -> ObserverFit:
    """Fit the model to samples (image_id, session, subject_id, jnd_qp: ladder QPs, no NaN)."""
    if samples.empty:
        raise VvcjndError("observer model: no samples to fit")
    values = samples["jnd_qp"].to_numpy(dtype=np.float64)
    lo, hi = censoring_bounds(values, ladder)
    image_codes, image_ids = pd.factorize(samples["image_id"])
    subject_codes, subject_ids = pd.factorize(samples["subject_id"])
    n_images, n_subjects = len(image_ids), len(subject_ids)
    problem = _Problem(image_codes, subject_codes, lo, hi, n_images, n_subjects, ambiguity)

    x0 = np.bincount(image_codes, values, n_images) / np.bincount(image_codes) - 0.5
    residual = values - 0.5 - x0[image_codes]
    per_subject = np.bincount(subject_codes, minlength=n_subjects)
    b0 = np.bincount(subject_codes, residual, n_subjects) / per_subject
    spread = np.bincount(subject_codes, (residual - b0[subject_codes]) ** 2, n_subjects)
    w0 = np.log(np.clip(np.sqrt(spread / per_subject), 0.5, 10.0))
    theta0 = np.concatenate(
        [x0, b0, w0] + ([np.zeros(n_images)] if ambiguity else []) + [[np.mean(w0)]]
    )
    if ambiguity:
        theta0 = np.append(theta0, 0.0)
    bounds = [(None, None)] * (n_images + n_subjects)
    bounds += [LOG_SD_BOUNDS] * (n_subjects + (n_images if ambiguity else 0))
    bounds += [LOG_SD_BOUNDS] * (1 + ambiguity)
    result = optimize.minimize(
        problem, theta0, jac=True, method="L-BFGS-B", bounds=bounds,
        options={"maxiter": 5000, "maxfun": 20000, "ftol": 1e-13, "gtol": 1e-7},
    )  # fmt: skip
    theta = result.x.copy()
    block = _blocks(image_codes, subject_codes, n_images, n_subjects)
    offset = np.bincount(block, theta[n_images : n_images + n_subjects]) / np.bincount(block)
    theta[n_images : n_images + n_subjects] -= offset[block]  # biases sum to 0 per block
    image_block = np.zeros(n_images, dtype=int)
    image_block[image_codes] = block[subject_codes]
    theta[:n_images] += offset[image_block]

    lower, upper = LOG_SD_BOUNDS
    sds = np.arange(len(theta)) >= n_images + n_subjects  # with the prior's centres
    at_bound = sds & ((theta <= lower + 1e-6) | (theta >= upper - 1e-6))
    covariance = _covariance(problem.hessian(theta), n_images, block, ~at_bound)
    variance = np.diag(covariance)
    with np.errstate(invalid="ignore"):
        se = np.sqrt(np.where(variance > 0, variance, np.nan))
    # a standard error beyond the ladder's span (the log sds' range) is a flat likelihood
    limit = np.where(sds, upper - lower, float(ladder[-1] - ladder[0]))
    se[~(se <= limit)] = np.nan
    z = float(norm.ppf(0.5 + level / 2))
    x, b, w, u, _ = problem.unpack(theta)
    se_x, se_b, se_w, se_u, _ = problem.unpack(se)

    first = samples.drop_duplicates("image_id").set_index("image_id")["session"]
    images = pd.DataFrame(
        {
            "image_id": image_ids,
            "session": first.reindex(image_ids).to_numpy(dtype=int),
            "n_samples": np.bincount(image_codes, minlength=n_images),
            "latent_qp": x,
            "latent_ci_low": x - z * se_x,
            "latent_ci_high": x + z * se_x,
        }
    )
    if ambiguity:
        images["ambiguity_qp"] = np.exp(u)
        images["ambiguity_ci_low"] = np.exp(np.clip(u - z * se_u, lower, upper))
        images["ambiguity_ci_high"] = np.exp(np.clip(u + z * se_u, lower, upper))
    sessions = samples.drop_duplicates("subject_id").set_index("subject_id")["session"]
    subjects = pd.DataFrame(
        {
            "subject_id": subject_ids,
            "session": sessions.reindex(subject_ids).to_numpy(dtype=int),
            "n_samples": per_subject,
            "bias_qp": b,
            "bias_ci_low": b - z * se_b,
            "bias_ci_high": b + z * se_b,
            "inconsistency_qp": np.exp(w),
            "inconsistency_ci_low": np.exp(np.clip(w - z * se_w, lower, upper)),
            "inconsistency_ci_high": np.exp(np.clip(w + z * se_w, lower, upper)),
        }
    )
    return ObserverFit(
        images=images,
        subjects=subjects[SUBJECT_COLUMNS],
        log_likelihood=-problem(theta)[0] + problem.penalty(theta),
        converged=bool(result.success),
        iterations=int(result.nit),
        level=level,
        at_bound=int(at_bound.sum()),
    )
