"""Uncertainty of the labels: bootstrap intervals, the observer model, how many subjects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.labels_fixtures import LADDER
from vvcjnd.errors import VvcjndError
from vvcjnd.labels.bootstrap import (
    bootstrap,
    padded_samples,
    point_estimates,
    resample,
    sur_curves,
)
from vvcjnd.labels.jnd import JndRule, jnd_point, snap_to_ladder, sur_empirical
from vvcjnd.labels.observers import censoring_bounds, fit_observers
from vvcjnd.labels.subjects import bias_spread, planning_table
from vvcjnd.seeds import rng

RULES = [
    JndRule(),
    JndRule(p=0.5),
    JndRule(method="mean"),
    JndRule(method="median"),
    JndRule(sur_curve="empirical"),
    JndRule(p=0.6, sur_curve="empirical", rounding="ceil"),
]


def random_samples(seed: int, images: int = 30, subjects: int = 20) -> pd.DataFrame:
    """Ladder-QP samples with a varying number per image (some missing), ties and ends."""
    generator = np.random.default_rng(seed)
    rows = []
    for j in range(images):
        centre = generator.uniform(15, 48)
        for i in range(subjects):
            if generator.random() < 0.15:
                continue
            value = snap_to_ladder(centre + generator.normal(0, 3), LADDER, "ceil")
            rows.append((f"im{j:02d}", 1 + j % 2, f"s{1 + j % 2}_{i:02d}", float(value)))
    return pd.DataFrame(rows, columns=["image_id", "session", "subject_id", "jnd_qp"])


def simulated_panel(seed: int, sessions: int = 2, images: int = 50, subjects: int = 20):
    """Samples of honest observers (bias N(0, 1.5), inconsistency U(1, 3)) and the truth,
    biases relative to their session's mean as the model defines them."""
    generator = np.random.default_rng(seed)
    rows, latent, bias, inconsistency = [], {}, {}, {}
    steps = np.asarray(LADDER, dtype=np.float64)
    for s in range(1, sessions + 1):
        x = generator.uniform(22, 40, images)
        b = generator.normal(0, 1.5, subjects)
        v = generator.uniform(1, 3, subjects)
        noticed = x[:, None] + b[None, :] + generator.normal(size=(images, subjects)) * v
        sample = steps[np.minimum(np.searchsorted(steps, noticed), len(steps) - 1)]
        for j in range(images):
            latent[f"s{s}_im{j:02d}"] = x[j] + b.mean()
            for i in range(subjects):
                rows.append((f"s{s}_im{j:02d}", s, f"s{s}_{i:02d}", sample[j, i]))
        for i in range(subjects):
            bias[f"s{s}_{i:02d}"] = b[i] - b.mean()
            inconsistency[f"s{s}_{i:02d}"] = v[i]
    samples = pd.DataFrame(rows, columns=["image_id", "session", "subject_id", "jnd_qp"])
    return samples, latent, bias, inconsistency


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: f"{rule.name}_{rule.rounding}")
def test_vectorised_point_is_the_labels_point(rule):
    """The bootstrap's statistic on the original samples snaps to jnd_point's label."""
    samples = random_samples(1)
    _, values, counts = padded_samples(samples)
    points = point_estimates(values, counts, rule)
    expected = [
        jnd_point(group["jnd_qp"].to_numpy(), LADDER, rule)
        for _, group in samples.groupby("image_id", sort=False)
    ]
    assert [snap_to_ladder(p, LADDER, rule.rounding) for p in points] == expected


def test_bootstrap_interval_seeded_per_image_and_ordered():
    samples = random_samples(2)
    rule = JndRule()
    intervals, band = bootstrap(samples, LADDER, rule, 500, 0.95, seed=7)
    again, band_again = bootstrap(samples, LADDER, rule, 500, 0.95, seed=7)
    pd.testing.assert_frame_equal(intervals, again)
    pd.testing.assert_frame_equal(band, band_again)
    assert not intervals.equals(bootstrap(samples, LADDER, rule, 500, 0.95, seed=8)[0])
    # an image's interval does not depend on the other images
    alone = bootstrap(samples[samples["image_id"] == "im05"], LADDER, rule, 500, 0.95, seed=7)[0]
    assert alone.iloc[0].tolist() == intervals[intervals["image_id"] == "im05"].iloc[0].tolist()
    assert (intervals["jnd_ci_low"] <= intervals["jnd_ci_high"]).all()
    assert (band["sur_ci_low"] <= band["sur_ci_high"]).all()
    assert band["sur_ci_low"].between(0, 1).all() and band["sur_ci_high"].between(0, 1).all()
    _, values, counts = padded_samples(samples)
    points = point_estimates(values, counts, rule)
    inside = (intervals["jnd_ci_low"] <= points) & (points <= intervals["jnd_ci_high"])
    assert inside.mean() >= 0.9


def test_bootstrap_interval_shrinks_with_more_subjects_and_covers_the_mean():
    """Normal samples: the 95 % interval of the mean covers the true mean about 95 % of the
    time, and 4x the subjects halve its width."""
    generator = np.random.default_rng(3)
    widths, covered = {}, []
    for n in (10, 40):
        rows = [
            (
                f"im{j}",
                1,
                f"s{i}",
                float(snap_to_ladder(30 + generator.normal(0, 3), LADDER, "ceil")),
            )
            for j in range(200)
            for i in range(n)
        ]
        samples = pd.DataFrame(rows, columns=["image_id", "session", "subject_id", "jnd_qp"])
        intervals, _ = bootstrap(samples, LADDER, JndRule(method="mean"), 1000, 0.95, seed=1)
        widths[n] = float((intervals["jnd_ci_high"] - intervals["jnd_ci_low"]).mean())
        true_mean = 30.5  # ceil of N(30, 3) to integer QPs: E = 30 + 0.5 (to within 1e-3)
        covered += list(
            (intervals["jnd_ci_low"] <= true_mean) & (true_mean <= intervals["jnd_ci_high"])
        )
    assert 0.45 <= widths[40] / widths[10] <= 0.55
    assert 0.90 <= np.mean(covered) <= 0.98


