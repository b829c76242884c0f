"""Shared fixtures: small real images and a validated default config."""

from __future__ import annotations

import contextlib
import copy
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import skimage.data
import yaml

from vvcjnd.config import validate_config

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def default_config() -> dict:
    """The embedded default config.yaml, validated (defaults filled)."""
    return validate_config(yaml.safe_load((REPO / "config.yaml").read_text()))


@pytest.fixture
def config(default_config) -> dict:
    """A private deep copy of the default config that a test may change."""
    return copy.deepcopy(default_config)


# A small run of the whole pipeline: three small images, a short ladder, a tiny network. Its
# 6 epochs (0.1-0.3 s each) leave tests/test_pipeline.py time to kill training mid-run.
SMALL_RUN = {
    "sources": {
        "names": ["chelsea", "coffee", "rocket"],
        "session_size": 2,
        "resize": {"width": 240, "height": 176, "filter": "lanczos"},
    },
    "encode": {"qp": {"min": 22, "max": 40, "step": 6}},
    "quality": {"vmaf": False},
    "labels": {"min_subjects": 5, "simulate": {"metric": "psnr_y", "threshold": 36.0}},
    "train": {"width": 4, "depth": 3, "epochs": 6, "epochs_constant": 3, "threads": 1},
    "evaluate": {"vmaf": False},
}


def small_run_config() -> dict:
    """The embedded default with :data:`SMALL_RUN` laid over it (not yet validated)."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    for section, values in SMALL_RUN.items():
        config[section] = {**config[section], **copy.deepcopy(values)}  # SMALL_RUN stays put
    return config


@pytest.fixture(scope="session")
def finished_small_run(tmp_path_factory) -> tuple[Path, dict]:
    """(working directory, config) of a finished ``snakemake all`` of :func:`small_run_config`."""
    workdir = tmp_path_factory.mktemp("small-run")
    config = small_run_config()
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    command = [
        "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
        "--configfile", str(workdir / "config.yaml"), "--cores", "2", "--quiet", "all",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return workdir, config


@pytest.fixture(scope="session")
def astronaut_small() -> np.ndarray:
    """A 128x96 uint8 RGB crop of scikit-image's astronaut (face and texture)."""
    return np.ascontiguousarray(skimage.data.astronaut()[40:136, 180:308])


def write_camera_patches(root: Path, image_side: int, train_rows: int, side: int = 32) -> Path:
    """Paired ``side`` x ``side`` patch arrays of scikit-image's camera (``image_side`` square)
    in ``root``: the first ``train_rows`` grid rows train, the rest validate; the JND twin of
    each patch is a 3x3 box blur. Returns ``root``."""
    import scipy.ndimage

    image = skimage.data.camera()[:image_side, :image_side].astype(np.float64)
    blurred = np.clip(np.round(scipy.ndimage.uniform_filter(image, 3)), 0, 255)
    n, cut = image_side // side, train_rows * (image_side // side)
    for kind, plane in (("pristine", image), ("jnd", blurred)):
        grid = plane.reshape(n, side, n, side).swapaxes(1, 2).reshape(n * n, side, side)
        np.save(root / f"train_{kind}.npy", grid[:cut].astype(np.uint8))
        np.save(root / f"val_{kind}.npy", grid[cut:].astype(np.uint8))
    return root


@pytest.fixture
def one_torch_thread():
    """One torch intra-op thread: fast on a busy 2-core machine and bit-stable."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def cannot_run(what: str, reason: str) -> None:
    """Skip with the reason, or fail under CI=true, where every such test must run."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} cannot run (CI=true forbids skipping): {reason}")
    pytest.skip(reason)


@contextlib.contextmanager
def small_filesystem(folder: Path, size_kb: int, read_only: bool = False) -> Iterator[Path]:
    """Mount a ``size_kb`` tmpfs (optionally read-only) on ``folder``: a full or read-only
    output folder that stops root too (permission bits do not). Needs mount rights."""
    folder.mkdir(parents=True, exist_ok=True)
    options = f"size={size_kb}k" + (",ro" if read_only else "")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if mounted.returncode != 0:
        cannot_run("a small tmpfs output folder", f"mount failed: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=False)
