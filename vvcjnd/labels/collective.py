"""Labels of a collective QUEST+ test (``subjective.procedure: quest_collective``).

Such a test has no per-subject sample: each image has one posterior, pooled over all its
subjects, over the parameters of the panel's function: the share of subjects who notice
level x (:class:`vvcjnd.subjective.quest.Collective`, lapse-free). Every grid point of the
posterior is a candidate panel, and its function at the ladder's levels is the distribution
of a subject's first noticeable level there, clipped to the last level as a search that
never noticed is: P(first <= level) = share noticing it. The rules of
:mod:`vvcjnd.labels.jnd` apply to that distribution as to samples (so a panel that always
notices from level k on is labelled k, as a bisection of it is):

- ``sur`` with share p (either ``sur_curve``): the lowest ladder level whose SUR is at most
  p; ``median`` the same with p = 0.5; ``mean`` the distribution's mean, snapped to the
  ladder by ``labels.jnd.rounding``. ``mle`` needs per-subject samples and is refused.
- ``jnd_qp`` is that rule on the posterior mean curve (``sur_normal``); ``jnd_ci_low`` and
  ``jnd_ci_high`` the central ``labels.uncertainty.level`` interval of the rule's level over
  the posterior; ``sur_ci_low``/``sur_ci_high`` the same band of the curve at each level;
  ``sur_empirical`` the share of the answers at each level that were not "different" ("not
  sure" by its weight, vvcjnd.subjective.relaxed), NaN where no answer was given there.
- ``mean_qp``/``std_qp``: mean and sd of the posterior mean curve's distribution (QP);
  ``n_used``: the subjects who answered on the image.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from vvcjnd.errors import VvcjndError
from vvcjnd.labels.jnd import JND_COLUMNS, SUR_COLUMNS, JndRule, snap_to_ladder
from vvcjnd.subjective.relaxed import answer_weight


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, shares) -> np.ndarray:
    """Quantiles at ``shares`` (0..1) of ``values`` (P,) or (P, X) under ``weights`` (P,): the
    lowest value whose cumulative weight reaches each share (per column for 2-d values)."""
    values = np.asarray(values, dtype=np.float64)
    weights = np.broadcast_to(weights.reshape(-1, *([1] * (values.ndim - 1))), values.shape)
    return np.quantile(values, shares, axis=0, weights=weights, method="inverted_cdf")


def rule_levels(sur: np.ndarray, ladder: list[int], rule: JndRule) -> np.ndarray:
    """The JND QP of each SUR curve in ``sur`` (..., X), satisfied share at each ladder level
    of the distribution the module docstring defines, under ``rule``."""
    levels = np.asarray(ladder, dtype=np.float64)
    if rule.method == "mean":
        first_at = -np.diff(sur, axis=-1, prepend=1.0)  # P(first noticeable = level)
        first_at[..., -1] += sur[..., -1]  # never noticed: the last level, as bisection
        means = first_at @ levels
        return np.array([snap_to_ladder(m, ladder, rule.rounding) for m in np.ravel(means)])
    if rule.method in ("sur", "median"):
        p = rule.p if rule.method == "sur" else 0.5
        below = sur <= p + 1e-12
        below[..., -1] = True  # never below p on the ladder: its last level
        return levels[np.argmax(below, axis=-1)]
    raise VvcjndError(
        f"config key labels.jnd.method: '{rule.method}' needs per-subject samples, which a "
        "collective QUEST+ test has not; use sur, mean or median"
    )


def curve_moments(sur: np.ndarray, ladder: list[int]) -> tuple[float, float]:
    """(mean, sd) in QP of the first-noticeable distribution of one SUR curve (X,)."""
    first_at = -np.diff(sur, prepend=1.0)
    first_at[-1] += sur[-1]
    levels = np.asarray(ladder, dtype=np.float64)
    mean = float(first_at @ levels)
    return mean, float(np.sqrt(max(first_at @ (levels - mean) ** 2, 0.0)))


def image_labels(
    state, answers: pd.DataFrame, ladder: list[int], rule: JndRule, level: float
) -> tuple[dict, dict]:
    """(JND row values, SUR column arrays) of one image's collective posterior ``state`` and
    its data ``answers`` (columns subject_id, level_index, answer)."""
    weights = np.exp(state.log_post)
    curves = 1.0 - state.grid.seen.T  # (P, X) SUR of each candidate panel
    mean_curve = weights @ curves
    tails = [(1 - level) / 2, (1 + level) / 2]
    low, high = weighted_quantiles(rule_levels(curves, ladder, rule), weights, tails)
    band = weighted_quantiles(curves, weights, tails)
    not_different = 1.0 - answers["answer"].map(answer_weight)
    by_level = not_different.groupby(answers["level_index"].astype(int)).mean()
    mean, sd = curve_moments(mean_curve, ladder)
    row = {
        "n_used": int(answers["subject_id"].nunique()),
        "mean_qp": mean,
        "std_qp": sd,
        "jnd_qp": int(rule_levels(mean_curve[None, :], ladder, rule)[0]),
        "jnd_ci_low": float(low),
        "jnd_ci_high": float(high),
    }
    sur = {
        "sur_empirical": by_level.reindex(range(len(ladder))).to_numpy(dtype=np.float64),
        "sur_normal": mean_curve,
        "sur_ci_low": band[0],
        "sur_ci_high": band[1],
    }
    return row, sur


def collective_labels(
    states: dict,
    answers: pd.DataFrame,
    manifest: pd.DataFrame,
    ladder: list[int],
    labels: dict,
    label_source: str,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(JND table, SUR table) of a collective test's posteriors ``states`` (image id ->
    Collective) and their pooled data ``answers``, for the manifest's images not in
    ``labels.exclude``, in manifest order; each needs ``labels.min_subjects`` subjects."""
    rule = JndRule.from_config(labels["jnd"])
    session = dict(zip(manifest["image_id"], manifest["session"].astype(int), strict=True))
    wanted = [i for i in manifest["image_id"] if i not in set(labels["exclude"])]
    jnd_rows, sur_frames = [], []
    for image_id in wanted:
        mine = answers[answers["image_id"] == image_id]
        subjects = mine["subject_id"].nunique()
        if image_id not in states or subjects < labels["min_subjects"]:
            raise VvcjndError(
                f"image '{image_id}' has answers of {subjects} subject(s) in the collective "
                f"test, fewer than config key labels.min_subjects = {labels['min_subjects']}; "
                "collect more or exclude it (labels.exclude)"
            )
        row, sur = image_labels(
            states[image_id], mine, ladder, rule, labels["uncertainty"]["level"]
        )
        base = {"image_id": image_id, "session": session[image_id]}
        jnd_rows.append({**base, **row, "method": rule.name, "label_source": label_source})
        sur_frames.append(pd.DataFrame({**base, "qp": ladder, **sur}))
    jnd = pd.DataFrame(jnd_rows, columns=JND_COLUMNS)
    return jnd, pd.concat(sur_frames, ignore_index=True)[SUR_COLUMNS]
