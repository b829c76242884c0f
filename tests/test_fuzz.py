"""Fuzzing the readers of outside data: no crash other than our own clear error.

Random bytes, and valid files with random bytes overwritten or cut, go through the image
loader, the MAT reader and the tidy label reader. The examples are derandomized so CI is
stable; set VVCJND_FUZZ_EXAMPLES (default 80) higher for a longer hunt. The MAT v5 reader
starts a Python process per file (about 0.4 s), so it gets a quarter of the examples: any
death of that child ends in the same error path, which a few examples already reach.
"""

from __future__ import annotations

import io
import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from vvcjnd.errors import VvcjndError
from vvcjnd.labels.ingest import read_tidy_samples
from vvcjnd.labels.matfile import read_mat_arrays, write_mat
from vvcjnd.sources.prepare import load_rgb

FUZZ = settings(
    max_examples=int(os.environ.get("VVCJND_FUZZ_EXAMPLES", "80")),
    derandomize=os.environ.get("VVCJND_FUZZ_EXAMPLES") is None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
EXAMPLES = {"v5": max(FUZZ.max_examples // 4, 10), "v7.3": FUZZ.max_examples}


def _png() -> bytes:
    buffer = io.BytesIO()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def _mat(tmp_path, version: str) -> bytes:
    path = tmp_path / f"seed_{version}.mat"
    write_mat(path, {"jnd": np.full((3, 20), 30.0)}, version)
    return path.read_bytes()


def _mutations(seed: bytes):
    """Random bytes, or ``seed`` with a run of bytes overwritten, or cut short."""
    overwrite = st.tuples(st.integers(0, len(seed) - 1), st.binary(min_size=1, max_size=16)).map(
        lambda cut: seed[: cut[0]] + cut[1] + seed[cut[0] + len(cut[1]) :]
    )
    truncate = st.integers(0, len(seed) - 1).map(lambda n: seed[:n])
    return st.one_of(st.binary(max_size=600), overwrite, truncate)


def _expect_clean(read, path) -> None:
    try:
        read(path)
    except VvcjndError as error:
        assert str(path) in str(error)


@FUZZ
@given(data=_mutations(_png()))
def test_image_loader_never_crashes(tmp_path, data):
    path = tmp_path / "fuzz.png"
    path.write_bytes(data)
    _expect_clean(load_rgb, path)


@pytest.mark.parametrize("version", ["v5", "v7.3"])
def test_mat_reader_never_crashes(tmp_path, version):
    seed = _mat(tmp_path, version)

    @settings(FUZZ, max_examples=EXAMPLES[version])
    @given(data=_mutations(seed))
    def check(data):
        path = tmp_path / "fuzz.mat"
        path.write_bytes(data)
        _expect_clean(read_mat_arrays, path)

    check()


@FUZZ
@given(text=st.text(alphabet="ab01234567,\t\n\"' s.-", max_size=200))
def test_tidy_reader_never_crashes(tmp_path, text):
    manifest = pd.DataFrame({"image_id": ["a", "b"], "session": [1, 1]})
    path = tmp_path / "fuzz.csv"
    path.write_text("image_id,subject_id,jnd_qp\n" + text)
    _expect_clean(lambda p: read_tidy_samples(p, manifest, list(range(13, 52))), path)
