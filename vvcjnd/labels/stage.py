"""The labels stage end to end: raw samples -> screened samples -> JND table and SUR curves."""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import scipy

import vvcjnd
from vvcjnd.errors import VvcjndError
from vvcjnd.io import sha256_file, write_json
from vvcjnd.labels.collective import collective_labels
from vvcjnd.labels.ingest import (
    SAMPLE_COLUMNS,
    MatLayout,
    read_manifest,
    read_mat_samples,
    read_tidy_samples,
    select_labelled,
    session_images,
    tidy_samples,
)
from vvcjnd.labels.jnd import JndRule, label_images
from vvcjnd.labels.levels import QP_AXIS, LevelAxis, encoder_ladder
from vvcjnd.labels.screening import STATUS_USED, SUBJECT_COLUMNS, ScreeningRules, screen
from vvcjnd.labels.simulate import PanelSettings
from vvcjnd.labels.uncertainty import label_uncertainty
from vvcjnd.subjective.export import collective_answers, label_table, read_database
from vvcjnd.subjective.schedule import COLLECTIVE

log = logging.getLogger(__name__)

SIMULATED = "simulated"
HUMAN = "human"


@dataclass(frozen=True)
class LabelTables:
    """Everything the stage derives; see docs/labels.md for the columns."""

    samples: pd.DataFrame  # tidy samples with status and reason
    subjects: pd.DataFrame  # BT.500 counts and decision per subject
    jnd: pd.DataFrame  # one row per labelled image
    sur: pd.DataFrame  # SUR curves per image and ladder position


def derive_labels(
    samples: pd.DataFrame,
    ladder: list,
    labels: dict,
    label_source: str,
    seed: int,
    axis: LevelAxis = QP_AXIS,
) -> LabelTables:
    """Screen the (already selected) samples and derive each image's JND level and SUR curve,
    with their intervals (``seed``: the master seed of the bootstrap), in positions along
    ``axis`` (``ladder``)."""
    rules = ScreeningRules.from_config(labels["screening"])
    screened, subjects = screen(samples, rules, axis)
    used = screened[screened["status"] == STATUS_USED]
    counts = used.groupby("image_id", sort=False).size().reindex(samples["image_id"].unique())
    short = counts[counts.fillna(0) < labels["min_subjects"]]
    if not short.empty:
        image = short.index[0]
        statuses = screened.loc[screened["image_id"] == image, "status"].value_counts()
        raise VvcjndError(
            f"image '{image}' keeps {int(short.fillna(0).iloc[0])} sample(s) after screening, "
            f"fewer than config key labels.min_subjects = {labels['min_subjects']} "
            f"(status counts {statuses.to_dict()}); relax labels.screening or exclude it"
        )
    rule = JndRule.from_config(labels["jnd"])
    intervals, band, latent = label_uncertainty(used, ladder, rule, labels["uncertainty"], seed)
    jnd, sur = label_images(used, ladder, rule, label_source, intervals, band, latent)
    return LabelTables(samples=screened, subjects=subjects, jnd=jnd, sur=sur)


def read_samples(
    config: dict,
    manifest: pd.DataFrame,
    simulated_dir: str | os.PathLike | None = None,
    database: tuple | None = None,
) -> tuple[pd.DataFrame, str, list[Path]]:
    """(raw samples of the configured source in positions along the encoder's axis, its
    label_source, the files read); for the test source from its ``database``
    (:func:`read_test_database`), which holds positions. The files hold codec levels."""
    labels = config["labels"]
    ladder, axis = encoder_ladder(config["encode"])
    if labels["source"] == "test":
        path = Path(labels["test"]["path"])
        table = label_table(*(database or read_test_database(config)))
        rows = list(range(1, len(table) + 1))
        name = f"test database {path}"
        return tidy_samples(table, manifest, ladder, name, path.name, "sample", rows), HUMAN, [path]
    levels = [axis.level_of(position) for position in ladder]  # distortion order
    if labels["source"] == "tidy":
        path = Path(labels["tidy"]["path"])
        return axis.to_positions(read_tidy_samples(path, manifest, levels)), HUMAN, [path]
    if labels["source"] == SIMULATED:
        if simulated_dir is None:
            raise VvcjndError(
                "labels.source is simulated but no simulated panel directory was given"
            )
        layout = PanelSettings.from_config(labels["simulate"]).layout(simulated_dir)
        label_source = SIMULATED
    else:
        layout, label_source = MatLayout.from_config(labels["mat"]), HUMAN
    files = [layout.session_path(session) for session in session_images(manifest)]
    samples = read_mat_samples(manifest, layout, levels)
    return axis.to_positions(samples), label_source, files


