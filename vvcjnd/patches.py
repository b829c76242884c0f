"""Paired 64x64 luma patches: the grid, extraction, the (mean, contrast, structure) decomposition,
the image-level split and the compact on-disk dataset.

Conventions: luma planes and stored patches are uint8 0..255; positions are (top, left) pixel
coordinates of a patch's upper-left corner, row-major over the grid; the decomposition works in
float64 on the 0..255 scale. The network sees patches in [-1, 1] (:func:`to_unit_range`).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from vvcjnd.colour import luma_uint8
from vvcjnd.errors import VvcjndError
from vvcjnd.images import read_png
from vvcjnd.io import atomic_path, read_table, write_json, write_table
from vvcjnd.ladder import decoded_png

LOG = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
KINDS = ("pristine", "jnd")

# A patch whose contrast c (0..255 units) is at most this is treated as flat by the
# decomposition: its structure is 0 and it reconstructs as its mean. Any non-constant
# patch of integer samples has c >= sqrt(1 - 1/N) ~ 1, far above it.
FLAT_EPSILON = 1e-6

# Offsets mixed with config["seed"] so that each random choice of this stage has its own stream.
SPLIT_SEED_OFFSET = 4001
FIGURE_SEED_OFFSET = 4002


# -- luma and the patch grid -------------------------------------------------------------------


def _grid_axis(length: int, size: int, stride: int, cover_border: bool) -> np.ndarray:
    starts = np.arange(0, length - size + 1, stride)
    if cover_border and starts[-1] + size < length:
        starts = np.append(starts, length - size)
    return starts


def grid_positions(
    height: int, width: int, size: int = 64, stride: int = 64, cover_border: bool = False
) -> np.ndarray:
    """(top, left) of every ``size`` x ``size`` patch on a grid of ``stride`` pixels, row-major.

    Returns an int64 array of shape (rows * cols, 2). The plain grid (``cover_border=False``)
    has floor((H - size) / stride) + 1 rows (1080 -> 16 at stride 64, 21 at stride 50) and
    likewise columns; ``cover_border=True`` adds a last row/column flush with the bottom/right
    edge when the plain grid leaves a strip uncovered, so the patches cover the whole image.
    """
    if size < 1 or stride < 1:
        raise VvcjndError(f"patch size and stride must be >= 1, got size {size}, stride {stride}")
    if height < size or width < size:
        raise VvcjndError(f"a {width}x{height} image is smaller than one {size}x{size} patch")
    tops = _grid_axis(height, size, stride, cover_border)
    lefts = _grid_axis(width, size, stride, cover_border)
    top_grid, left_grid = np.meshgrid(tops, lefts, indexing="ij")
    return np.stack([top_grid.ravel(), left_grid.ravel()], axis=1).astype(np.int64)


def grid_shape(positions: np.ndarray) -> tuple[int, int]:
    """(rows, cols) of a row-major grid made by :func:`grid_positions`."""
    return len(np.unique(positions[:, 0])), len(np.unique(positions[:, 1]))


def extract_patches(plane: np.ndarray, positions: np.ndarray, size: int = 64) -> np.ndarray:
    """Copy the ``size`` x ``size`` patches at ``positions`` (N, 2) out of a 2-D ``plane``.

    Returns (N, size, size) with the plane's dtype; vectorised (no per-patch Python loop).
    """
    if plane.ndim != 2:
        raise VvcjndError(f"expected a 2-D plane, got shape {plane.shape}")
    positions = np.asarray(positions, dtype=np.int64).reshape(-1, 2)
    height, width = plane.shape
    if len(positions) and (
        positions.min() < 0
        or positions[:, 0].max() > height - size
        or positions[:, 1].max() > width - size
    ):
        raise VvcjndError(
            f"patch positions fall outside the {width}x{height} plane for size {size}"
        )
    windows = np.lib.stride_tricks.sliding_window_view(plane, (size, size))
    return windows[positions[:, 0], positions[:, 1]]


# -- the decomposition x = mu + c * s ----------------------------------------------------------


def _centre(patches: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mu (N,), deviation x - mu (N, h, w), c (N,)) in float64."""
    x = np.asarray(patches, dtype=np.float64)
    mu = x.mean(axis=(-2, -1))
    deviation = x - mu[..., None, None]
    c = np.sqrt(np.einsum("...ij,...ij->...", deviation, deviation))
    return mu, deviation, c


