"""A simulated observer panel (NOT human data) that writes the published raw-label layout.

Each image's latent threshold is the QP where a quality-table metric (higher = better) first
falls below a threshold, linear between ladder QPs (the lowest QP when it already starts below,
the highest when it never falls). A simulated observer notices at latent + bias + noise and
reports the first ladder QP at or above it (clipped to the ladder); careless observers answer
uniformly at random over the ladder. With ``fit_from`` (a labels run's samples.tsv) the bias
and noise sds and the careless share are those fitted to that dataset. Per session one MAT
file ``f_session<k>.mat`` holds one images x subjects matrix named ``jnd`` (NaN = missing),
ingested like the published files.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from vvcjnd.errors import VvcjndError
from vvcjnd.io import read_table
from vvcjnd.labels.ingest import MatLayout, read_manifest, session_images, subject_id
from vvcjnd.labels.jnd import snap_to_ladder
from vvcjnd.labels.levels import QP_AXIS, LevelAxis
from vvcjnd.labels.matfile import write_mat
from vvcjnd.labels.subjects import panel_from_samples
from vvcjnd.seeds import rng as seeded_rng

MAT_NAME = "f_session{session}.mat"
VARIABLE = "jnd"
LATENT_FILE = "latent.tsv"
PANEL_FILE = "panel.tsv"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PanelSettings:
    """The simulated panel (config section ``labels.simulate``); sds in QP."""

    metric: str = "vmaf"
    threshold: float = 93.0
    subjects: int = 20
    bias_sd: float = 1.5
    noise_sd: float = 2.0
    careless_share: float = 0.15
    missing_share: float = 0.0
    value_kind: str = "qp"
    mat_version: str = "v5"
    fit_from: str | None = None  # a samples.tsv whose fitted model sets bias, noise, careless

    @classmethod
    def from_config(cls, simulate: dict) -> PanelSettings:
        return cls(**simulate)

    @property
    def n_careless(self) -> int:
        """Careless observers per session: the share of subjects, rounded half up."""
        return int(np.floor(self.careless_share * self.subjects + 0.5))

    def layout(self, directory: str | os.PathLike) -> MatLayout:
        """How the ingest reads the files this panel writes into ``directory``."""
        return MatLayout(
            path=str(Path(directory) / MAT_NAME),
            variable=VARIABLE,
            orientation="images_x_subjects",
            value_kind=self.value_kind,
            missing_codes=(),
        )


def latent_thresholds(
    quality: pd.DataFrame, manifest: pd.DataFrame, metric: str, threshold: float, ladder
) -> pd.DataFrame:
    """image_id, session, latent_qp (real-valued QP) for every manifest image, manifest order."""
    if metric not in quality.columns:
        raise VvcjndError(
            f"quality table has no column '{metric}' (config key labels.simulate.metric)"
        )
    rows = []
    for image_id, session in zip(manifest["image_id"], manifest["session"], strict=True):
        curve = quality[quality["image_id"] == image_id].set_index("qp")[metric]
        curve = curve[~curve.index.duplicated()].reindex(ladder)
        if curve.isna().any():
            lacking = [int(q) for q in curve.index[curve.isna()]]
            raise VvcjndError(
                f"quality table lacks '{metric}' for image '{image_id}' at QP(s) {lacking}; the "
                "simulated panel needs the whole ladder (is quality.vmaf off? then choose another "
                "labels.simulate.metric)"
            )
        rows.append(
            {
                "image_id": image_id,
                "session": int(session),
                "latent_qp": _first_crossing(ladder, curve.to_numpy(np.float64), threshold),
            }
        )
    return pd.DataFrame(rows)


def _first_crossing(ladder, values: np.ndarray, threshold: float) -> float:
    below = np.flatnonzero(values < threshold)
    if below.size == 0:
        return float(ladder[-1])
    i = below[0]
    if i == 0:
        return float(ladder[0])
    fraction = (values[i - 1] - threshold) / (values[i - 1] - values[i])
    return float(ladder[i - 1] + fraction * (ladder[i] - ladder[i - 1]))


def observer_levels(
    latent: np.ndarray, ladder: list[int], settings: PanelSettings, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images x subjects real-valued QPs at which each observer notices each image, each
    subject's bias, careless flags); a careless observer's QP is a random ladder QP per image.
    Also the observers that vvcjnd.labels.protocols runs through the test's procedures."""
    n_images, n_subjects = len(latent), settings.subjects
    bias = rng.normal(0.0, settings.bias_sd, n_subjects)
    careless = np.zeros(n_subjects, dtype=bool)
    careless[rng.choice(n_subjects, settings.n_careless, replace=False)] = True
    noticed = (
        latent[:, None] + bias[None, :] + rng.normal(0.0, settings.noise_sd, (n_images, n_subjects))
    )
    random_answers = rng.choice(np.asarray(ladder, dtype=np.float64), (n_images, n_subjects))
    noticed[:, careless] = random_answers[:, careless]
    return noticed, bias, careless


