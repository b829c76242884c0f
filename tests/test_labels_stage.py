"""Labels stage end to end: simulated panel or tidy table -> JND table, screening, SUR, figures."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from tests.labels_fixtures import (
    LADDER,
    REPO,
    session_names,
    set_labels,
    spread_latents,
    write_manifest,
    write_quality,
)
from vvcjnd.errors import VvcjndError
from vvcjnd.io import read_table
from vvcjnd.labels.figures import write_figures
from vvcjnd.labels.ingest import read_manifest
from vvcjnd.labels.jnd import JND_COLUMNS
from vvcjnd.labels.simulate import PanelSettings, simulate_from_files
from vvcjnd.labels.stage import build_labels

TABLES = ("jnd", "samples", "screening", "sur")


def outputs(directory) -> dict:
    paths = {name: directory / f"{name}.tsv" for name in TABLES}
    return {**paths, "record": directory / "labels.json"}


@pytest.fixture
def inputs(tmp_path):
    """Manifest (2 sessions of 8 images) and quality table with latent thresholds 22..40."""
    manifest = write_manifest(tmp_path / "manifest.tsv", session_names(2, 8))
    latent = spread_latents(list(manifest["image_id"]))
    write_quality(tmp_path / "quality.tsv", manifest, latent)
    return tmp_path, latent


def simulate(config, directory):
    simulate_from_files(
        directory / "simulated",
        directory / "quality.tsv",
        directory / "manifest.tsv",
        LADDER,
        PanelSettings.from_config(config["labels"]["simulate"]),
        config["seed"],
    )
    return directory / "simulated"


def test_simulated_default_gives_labels_near_the_latent_thresholds(inputs, config):
    directory, latent = inputs
    simulated = simulate(config, directory)
    out = directory / "labels"
    build_labels(config, directory / "manifest.tsv", outputs(out), simulated)

    jnd = read_table(out / "jnd.tsv")
    assert list(jnd.columns) == JND_COLUMNS
    assert jnd["image_id"].tolist() == list(latent)  # manifest order
    assert set(jnd["label_source"]) == {"simulated"} and set(jnd["method"]) == {"sur0.75_normal"}
    assert set(jnd["jnd_qp"]) <= set(LADDER) and jnd["jnd_qp"].dtype == np.int64
    # samples report the first ladder QP at or above latent + bias + noise, so their mean sits
    # about half a QP above the latent; the SUR 0.75 point lies below the mean
    error = jnd["mean_qp"].to_numpy() - np.array(list(latent.values()))
    assert np.abs(error - 0.5).max() < 2.5
    assert (jnd["jnd_qp"] <= jnd["mean_qp"] + 0.5).all()
    assert np.corrcoef(jnd["jnd_qp"], list(latent.values()))[0, 1] > 0.95

    samples = read_table(out / "samples.tsv")
    assert len(samples) == 16 * 20
    assert set(samples["status"]) <= {"used", "outlier", "rejected_subject", "missing"}
    assert (samples["status"] != "used").sum() > 0  # the careless observers give screening work
    screening = read_table(out / "screening.tsv")
    assert len(screening) == 40 and screening["rejected"].dtype == bool
    record = json.loads((out / "labels.json").read_text())
    assert record["label_source"] == "simulated" and record["counts"]["images"] == 16

    first = {name: path.read_bytes() for name, path in outputs(out).items()}
    build_labels(config, directory / "manifest.tsv", outputs(out), simulated)
    assert first == {name: path.read_bytes() for name, path in outputs(out).items()}

    figures = {name: directory / f"{name}.png" for name in ("sur", "histogram", "offsets")}
    write_figures(outputs(out), figures, LADDER)
    assert all(path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for path in figures.values())


def test_tidy_source_is_human_and_respects_exclude(inputs, config):
    directory, _ = inputs
    manifest = read_manifest(directory / "manifest.tsv")
    rows = [
        (image, f"viewer{v}", 30 + (v % 5) - 2)
        for image in manifest["image_id"][:-1]
        for v in range(10)
    ]
    pd.DataFrame(rows, columns=["image_id", "subject_id", "jnd_qp"]).to_csv(
        directory / "tidy.csv", index=False
    )
    last = manifest["image_id"].iloc[-1]
    set_labels(config, source="tidy", tidy={"path": str(directory / "tidy.csv")}, exclude=[last])
    set_labels(config, jnd={"method": "median"})
    tables = build_labels(config, directory / "manifest.tsv", outputs(directory / "out"))
    assert len(tables.jnd) == 15 and last not in set(tables.jnd["image_id"])
    assert set(tables.jnd["label_source"]) == {"human"} and set(tables.jnd["jnd_qp"]) == {30}


def test_too_few_samples_after_screening_is_an_error(inputs, config):
    directory, _ = inputs
    set_labels(config, min_subjects=19)  # 20 simulated observers, 3 of them careless
    with pytest.raises(VvcjndError, match=r"keeps \d+ sample\(s\) after screening.*min_subjects"):
        build_labels(
            config, directory / "manifest.tsv", outputs(directory), simulate(config, directory)
        )


@pytest.mark.slow
def test_snakemake_runs_the_labels_stage(inputs, config):
    directory, _ = inputs
    (directory / "results" / "sources").mkdir(parents=True)
    (directory / "results" / "quality").mkdir()
    (directory / "manifest.tsv").rename(directory / "results" / "sources" / "manifest.tsv")
    (directory / "quality.tsv").rename(directory / "results" / "quality" / "vvenc.tsv")
    manifest = read_manifest(directory / "results" / "sources" / "manifest.tsv")
    session = dict(zip(manifest["image_id"], manifest["session"].astype(int), strict=True))
    (directory / "Snakefile").write_text(
        textwrap.dedent(
            f"""
            from vvcjnd.config import validate_config

            configfile: "{REPO / "config.yaml"}"
            validate_config(config)

            include: "{REPO / "workflow" / "rules" / "common.smk"}"

            SESSION = {session!r}  # the test's own manifest, not the configured sources

            include: "{REPO / "workflow" / "rules" / "labels.smk"}"
            """
        )
    )
    run = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", "labels"],
        cwd=directory,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    jnd = read_table(directory / "results" / "labels" / "jnd.tsv")
    assert len(jnd) == 16 and set(jnd["label_source"]) == {"simulated"}
    for name in ("sur_curves", "jnd_histogram", "subject_offsets", "observers", "subjects_needed"):
        assert (directory / "results" / "labels" / f"{name}.png").stat().st_size > 1000
    observers = read_table(directory / "results" / "labels" / "observers.tsv")
    assert observers["subject_id"].str.match(r"s[12]_\d\d").all()
    assert (jnd["jnd_ci_low"] <= jnd["jnd_ci_high"]).all()
    assert (directory / "results" / "labels" / "simulated" / "f_session2.mat").is_file()
