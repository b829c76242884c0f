"""The on-disk patch dataset: paired uint8 luma patches of every image, streamed to .npy."""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from vvcjnd.colour import luma_uint8
from vvcjnd.errors import VvcjndError
from vvcjnd.images import read_png
from vvcjnd.io import atomic_path, read_table, write_json, write_table
from vvcjnd.labels.levels import QP_AXIS, LevelAxis
from vvcjnd.patches.grid import (
    extract_patches,
    grid_positions,
    grid_shape,
    is_flat,
    patch_statistics,
)
from vvcjnd.patches.split import assign_splits
from vvcjnd.paths import KINDS, SPLITS, decoded_png, patch_array, pristine_png

LOG = logging.getLogger(__name__)


def image_pairs(
    pristine_rgb: np.ndarray,
    jnd_rgb: np.ndarray,
    size: int = 64,
    stride: int = 64,
    cover_border: bool = False,
    flat_std: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Paired luma patches of a pristine image and its JND-level decoded version.

    Returns (pristine (N, size, size) uint8, jnd (N, size, size) uint8, table) where the table
    has one row per pair: grid_row, grid_col, top, left, and for each of pristine_/jnd_ the
    patch's mu, c (0..255 units) and flat flag (see :func:`is_flat`).
    """
    if pristine_rgb.shape != jnd_rgb.shape:
        raise VvcjndError(
            f"pristine image {pristine_rgb.shape[1::-1]} and JND-level image "
            f"{jnd_rgb.shape[1::-1]} differ in size"
        )
    height, width = pristine_rgb.shape[:2]
    positions = grid_positions(height, width, size, stride, cover_border)
    rows, cols = grid_shape(positions)
    table = {
        "grid_row": np.repeat(np.arange(rows), cols),
        "grid_col": np.tile(np.arange(cols), rows),
        "top": positions[:, 0],
        "left": positions[:, 1],
    }
    patches = []
    for kind, rgb in zip(KINDS, (pristine_rgb, jnd_rgb), strict=True):
        kind_patches = extract_patches(luma_uint8(rgb), positions, size)
        mu, c = patch_statistics(kind_patches)
        table.update(
            {f"{kind}_mu": mu, f"{kind}_c": c, f"{kind}_flat": is_flat(c, size * size, flat_std)}
        )
        patches.append(kind_patches)
    return patches[0], patches[1], pd.DataFrame(table)


# -- the on-disk dataset -------------------------------------------------------------------------


class _NpyAppender:
    """Streams uint8 patches (n, h, w) into an open .npy file without holding them in memory.

    The header is written first for 0 patches and rewritten by :meth:`finish` with the count;
    numpy pads .npy headers to a fixed length for exactly this kind of in-place growth.
    """

    def __init__(self, handle, patch_shape: tuple[int, int]):
        self.handle = handle
        self.patch_shape = tuple(patch_shape)
        self.count = 0
        self._write_header()

    def _write_header(self) -> None:
        header = {
            "descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)),
            "fortran_order": False,
            "shape": (self.count, *self.patch_shape),
        }
        np.lib.format.write_array_header_1_0(self.handle, header)

    def append(self, patches: np.ndarray) -> None:
        self.handle.write(np.ascontiguousarray(patches, dtype=np.uint8).tobytes())
        self.count += len(patches)

    def finish(self) -> None:
        """Rewrite the header with the final count (the caller closes the file)."""
        end = self.handle.tell()
        self.handle.seek(0)
        self._write_header()
        if end - self.handle.tell() != self.count * int(np.prod(self.patch_shape)):
            raise VvcjndError(f"internal error: the .npy header of {self.handle.name} moved")


def _read_inputs(
    manifest_path: Path, labels_path: Path, axis: LevelAxis
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The manifest and each image's JND position along ``axis`` (jnd.tsv holds levels)."""
    for path in (manifest_path, labels_path):
        if not Path(path).is_file():
            raise VvcjndError(f"input table not found: {path}")
    manifest = read_table(manifest_path)
    labels = axis.read(labels_path)
    for path, table, columns in (
        (manifest_path, manifest, ["image_id"]),
        (labels_path, labels, ["image_id", "jnd_qp"]),  # jnd_level for a non-QP codec
    ):
        absent = [column for column in columns if column not in table.columns]
        if absent:
            raise VvcjndError(f"{path}: missing column(s) {absent}")
    manifest["image_id"] = manifest["image_id"].astype(str)
    labels["image_id"] = labels["image_id"].astype(str)
    duplicated = labels["image_id"][labels["image_id"].duplicated()].tolist()
    if duplicated:
        raise VvcjndError(f"{labels_path}: image(s) {duplicated} have more than one JND label")
    labels = labels.dropna(subset=["jnd_qp"])
    jnd_qp = dict(zip(labels["image_id"], labels["jnd_qp"].astype(int), strict=True))
    missing = [image_id for image_id in manifest["image_id"] if image_id not in jnd_qp]
    if missing:
        raise VvcjndError(
            f"{labels_path} has no JND label ({axis.column('jnd_qp')}) for image(s) {missing}"
        )
    return manifest, jnd_qp


def _read_pair(image_id: str, stem: str, images_dir: Path, ladder_dir: Path):
    pristine_path = pristine_png(images_dir, image_id)
    decoded_path = decoded_png(ladder_dir, image_id, stem)
    if not pristine_path.is_file():
        raise VvcjndError(f"pristine image of '{image_id}' not found: {pristine_path}")
    if not decoded_path.is_file():
        raise VvcjndError(
            f"decoded image of '{image_id}' at its JND level ({stem}) not found: {decoded_path}"
        )
    pristine, decoded = read_png(pristine_path), read_png(decoded_path)
    for path, pixels in ((pristine_path, pristine), (decoded_path, decoded)):
        if pixels.ndim != 3 or pixels.shape[2] != 3:
            raise VvcjndError(f"{path}: expected an 8-bit RGB image, got shape {pixels.shape}")
    return pristine, decoded


def _load_pairs(
    image_id: str, stem: str, images_dir: Path, ladder_dir: Path, patches_config: Mapping
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """One image's kept pairs and their table (see :func:`image_pairs`); ``stem``: the file
    stem of its ladder point at the JND level."""
    pristine_rgb, jnd_rgb = _read_pair(image_id, stem, images_dir, ladder_dir)
    try:
        pristine, jnd, table = image_pairs(
            pristine_rgb,
            jnd_rgb,
            patches_config["size"],
            patches_config["stride"],
            patches_config["cover_border"],
            patches_config["flat_std"],
        )
    except VvcjndError as exc:
        raise VvcjndError(f"image '{image_id}': {exc}") from exc
    if patches_config["exclude_flat"]:
        keep = ~table["pristine_flat"].to_numpy()
        pristine, jnd, table = pristine[keep], jnd[keep], table[keep].reset_index(drop=True)
    return pristine, jnd, table


def _in_order(function, items: Sequence, workers: int) -> Iterator:
    """Yield ``function(item)`` for each item in order, computed by ``workers`` threads.

    At most ``2 * workers`` results are in flight, so memory stays bounded (decoding PNGs and
    numpy release the GIL, so threads use several cores).
    """
    with ThreadPoolExecutor(workers) as pool:
        pending: deque = deque()
        remaining = iter(items)
        for item in itertools.islice(remaining, 2 * workers):
            pending.append(pool.submit(function, item))
        while pending:
            result = pending.popleft().result()
            for item in itertools.islice(remaining, 1):
                pending.append(pool.submit(function, item))
            yield result


def build_patch_dataset(
    manifest_path: str | Path,
    labels_path: str | Path,
    images_dir: str | Path,
    ladder_dir: str | Path,
    out_dir: str | Path,
    patches_config: Mapping,
    seed: int,
    workers: int = 1,
    axis: LevelAxis = QP_AXIS,
) -> dict:
    """Write the paired patch dataset of every image in the manifest to ``out_dir``; the JND
    levels of ``labels_path`` are on the encoder's ``axis``.

    Files: ``{split}_pristine.npy`` and ``{split}_jnd.npy`` (uint8 (N, size, size), row i of one
    is paired with row i of the other), ``index.tsv`` (one row per pair; ``patch_id`` is the row
    in its split's arrays), ``splits.tsv`` (image_id, split) and ``summary.json``. Images are
    read by ``workers`` threads a few at a time and the arrays streamed to disk in manifest
    order, so memory stays flat in the image count and the bytes do not depend on ``workers``.
    Returns the summary.
    """
    out_dir = Path(out_dir)
    manifest, jnd_qp = _read_inputs(Path(manifest_path), Path(labels_path), axis)
    image_ids = manifest["image_id"].tolist()
    splits = assign_splits(image_ids, patches_config["split"], seed)
    split_of = dict(zip(splits["image_id"], splits["split"], strict=True))
    size = patches_config["size"]
    tables: list[pd.DataFrame] = []

    def load(image_id: str):
        args = (axis.stem(jnd_qp[image_id]), Path(images_dir), Path(ladder_dir), patches_config)
        return _load_pairs(image_id, *args)

    with contextlib.ExitStack() as stack:
        writers = {}
        for split in SPLITS:
            for kind in KINDS:
                tmp = stack.enter_context(atomic_path(patch_array(out_dir, split, kind)))
                handle = stack.enter_context(open(tmp, "wb"))  # closed before the rename
                writers[split, kind] = _NpyAppender(handle, (size, size))
        results = _in_order(load, image_ids, workers)
        for image_id, (pristine, jnd, table) in zip(image_ids, results, strict=True):
            split = split_of[image_id]
            table.insert(0, "patch_id", writers[split, "pristine"].count + np.arange(len(table)))
            table.insert(1, "image_id", image_id)
            table.insert(2, "split", split)
            table.insert(3, "jnd_qp", jnd_qp[image_id])
            LOG.info("%s (%s, JND %s): %d pairs", image_id, split, axis.stem(jnd_qp[image_id]),
                     len(table))  # fmt: skip
            writers[split, "pristine"].append(pristine)
            writers[split, "jnd"].append(jnd)
            tables.append(table)
        for writer in writers.values():
            writer.finish()
    index = pd.concat(tables, ignore_index=True)
    index["split"] = pd.Categorical(index["split"], categories=SPLITS, ordered=True)
    index = index.sort_values(["split", "patch_id"], kind="stable").reset_index(drop=True)
    for column in ("pristine_flat", "jnd_flat"):
        index[column] = index[column].astype(int)
    axis.write(out_dir / "index.tsv", index)
    write_table(out_dir / "splits.tsv", splits)
    summary = {
        "seed": seed,
        "level_scale": asdict(axis.scale),
        "settings": dict(patches_config),
        "luma": "MATLAB rgb2gray weights (0.2989, 0.5870, 0.1140), exact, rounded half up",
        "images": {split: int((splits["split"] == split).sum()) for split in SPLITS},
        "pairs": {split: writers[split, "pristine"].count for split in SPLITS},
        "numpy": np.__version__,
    }
    write_json(out_dir / "summary.json", summary)
    return summary


# -- the report figure ---------------------------------------------------------------------------