def read_test_database(config: dict) -> tuple:
    """(plan, trials, subjects) of the configured test database (``labels.test.path``), checked
    against the config: the workflow plans the later label rules by ``subjective.procedure``,
    which must be the database's, and its ladder must be the encoder's (in positions, as the
    test stores it)."""
    path = Path(config["labels"]["test"]["path"])
    ladder, _ = encoder_ladder(config["encode"])
    plan, trials, subjects = read_database(path)
    configured = config["subjective"]["procedure"]
    if plan.procedure != configured:
        raise VvcjndError(
            f"test database {path} was planned with procedure '{plan.procedure}', but config "
            f"key subjective.procedure is '{configured}'; set it to '{plan.procedure}'"
        )
    if list(plan.levels) != ladder:
        raise VvcjndError(
            f"test database {path}: its ladder {list(plan.levels)} is not the configured "
            f"encoder's ladder {ladder} (encode.qp or the encoder's levels)"
        )
    return plan, trials, subjects


def collective_test_labels(config: dict, manifest: pd.DataFrame, database: tuple) -> LabelTables:
    """The labels of a collective QUEST+ test's ``database`` (vvcjnd.labels.collective): its
    JND and SUR tables, and empty sample and screening tables (it has no per-subject sample)."""
    states, answers = collective_answers(*database)
    labels, (ladder, _) = config["labels"], encoder_ladder(config["encode"])
    jnd, sur = collective_labels(states, answers, manifest, ladder, labels, HUMAN)
    samples = pd.DataFrame(columns=[*SAMPLE_COLUMNS, "status", "reason"])
    return LabelTables(samples, pd.DataFrame(columns=SUBJECT_COLUMNS), jnd, sur)


def build_labels(
    config: dict,
    manifest_path: str | os.PathLike,
    outputs: dict[str, str | os.PathLike],
    simulated_dir: str | os.PathLike | None = None,
) -> LabelTables:
    """Run the stage from files; ``outputs`` maps jnd, samples, screening, sur, record to paths.
    The stage computes in positions along the encoder's ladder (vvcjnd.labels.levels) and
    writes the tables in the codec's levels. ``labels.source: test`` also reads
    ``config["subjective"]["procedure"]``."""
    manifest = read_manifest(manifest_path)
    labels, (ladder, axis) = config["labels"], encoder_ladder(config["encode"])
    database = read_test_database(config) if labels["source"] == "test" else None
    if database is not None and database[0].procedure == COLLECTIVE:
        tables = collective_test_labels(config, manifest, database)
        label_source, files = HUMAN, [Path(labels["test"]["path"])]
    else:
        raw, label_source, files = read_samples(config, manifest, simulated_dir, database)
        selected = select_labelled(raw, manifest, labels["exclude"], labels["min_subjects"])
        tables = derive_labels(selected, ladder, labels, label_source, config["seed"], axis)

    axis.write(outputs["jnd"], tables.jnd)
    axis.write(outputs["samples"], tables.samples)
    axis.write(outputs["screening"], tables.subjects)
    axis.write(outputs["sur"], tables.sur)
    status_counts = tables.samples["status"].value_counts().sort_index()
    levels = sorted(axis.level_of(tables.jnd["jnd_qp"].agg(["min", "max"])))
    record = {
        "label_source": label_source,
        "labels": labels,
        "codec": config["encode"]["encoder"],
        "scale": asdict(axis.scale),
        "ladder": [axis.level_of(position) for position in ladder],
        "inputs": {str(path): sha256_file(path) for path in [Path(manifest_path), *files]},
        "counts": {
            "images": len(tables.jnd),
            "subjects": len(tables.subjects),
            "rejected_subjects": int(tables.subjects["rejected"].sum()),
            "samples_by_status": {k: int(v) for k, v in status_counts.items()},
        },
        axis.column("jnd_qp"): {"min": int(levels[0]), "max": int(levels[1])},
        "versions": {
            "vvcjnd": vvcjnd.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "scipy": scipy.__version__,
            "h5py": h5py.__version__,
        },
    }
    write_json(outputs["record"], record)
    log.info(
        "labels (%s): %d images, JND %s %d..%d, %d of %d subjects rejected, samples %s",
        label_source,
        len(tables.jnd),
        axis.scale.name,
        *levels,
        record["counts"]["rejected_subjects"],
        len(tables.subjects),
        record["counts"]["samples_by_status"],
    )
    return tables
