"""The sources index: which files the sources are and the sha256 of each, before decoding.

The workflow's one job whose inputs are all the source files writes it; canonicalisation takes
this one file as its input instead, so that the per-image jobs, which all need the canonical
images, depend on a job of a single input (Snakemake scans a producer's inputs each time a
job asks for one of its files).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from vvcjnd.errors import VvcjndError
from vvcjnd.io import sha256_file, write_table

if TYPE_CHECKING:
    from vvcjnd.sources.prepare import SourceImage

INDEX_COLUMNS = ["image_id", "session", "source", "source_sha256"]


def index_sources(images: list[SourceImage], index: Path) -> None:
    """Write the sources index: each image's id, session, portable name and the sha256 of its
    file (INDEX_COLUMNS), in discovery order."""
    rows = []
    for image in images:
        if not image.path.is_file():
            raise VvcjndError(f"source image {image.path} does not exist")
        rows.append(
            {
                "image_id": image.image_id,
                "session": image.session,
                "source": image.name,
                "source_sha256": sha256_file(image.path),
            }
        )
    write_table(index, pd.DataFrame(rows, columns=INDEX_COLUMNS))


def indexed_digests(images: list[SourceImage], index: Path) -> dict[str, str]:
    """The sha256 of each image's file by id, as ``index`` lists them; raise when ``index``
    lists other images, sessions or names than ``images``."""
    try:
        table = pd.read_csv(index, sep="\t", dtype=str, keep_default_na=False)
        listed = list(table[["image_id", "session", "source"]].itertuples(index=False, name=None))
    except (OSError, KeyError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise VvcjndError(f"cannot read sources index {index}: {exc}") from exc
    expected = [(image.image_id, str(image.session), image.name) for image in images]
    if listed != expected:
        raise VvcjndError(
            f"sources index {index} lists other images than the config's sources "
            f"({len(listed)} listed, {len(expected)} configured); run the workflow again"
        )
    return dict(zip(table["image_id"], table["source_sha256"], strict=True))
