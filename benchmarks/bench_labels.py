"""Speed of the labels stage's uncertainty: the bootstrap and the observer model.

1. Bootstrap at the published scale: 202 images (4 sessions of 50/51) x 20 subjects x B
   resamples of the JND point (SUR 0.75 on the normal fit, the default rule) and the SUR band,
   by :func:`vvcjnd.labels.bootstrap.bootstrap`, median of repeats. Baseline, same run: a plain
   per-resample Python loop (draw, mean/sd, point, SUR curve) on a subset of images and
   resamples, extrapolated to the full size.
2. The observer model (maximum likelihood, with its intervals) fitted to the same samples.

Samples: a seeded simulated panel (latent thresholds uniform in 22..40 QP, bias sd 1.5,
noise sd 2, 3 careless observers per session), as the labels stage's simulation makes them.

Run: python benchmarks/bench_labels.py [--resamples 2000] [--repeats 5] [--summary PATH]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd
from scipy.stats import norm
from summary import Row, add_summary_argument, median_seconds, write_summary

from vvcjnd.labels.bootstrap import bootstrap
from vvcjnd.labels.jnd import JndRule, sample_sd, sur_normal
from vvcjnd.labels.observers import fit_observers
from vvcjnd.labels.simulate import PanelSettings, simulate_session

LADDER = list(range(13, 52))
SESSIONS = (50, 50, 51, 51)  # 202 images, the published sessions' sizes
SEED = 2021


def published_samples() -> pd.DataFrame:
    """202 images x 20 subjects of simulated samples in the tidy layout."""
    rows = []
    for session, n_images in enumerate(SESSIONS, start=1):
        generator = np.random.default_rng([SEED, session])
        latent = generator.uniform(22, 40, n_images)
        samples, _ = simulate_session(latent, LADDER, PanelSettings(), generator)
        for j in range(n_images):
            for i in range(samples.shape[1]):
                rows.append(
                    (f"s{session}_{j:02d}", session, f"s{session}_{i + 1:02d}", samples[j, i])
                )
    return pd.DataFrame(rows, columns=["image_id", "session", "subject_id", "jnd_qp"])


def naive_bootstrap(samples: pd.DataFrame, rule: JndRule, resamples: int, images: int) -> None:
    """The baseline: one resample at a time, in Python, for the first ``images`` images."""
    generator = np.random.default_rng(0)
    z = float(norm.ppf(1.0 - rule.p))
    for _, group in list(samples.groupby("image_id", sort=False))[:images]:
        values = group["jnd_qp"].to_numpy(dtype=np.float64)
        points, curves = [], []
        for _ in range(resamples):
            drawn = generator.choice(values, len(values), replace=True)
            mean, sd = float(drawn.mean()), sample_sd(drawn)
            points.append(mean + sd * z)
            curves.append(sur_normal(mean, sd, LADDER))
        np.quantile(points, [0.025, 0.975])
        np.quantile(np.array(curves), [0.025, 0.975], axis=0)


def passed(condition: bool) -> str:
    return "PASS" if condition else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples B")
    parser.add_argument("--repeats", type=int, default=5, help="repeats of the timing")
    parser.add_argument("--baseline-images", type=int, default=8, help="images of the loop")
    parser.add_argument("--baseline-resamples", type=int, default=200, help="its resamples")
    add_summary_argument(parser)
    args = parser.parse_args()

    samples = published_samples()
    rule = JndRule()
    n_images = samples["image_id"].nunique()
    used = samples.dropna()
    print(f"{n_images} images x 20 subjects, {len(used)} samples; load {os.getloadavg()[0]:.1f}")
    wall, cpu = median_seconds(
        lambda: bootstrap(used, LADDER, rule, args.resamples, 0.95, SEED), args.repeats
    )
    loop_wall, _ = median_seconds(
        lambda: naive_bootstrap(used, rule, args.baseline_resamples, args.baseline_images), 1
    )
    scale = (n_images / args.baseline_images) * (args.resamples / args.baseline_resamples)
    loop = loop_wall * scale
    print(f"bootstrap, B = {args.resamples}, median of {args.repeats}:")
    print(f"  vectorised  wall {wall:6.2f} s  CPU {cpu:6.2f} s")
    print(
        f"  Python loop wall {loop:6.1f} s (extrapolated from {args.baseline_images} images x "
        f"{args.baseline_resamples} resamples: {loop_wall:.2f} s)"
    )
    print(f"  speed-up x{loop / wall:.0f}; target <= 10 s: {passed(wall <= 10)}")

    start = time.perf_counter()
    fit = fit_observers(used, LADDER)
    fit_seconds = time.perf_counter() - start
    print(
        f"observer model: {len(fit.images)} images, {len(fit.subjects)} subjects, "
        f"{fit.iterations} iterations, converged {fit.converged}, {fit_seconds:.2f} s"
    )
    write_summary(
        args.summary,
        [
            Row("labels", f"bootstrap 202 x 20 x {args.resamples}", wall, "s", "<= 10 s",
                "per-resample Python loop", wall / loop),
            Row("labels", "observer model fit, 202 images", fit_seconds, "s"),
        ],
    )  # fmt: skip


if __name__ == "__main__":
    main()