def test_sur_band_empirical_matches_a_loop():
    samples = random_samples(4, images=3)
    rule = JndRule(sur_curve="empirical")
    _, band = bootstrap(samples, LADDER, rule, 200, 0.9, seed=5)
    ids, values, counts = padded_samples(samples)
    drawn = resample(values, counts, [rng(5, "labels_bootstrap", i) for i in ids], 200)
    curves = sur_curves(drawn, counts, LADDER, "empirical")
    for b in (0, 57, 199):
        for row in range(len(ids)):
            loop = sur_empirical(drawn[b, row, : counts[row]], LADDER)
            np.testing.assert_allclose(curves[b, row], loop)
    assert len(band) == len(ids) * len(LADDER)


def test_observer_model_recovers_known_panels_at_the_nominal_rate():
    """3 seeded panels (2 sessions x 50 images x 20 subjects each): 95 % intervals of the
    latent JNDs (300), biases (120) and inconsistencies (120) cover the truth at about 95 %.
    Measured: latent 0.943, bias 0.908, inconsistency 0.900 (ML inconsistencies are biased
    low by about 5 % at 50 images per subject, the incidental-parameter effect, which also
    narrows the bias intervals); the bands are about 4 binomial standard errors wide."""
    covered = {"latent": [], "bias": [], "inconsistency": []}
    for seed in range(3):
        samples, latent, bias, inconsistency = simulated_panel(seed)
        fit = fit_observers(samples, LADDER)
        assert fit.converged
        images, subjects = fit.images, fit.subjects
        truth = {
            "latent": (images, images["image_id"].map(latent)),
            "bias": (subjects, subjects["subject_id"].map(bias)),
            "inconsistency": (subjects, subjects["subject_id"].map(inconsistency)),
        }
        for name, (table, true) in truth.items():
            inside = (table[f"{name}_ci_low"] <= true) & (true <= table[f"{name}_ci_high"])
            covered[name] += inside.tolist()
        # biases sum to zero per session, as the model defines them
        assert subjects.groupby("session")["bias_qp"].sum().abs().max() < 1e-9
    rates = {name: float(np.mean(values)) for name, values in covered.items()}
    assert 0.88 <= rates["latent"] <= 0.99, rates
    assert 0.86 <= rates["bias"] <= 0.99, rates
    assert 0.82 <= rates["inconsistency"] <= 0.99, rates


def test_observer_model_estimates_are_close_and_flag_the_noisy_subject():
    samples, latent, bias, _ = simulated_panel(11, sessions=1)
    # subject s1_03 answers with 4x the noise of the others
    generator = np.random.default_rng(0)
    noisy = samples["subject_id"] == "s1_03"
    shaken = samples.loc[noisy, "jnd_qp"] + generator.normal(0, 8, noisy.sum())
    samples.loc[noisy, "jnd_qp"] = [snap_to_ladder(v, LADDER, "ceil") for v in shaken]
    fit = fit_observers(samples, LADDER)
    subjects = fit.subjects.set_index("subject_id")
    assert subjects["inconsistency_qp"].idxmax() == "s1_03"
    error = fit.images["latent_qp"] - fit.images["image_id"].map(latent)
    assert float(np.abs(error).mean()) < 0.6
    assert bias_spread(fit) == pytest.approx(1.5, abs=0.6)


def test_observer_model_with_ambiguity_fits():
    samples, _, _, _ = simulated_panel(5, sessions=1, images=20)
    fit = fit_observers(samples, LADDER, ambiguity=True)
    assert fit.ambiguity and fit.converged
    assert {"ambiguity_qp", "ambiguity_ci_low", "ambiguity_ci_high"} <= set(fit.images.columns)
    assert (fit.images["ambiguity_qp"] > 0).all()
    plain = fit_observers(samples, LADDER)
    assert fit.log_likelihood >= plain.log_likelihood - 1e-6  # a nested, larger model


def test_censoring_bounds_and_off_ladder_error():
    lo, hi = censoring_bounds(np.array([13.0, 20.0, 51.0]), LADDER)
    assert lo.tolist() == [-np.inf, 19.0, 50.0] and hi.tolist() == [13.0, 20.0, np.inf]
    with pytest.raises(VvcjndError, match="20.5 is not a QP of the ladder 13..51"):
        censoring_bounds(np.array([20.5]), LADDER)


def test_planning_widths_fall_like_one_over_root_n():
    samples, _, _, _ = simulated_panel(2, sessions=1, images=30)
    fit = fit_observers(samples, LADDER)
    table = planning_table(fit, LADDER, JndRule(), seed=3, subjects=range(5, 41), panels=300)
    assert table["n_subjects"].tolist() == list(range(5, 41))
    widths = table.set_index("n_subjects")["width_mean"]
    assert (widths.diff().dropna() < 0.02).all()  # common random numbers: a smooth fall
    assert 0.4 <= widths[20] / widths[5] <= 0.6  # 1 / sqrt(4) = 0.5
    again = planning_table(fit, LADDER, JndRule(), seed=3, subjects=range(5, 41), panels=300)
    pd.testing.assert_frame_equal(table, again)
