"""``train.checkpoint`` in the workflow: a given network replaces training in the plan."""

from __future__ import annotations

import pytest
import torch
import yaml

from .conftest import REPO
from .test_authors_import import release_state_dict
from .test_workflow import job_counts, snakemake

AUTHORS_CONFIG = REPO / "configs" / "authors-weights.yaml"


@pytest.fixture(scope="module")
def authors_pth(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "JND_G.pth"
    torch.save(release_state_dict(16), path)
    return path


def test_given_checkpoint_skips_training_and_plans_inference(tmp_path, authors_pth):
    override = tmp_path / "override.yaml"
    override.write_text(yaml.safe_dump({"train": {"checkpoint": str(authors_pth)}}))
    run = tmp_path / "run"
    result = snakemake("-n", "--cores", "2", "--directory", str(run),
                       "--configfile", str(AUTHORS_CONFIG), str(override))  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    counts = job_counts(result.stdout)
    assert "train" not in counts
    assert counts["use_checkpoint"] == 1
    assert counts["infer_image"] >= 1 and counts["evaluate_models"] == 1
    assert counts["evaluate_jnd_qp"] == 1
    # the default plans training and no use_checkpoint
    default = job_counts(snakemake("-n", "--cores", "2", "--directory", str(run)).stdout)
    assert default["train"] == 1 and "use_checkpoint" not in default


def test_missing_given_checkpoint_is_named(tmp_path):
    result = snakemake("-n", "--cores", "2", "--directory", str(tmp_path),
                       "--configfile", str(AUTHORS_CONFIG))  # fmt: skip
    assert result.returncode != 0
    assert "data/JND_95676_G.pth" in result.stdout + result.stderr