def decompose(patches: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split patches (N, h, w), any real dtype on the 0..255 scale, into float64 components.

    mu (N,): mean intensity; c (N,): contrast, the L2 norm of the deviations from mu (not the
    standard deviation: c = sqrt(h * w) * std); s (N, h, w): structure (x - mu) / c, unit L2
    norm, and 0 where c <= :data:`FLAT_EPSILON` (a flat patch).
    """
    mu, deviation, c = _centre(patches)
    flat = c <= FLAT_EPSILON
    s = deviation / np.where(flat, 1.0, c)[..., None, None]
    s[flat] = 0.0
    return mu, c, s


def compose(mu: np.ndarray, c: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Inverse of :func:`decompose`: patches mu + c * s, float64 (N, h, w), unclipped."""
    mu = np.asarray(mu, dtype=np.float64)
    c = np.asarray(c, dtype=np.float64)
    return mu[..., None, None] + c[..., None, None] * np.asarray(s, dtype=np.float64)


def patch_statistics(patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mu, c) of uint8 patches (N, h, w) as :func:`decompose` defines them, float64 0..255 units.

    Exact integer sums: c**2 = (n * sum(x**2) - sum(x)**2) / n, so a flat patch has c = 0 exactly.
    """
    x = patches.reshape(len(patches), -1)
    n = x.shape[1]
    total = x.sum(axis=1, dtype=np.int64)
    squares = np.einsum("ij,ij->i", x, x, dtype=np.int64)
    return total / n, np.sqrt((n * squares - total * total) / n)


def is_flat(c: np.ndarray, patch_pixels: int, flat_std: float) -> np.ndarray:
    """Flat-patch flag: RMS deviation c / sqrt(pixels) below ``flat_std`` gray levels (0..255)."""
    return np.asarray(c) / np.sqrt(patch_pixels) < flat_std


# -- [-1, 1] scaling for the network -----------------------------------------------------------


def to_unit_range(pixels) -> np.ndarray:
    """uint8 0..255 (any shape) -> float32 in [-1, 1]: x / 127.5 - 1."""
    return np.asarray(pixels, dtype=np.float32) / np.float32(127.5) - np.float32(1.0)


def from_unit_range(values) -> np.ndarray:
    """[-1, 1] floats (numpy or CPU tensor) -> uint8 0..255, rounded to nearest and clipped."""
    scaled = (np.asarray(values, dtype=np.float64) + 1.0) * 127.5
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


# -- the split by image --------------------------------------------------------------------------


def _split_counts(n_images: int, ratios: Mapping[str, float]) -> dict[str, int]:
    """Images per split by largest remainders; a split with a positive ratio gets at least one."""
    total = sum(ratios[name] for name in SPLITS)
    if total <= 0:
        raise VvcjndError("config key 'patches.split.ratios': the ratios must not all be 0")
    exact = {name: n_images * ratios[name] / total for name in SPLITS}
    counts = {name: int(np.floor(exact[name])) for name in SPLITS}
    by_remainder = sorted(SPLITS, key=lambda name: (counts[name] - exact[name], SPLITS.index(name)))
    for name in by_remainder[: n_images - sum(counts.values())]:
        counts[name] += 1
    for name in SPLITS:
        if ratios[name] > 0 and counts[name] == 0:
            donor = max(SPLITS, key=lambda other: counts[other])
            if counts[donor] < 2:
                raise VvcjndError(
                    f"{n_images} image(s) cannot fill every split with a positive ratio "
                    f"({dict(ratios)}); give more images or set a ratio to 0"
                )
            counts[donor] -= 1
            counts[name] += 1
    return counts


def _split_from_lists(
    image_ids: Sequence[str], lists: Mapping[str, Sequence[str] | None]
) -> dict[str, str]:
    known = set(image_ids)
    assignment: dict[str, str] = {}
    for name in SPLITS:
        for image_id in lists.get(name) or []:
            if image_id not in known:
                raise VvcjndError(
                    f"config key 'patches.split.lists.{name}': image '{image_id}' is not in the "
                    "sources manifest"
                )
            if image_id in assignment:
                raise VvcjndError(
                    f"config key 'patches.split.lists': image '{image_id}' is listed in both "
                    f"'{assignment[image_id]}' and '{name}'"
                )
            assignment[image_id] = name
    unlisted = [image_id for image_id in image_ids if image_id not in assignment]
    if lists.get("train") is None:
        assignment.update(dict.fromkeys(unlisted, "train"))
    elif unlisted:
        raise VvcjndError(
            f"config key 'patches.split.lists': image(s) {unlisted} are in no list; list them "
            "or leave out the 'train' list so that every unlisted image trains"
        )
    return assignment


def assign_splits(image_ids: Sequence[str], split_config: Mapping, seed: int) -> pd.DataFrame:
    """The split by image: a table (image_id, split) in the order of ``image_ids``.

    With ``split_config["lists"]`` the lists decide; otherwise the sorted ids are shuffled by
    ``seed`` and cut by ``split_config["ratios"]``, so the split depends only on the set of ids
    and the seed.
    """
    image_ids = list(image_ids)
    if len(set(image_ids)) != len(image_ids):
        raise VvcjndError("the sources manifest lists an image id twice")
    if split_config.get("lists") is not None:
        assignment = _split_from_lists(image_ids, split_config["lists"])
    else:
        counts = _split_counts(len(image_ids), split_config["ratios"])
        rng = np.random.default_rng([seed, SPLIT_SEED_OFFSET])
        ordered = sorted(image_ids)
        shuffled = [ordered[i] for i in rng.permutation(len(ordered))]
        names = np.repeat(SPLITS, [counts[name] for name in SPLITS])
        assignment = dict(zip(shuffled, names.tolist(), strict=True))
    return pd.DataFrame({"image_id": image_ids, "split": [assignment[i] for i in image_ids]})


# -- one image's pairs -----------------------------------------------------------------------------


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


def _read_inputs(manifest_path: Path, labels_path: Path) -> tuple[pd.DataFrame, dict[str, int]]:
    for path in (manifest_path, labels_path):
        if not Path(path).is_file():
            raise VvcjndError(f"input table not found: {path}")
    manifest = read_table(manifest_path)
    labels = read_table(labels_path)
    for path, table, columns in (
        (manifest_path, manifest, ["image_id"]),
        (labels_path, labels, ["image_id", "jnd_qp"]),
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
        raise VvcjndError(f"{labels_path} has no JND label (jnd_qp) for image(s) {missing}")
    return manifest, jnd_qp


def _read_pair(image_id: str, qp: int, images_dir: Path, ladder_dir: Path):
    pristine_path = Path(images_dir) / f"{image_id}.png"
    decoded_path = decoded_png(ladder_dir, image_id, qp)
    if not pristine_path.is_file():
        raise VvcjndError(f"pristine image of '{image_id}' not found: {pristine_path}")
    if not decoded_path.is_file():
        raise VvcjndError(
            f"decoded image of '{image_id}' at its JND QP {qp} not found: {decoded_path}"
        )
    pristine, decoded = read_png(pristine_path), read_png(decoded_path)
    for path, pixels in ((pristine_path, pristine), (decoded_path, decoded)):
        if pixels.ndim != 3 or pixels.shape[2] != 3:
            raise VvcjndError(f"{path}: expected an 8-bit RGB image, got shape {pixels.shape}")
    return pristine, decoded


def _load_pairs(
    image_id: str, qp: int, images_dir: Path, ladder_dir: Path, patches_config: Mapping
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """One image's kept pairs and their table (see :func:`image_pairs`)."""
    pristine_rgb, jnd_rgb = _read_pair(image_id, qp, images_dir, ladder_dir)
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
) -> dict:
    """Write the paired patch dataset of every image in the manifest to ``out_dir``.

    Files: ``{split}_pristine.npy`` and ``{split}_jnd.npy`` (uint8 (N, size, size), row i of one
    is paired with row i of the other), ``index.tsv`` (one row per pair; ``patch_id`` is the row
    in its split's arrays), ``splits.tsv`` (image_id, split) and ``summary.json``. Images are
    read by ``workers`` threads a few at a time and the arrays streamed to disk in manifest
    order, so memory stays flat in the image count and the bytes do not depend on ``workers``.
    Returns the summary.
    """
    out_dir = Path(out_dir)
    manifest, jnd_qp = _read_inputs(Path(manifest_path), Path(labels_path))
    image_ids = manifest["image_id"].tolist()
    splits = assign_splits(image_ids, patches_config["split"], seed)
    split_of = dict(zip(splits["image_id"], splits["split"], strict=True))
    size = patches_config["size"]
    tables: list[pd.DataFrame] = []

    def load(image_id: str):
        args = (jnd_qp[image_id], Path(images_dir), Path(ladder_dir), patches_config)
        return _load_pairs(image_id, *args)

    with contextlib.ExitStack() as stack:
        writers = {}
        for split in SPLITS:
            for kind in KINDS:
                tmp = stack.enter_context(atomic_path(out_dir / f"{split}_{kind}.npy"))
                handle = stack.enter_context(open(tmp, "wb"))  # closed before the rename
                writers[split, kind] = _NpyAppender(handle, (size, size))
        results = _in_order(load, image_ids, workers)
        for image_id, (pristine, jnd, table) in zip(image_ids, results, strict=True):
            split = split_of[image_id]
            table.insert(0, "patch_id", writers[split, "pristine"].count + np.arange(len(table)))
            table.insert(1, "image_id", image_id)
            table.insert(2, "split", split)
            table.insert(3, "jnd_qp", jnd_qp[image_id])
            LOG.info("%s (%s, JND QP %d): %d pairs", image_id, split, jnd_qp[image_id], len(table))
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
    write_table(out_dir / "index.tsv", index)
    write_table(out_dir / "splits.tsv", splits)
    summary = {
        "seed": seed,
        "settings": dict(patches_config),
        "luma": "MATLAB rgb2gray weights (0.2989, 0.5870, 0.1140), exact, rounded half up",
        "images": {split: int((splits["split"] == split).sum()) for split in SPLITS},
        "pairs": {split: writers[split, "pristine"].count for split in SPLITS},
        "numpy": np.__version__,
    }
    write_json(out_dir / "summary.json", summary)
    return summary