def simulate_session(
    latent: np.ndarray, ladder: list[int], settings: PanelSettings, rng: np.random.Generator
) -> tuple[np.ndarray, pd.DataFrame]:
    """(images x subjects ladder QPs, NaN = missing; each subject's bias and carelessness)."""
    noticed, bias, careless = observer_levels(latent, ladder, settings, rng)
    samples = np.vectorize(lambda v: snap_to_ladder(v, ladder, "ceil"), otypes=[float])(noticed)
    samples[rng.random(noticed.shape) < settings.missing_share] = np.nan
    n_subjects = settings.subjects
    subjects = pd.DataFrame(
        {"column": np.arange(1, n_subjects + 1), "bias_qp": bias, "careless": careless}
    )
    return samples, subjects


def write_panel(
    directory: str | os.PathLike,
    quality: pd.DataFrame,
    manifest: pd.DataFrame,
    ladder: list,
    settings: PanelSettings,
    seed: int,
    axis: LevelAxis = QP_AXIS,
) -> None:
    """Write ``f_session<k>.mat`` per session plus latent.tsv and panel.tsv into ``directory``.

    The panel answers in positions along ``axis`` (``ladder``, ascending); the files hold the
    codec's levels (a MAT file of ``value_kind: qp`` the level itself)."""
    directory = Path(directory)
    quality = axis.quality_positions(quality)
    if settings.fit_from is not None:
        fitted = panel_from_samples(settings.fit_from, ladder, axis)
        log.info("simulated panel fitted to %s: %s", settings.fit_from, fitted)
        settings = replace(settings, **fitted)
    latent = latent_thresholds(quality, manifest, settings.metric, settings.threshold, ladder)
    latent_of = dict(zip(latent["image_id"], latent["latent_qp"], strict=True))
    panels = []
    for session, images in session_images(manifest).items():
        rng = seeded_rng(seed, "labels_simulate", session)
        samples, subjects = simulate_session(
            np.array([latent_of[i] for i in images]), ladder, settings, rng
        )
        if settings.value_kind == "ladder_index":
            on_ladder = ~np.isnan(samples)
            samples[on_ladder] = np.searchsorted(ladder, samples[on_ladder]) + 1
        else:
            samples = axis.level_of(samples)
        path = directory / MAT_NAME.format(session=session)
        write_mat(path, {VARIABLE: samples}, settings.mat_version)
        panels.append(subjects.assign(session=session, file=path.name))
    panel = pd.concat(panels, ignore_index=True)
    panel.insert(0, "subject_id", list(map(subject_id, panel["session"], panel["column"])))
    axis.write(
        directory / LATENT_FILE, latent.assign(metric=settings.metric, threshold=settings.threshold)
    )
    axis.write(directory / PANEL_FILE, panel)


def simulate_from_files(
    directory: str | os.PathLike,
    quality_path,
    manifest_path,
    ladder,
    settings,
    seed,
    axis: LevelAxis = QP_AXIS,
) -> None:
    """:func:`write_panel` reading the quality table and manifest from their files."""
    write_panel(
        directory, read_table(quality_path), read_manifest(manifest_path), ladder, settings,
        seed, axis,
    )  # fmt: skip
