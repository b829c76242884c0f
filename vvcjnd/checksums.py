"""A sha256 manifest of the dataset files, so that two runs can be compared byte for byte.

Covered: everything under ``sources/``, ``ladder/``, ``quality/``, ``labels/`` and
``patches/`` of the results folder. Two kinds of field vary between runs and are left out
of the hash, each marked in the manifest: wall-clock timings (the ``encode_s`` and
``decode_s`` columns of quality tables, which are hashed without them) and the per-QP
JSON records of the ladder (which hold the same timings; their bitstreams and PNGs are
hashed instead).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from vvcjnd.io import read_table, sha256_file, write_text

DATASET_FOLDERS = ("sources", "ladder", "quality", "labels", "patches")
TIMING_COLUMNS = ("encode_s", "decode_s")


def _table_without_timings(path: Path) -> str:
    frame = read_table(path).drop(columns=list(TIMING_COLUMNS))
    text = frame.to_csv(sep="\t", index=False, float_format="%.6g", lineterminator="\n")
    return hashlib.sha256(text.encode()).hexdigest()


def dataset_checksums(results: Path) -> list[tuple[str, str]]:
    """(sha256, path relative to ``results``) of every dataset file, sorted by path."""
    rows = []
    for folder in DATASET_FOLDERS:
        for path in sorted((results / folder).rglob("*")):
            if not path.is_file() or path.name.startswith("."):
                continue
            relative = path.relative_to(results).as_posix()
            if folder == "ladder" and path.suffix == ".json":
                continue
            if folder == "quality" and path.suffix == ".tsv":
                header = path.open().readline().rstrip("\n").split("\t")
                if set(TIMING_COLUMNS) <= set(header):
                    rows.append((_table_without_timings(path), f"{relative} (without timings)"))
                    continue
            rows.append((sha256_file(path), relative))
    return sorted(rows, key=lambda row: row[1])


def write_checksums(results: Path, out_path: Path) -> None:
    """Write ``sha256  path`` lines (the format of ``sha256sum``) for the dataset files."""
    lines = [f"{digest}  {name}" for digest, name in dataset_checksums(results)]
    write_text(out_path, "\n".join(lines) + "\n")


def compare(first: Path, second: Path) -> pd.DataFrame:
    """Rows of two checksum manifests that differ (missing on one side or different hash)."""

    def load(path: Path) -> pd.Series:
        pairs = [line.split("  ", 1) for line in path.read_text().splitlines() if line]
        return pd.Series({name: digest for digest, name in pairs})

    a, b = load(first), load(second)
    joined = pd.concat([a.rename("first"), b.rename("second")], axis=1)
    return joined[joined["first"] != joined["second"]]
