"""The labels stage end to end: raw samples -> screened samples -> JND table and SUR curves."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import scipy

import vvcjnd
from vvcjnd.config import qp_ladder
from vvcjnd.errors import VvcjndError
from vvcjnd.io import sha256_file, write_json, write_table
from vvcjnd.labels.ingest import (
    MatLayout,
    read_manifest,
    read_mat_samples,
    read_tidy_samples,
    select_labelled,
    session_images,
    tidy_samples,
)
from vvcjnd.labels.jnd import JndRule, label_images
from vvcjnd.labels.screening import STATUS_USED, ScreeningRules, screen
from vvcjnd.labels.simulate import PanelSettings
from vvcjnd.labels.uncertainty import label_uncertainty
from vvcjnd.subjective.export import label_table

log = logging.getLogger(__name__)

SIMULATED = "simulated"
HUMAN = "human"


@dataclass(frozen=True)
class LabelTables:
    """Everything the stage derives; see docs/labels.md for the columns."""

    samples: pd.DataFrame  # tidy samples with status and reason
    subjects: pd.DataFrame  # BT.500 counts and decision per subject
    jnd: pd.DataFrame  # one row per labelled image
    sur: pd.DataFrame  # SUR curves per image and ladder QP


def derive_labels(
    samples: pd.DataFrame, ladder: list[int], labels: dict, label_source: str, seed: int
) -> LabelTables:
    """Screen the (already selected) samples and derive each image's JND QP and SUR curve,
    with their intervals (``seed``: the master seed of the bootstrap)."""
    screened, subjects = screen(samples, ScreeningRules.from_config(labels["screening"]))
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
    config: dict, manifest: pd.DataFrame, simulated_dir: str | os.PathLike | None = None
) -> tuple[pd.DataFrame, str, list[Path]]:
    """(raw samples of the configured source, its label_source, the files read)."""
    labels, ladder = config["labels"], qp_ladder(config)
    if labels["source"] == "tidy":
        path = Path(labels["tidy"]["path"])
        return read_tidy_samples(path, manifest, ladder), HUMAN, [path]
    if labels["source"] == "test":
        path = Path(labels["test"]["path"])
        table = label_table(path)
        rows = list(range(1, len(table) + 1))
        name = f"test database {path}"
        return tidy_samples(table, manifest, ladder, name, path.name, "sample", rows), HUMAN, [path]
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
    return read_mat_samples(manifest, layout, ladder), label_source, files


def build_labels(
    config: dict,
    manifest_path: str | os.PathLike,
    outputs: dict[str, str | os.PathLike],
    simulated_dir: str | os.PathLike | None = None,
) -> LabelTables:
    """Run the stage from files; ``outputs`` maps jnd, samples, screening, sur, record to paths."""
    manifest = read_manifest(manifest_path)
    labels = config["labels"]
    raw, label_source, files = read_samples(config, manifest, simulated_dir)
    selected = select_labelled(raw, manifest, labels["exclude"], labels["min_subjects"])
    tables = derive_labels(selected, qp_ladder(config), labels, label_source, config["seed"])

    write_table(outputs["jnd"], tables.jnd)
    write_table(outputs["samples"], tables.samples)
    write_table(outputs["screening"], tables.subjects)
    write_table(outputs["sur"], tables.sur)
    status_counts = tables.samples["status"].value_counts().sort_index()
    record = {
        "label_source": label_source,
        "labels": labels,
        "ladder": qp_ladder(config),
        "inputs": {str(path): sha256_file(path) for path in [Path(manifest_path), *files]},
        "counts": {
            "images": len(tables.jnd),
            "subjects": len(tables.subjects),
            "rejected_subjects": int(tables.subjects["rejected"].sum()),
            "samples_by_status": {k: int(v) for k, v in status_counts.items()},
        },
        "jnd_qp": {"min": int(tables.jnd["jnd_qp"].min()), "max": int(tables.jnd["jnd_qp"].max())},
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
        "labels (%s): %d images, JND QP %d..%d, %d of %d subjects rejected, samples %s",
        label_source,
        len(tables.jnd),
        record["jnd_qp"]["min"],
        record["jnd_qp"]["max"],
        record["counts"]["rejected_subjects"],
        len(tables.subjects),
        record["counts"]["samples_by_status"],
    )
    return tables