# -- the report figure ---------------------------------------------------------------------------


def sample_pairs(index: pd.DataFrame, n_pairs: int, seed: int) -> pd.DataFrame:
    """``n_pairs`` rows of ``index`` spread over the pristine contrast range (one per quantile)."""
    n_pairs = min(n_pairs, len(index))
    rng = np.random.default_rng([seed, FIGURE_SEED_OFFSET])
    by_contrast = index.sort_values(["pristine_c", "split", "patch_id"], kind="stable")
    bins = np.array_split(np.arange(len(by_contrast)), n_pairs)
    rows = [int(rng.choice(members)) for members in bins]
    return by_contrast.iloc[rows]


def plot_sample_pairs(patch_dir: str | Path, path: str | Path, n_pairs: int, seed: int) -> None:
    """Write a PNG grid of sample (pristine, JND-level) pairs with their SSIM to ``path``."""
    from skimage.metrics import structural_similarity

    from vvcjnd.figures import Figure, save_figure

    patch_dir = Path(patch_dir)
    index = read_table(patch_dir / "index.tsv")
    if index.empty:
        raise VvcjndError(f"{patch_dir / 'index.tsv'} holds no patch pairs to show")
    samples = sample_pairs(index, n_pairs, seed)
    arrays = {
        (split, kind): np.load(patch_dir / f"{split}_{kind}.npy", mmap_mode="r")
        for split in samples["split"].unique()
        for kind in KINDS
    }
    columns = min(4, len(samples))
    rows = -(-len(samples) // columns)
    figure = Figure(figsize=(2.2 * 2 * columns, 2.4 * rows))
    axes = figure.subplots(rows, 2 * columns, squeeze=False)
    for axis in axes.ravel():
        axis.set_axis_off()
    for k, pair in enumerate(samples.itertuples()):
        pristine = arrays[pair.split, "pristine"][pair.patch_id]
        jnd = arrays[pair.split, "jnd"][pair.patch_id]
        ssim = structural_similarity(pristine, jnd, data_range=255)
        row, column = divmod(k, columns)
        titles = (f"{pair.image_id} pristine", f"QP {pair.jnd_qp}, SSIM {ssim:.3f}")
        for offset, (patch, title) in enumerate(zip((pristine, jnd), titles, strict=True)):
            axis = axes[row, 2 * column + offset]
            axis.imshow(patch, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            axis.set_title(title, fontsize=8)
    figure.suptitle("Luma patch pairs: pristine (left) and at the image's JND QP (right)")
    figure.tight_layout()
    save_figure(figure, path, dpi=100)
