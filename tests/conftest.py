"""Shared fixtures: small real images and a validated default config."""

from __future__ import annotations

import copy
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


@pytest.fixture(scope="session")
def astronaut_small() -> np.ndarray:
    """A 128x96 uint8 RGB crop of scikit-image's astronaut (face and texture)."""
    return np.ascontiguousarray(skimage.data.astronaut()[40:136, 180:308])


@pytest.fixture
def one_torch_thread():
    """One torch intra-op thread: fast on a busy 2-core machine and bit-stable."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
