"""Golden bytes: the sha256 of a few small dataset files of the small run, committed with the
stage format versions (vvcjnd.formats.FORMAT) that wrote them.

A change of bytes between machines or versions is seen here, not assumed away. When a change
of library code changes a stage's bytes on purpose, bump that stage's FORMAT (so the DAG
reruns it) and refresh the file: ``VVCJND_REFRESH_GOLDEN=1 python -m pytest tests/test_golden.py``.
"""

from __future__ import annotations

import os

import pytest

from vvcjnd.formats import FORMAT, tool_versions
from vvcjnd.io import sha256_file, write_text

from .conftest import REPO

pytestmark = pytest.mark.slow

GOLDEN = REPO / "tests" / "golden.tsv"
FILES = {  # dataset file of the small run -> the stage that writes it
    "results/sources/images/coffee.png": "sources",
    "results/ladder/vvenc/coffee/qp28.266": "distort",
    "results/ladder/vvenc/coffee/qp28.png": "distort",
    "results/labels/jnd.tsv": "labels",
    "results/patches/train_jnd.npy": "patches",
}


def _rows(workdir) -> list[tuple[str, str, int, str]]:
    return [
        (name, stage, FORMAT[stage], sha256_file(workdir / name)) for name, stage in FILES.items()
    ]


def test_dataset_bytes_equal_the_golden_bytes(finished_small_run):
    workdir, _ = finished_small_run
    rows = _rows(workdir)
    if os.environ.get("VVCJND_REFRESH_GOLDEN") == "1":
        versions = ", ".join(f"{k} {v}" for k, v in tool_versions().items())
        lines = [f"# written with {versions}", "file\tstage\tformat\tsha256"]
        write_text(GOLDEN, "\n".join(lines + ["\t".join(map(str, row)) for row in rows]) + "\n")
    golden = {}
    for line in GOLDEN.read_text().splitlines()[2:]:
        name, stage, version, digest = line.split("\t")
        golden[name] = (stage, int(version), digest)
    assert set(golden) == set(FILES), "tests/golden.tsv lists other files; refresh it"
    wrong = []
    for name, stage, version, digest in rows:
        _, golden_version, golden_digest = golden[name]
        if digest == golden_digest and version == golden_version:
            continue
        if version == golden_version:
            wrong.append(f"{name}: bytes changed while FORMAT['{stage}'] is still {version}: "
                         "bump it (a rerun is due) and refresh tests/golden.tsv")  # fmt: skip
        else:
            wrong.append(f"{name}: FORMAT['{stage}'] is {version}, golden {golden_version}: "
                         "refresh tests/golden.tsv")  # fmt: skip
    assert not wrong, "\n".join(wrong) + f"\n(tools here: {tool_versions()})"
