"""Raw JND samples -> one tidy sample table (one row per image and subject).

Two readers feed the same table: per-session MAT matrices (the published layout, one row
per image of the session in manifest order, one column per subject) and a tidy CSV/TSV.
Columns of the table: image_id, session, subject_id, jnd_qp (a ladder QP, NaN = missing),
origin (file name and row/column, for messages).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vvcjnd.errors import VvcjndError
from vvcjnd.io import read_table
from vvcjnd.labels.matfile import read_mat_arrays, select_matrix

SAMPLE_COLUMNS = ["image_id", "session", "subject_id", "jnd_qp", "origin"]
ORIENTATIONS = ("auto", "images_x_subjects", "subjects_x_images")
VALUE_KINDS = ("qp", "ladder_index")
TIDY_REQUIRED = ("image_id", "subject_id", "jnd_qp")
_TIDY_MISSING = {"", "nan", "na", "n/a", "null"}


@dataclass(frozen=True)
class MatLayout:
    """How one session's MAT file is laid out; ``path`` holds ``{session}``."""

    path: str
    variable: str | None = None
    orientation: str = "auto"
    value_kind: str = "qp"
    missing_codes: tuple[float, ...] = (0.0,)

    @classmethod
    def from_config(cls, mat: dict) -> MatLayout:
        """From the validated ``labels.mat`` config section."""
        return cls(
            path=mat["path"],
            variable=mat["variable"],
            orientation=mat["orientation"],
            value_kind=mat["value_kind"],
            missing_codes=tuple(float(code) for code in mat["missing_codes"]),
        )

    def session_path(self, session: int) -> Path:
        if "{session}" not in self.path:
            raise VvcjndError(
                f"config key labels.mat.path: '{self.path}' must contain {{session}} "
                "(it becomes the session number 1, 2, ...)"
            )
        return Path(self.path.replace("{session}", str(session)))


def subject_id(session: int, column: int) -> str:
    """Id of the subject in 1-based ``column`` of a session's MAT matrix, e.g. ``s2_07``."""
    return f"s{session}_{column:02d}"


def read_manifest(path: str | os.PathLike) -> pd.DataFrame:
    """image_id and session of every image, in manifest row order (the order inside a session)."""
    manifest = read_table(path)
    missing = [c for c in ("image_id", "session") if c not in manifest.columns]
    if missing:
        raise VvcjndError(f"manifest {path} lacks column(s) {missing}")
    manifest = manifest[["image_id", "session"]]
    duplicated = manifest["image_id"][manifest["image_id"].duplicated()].tolist()
    if duplicated:
        raise VvcjndError(f"manifest {path} lists image id(s) {duplicated} more than once")
    return manifest.reset_index(drop=True)


def session_images(manifest: pd.DataFrame) -> dict[int, list[str]]:
    """Session number -> its image ids in manifest order, sessions ascending."""
    return {
        int(session): group["image_id"].tolist()
        for session, group in manifest.groupby("session", sort=True)
    }


def ladder_values(
    raw: np.ndarray, value_kind: str, ladder: list[int], missing_codes=()
) -> tuple[np.ndarray, np.ndarray]:
    """Raw values -> (ladder QPs as float with NaN for missing, mask of values off the ladder).

    NaN and any of ``missing_codes`` are missing. ``value_kind`` qp: the value must be a
    ladder QP; ladder_index: an integer 1..len(ladder) naming the ladder's QP.
    """
    raw = np.asarray(raw, dtype=np.float64)
    missing = np.isnan(raw) | np.isin(raw, np.asarray(missing_codes, dtype=np.float64))
    qp = np.full(raw.shape, np.nan)
    if value_kind == "qp":
        on_ladder = np.isin(raw, np.asarray(ladder, dtype=np.float64))
        qp[on_ladder] = raw[on_ladder]
    elif value_kind == "ladder_index":
        on_ladder = (raw == np.round(raw)) & (raw >= 1) & (raw <= len(ladder))
        qp[on_ladder] = np.asarray(ladder, dtype=np.float64)[raw[on_ladder].astype(int) - 1]
    else:
        raise VvcjndError(f"value kind must be one of {list(VALUE_KINDS)}, got '{value_kind}'")
    qp[missing] = np.nan
    return qp, ~missing & ~on_ladder


def _value_expectation(value_kind: str, ladder: list[int]) -> str:
    if value_kind == "qp":
        return f"a ladder QP ({ladder[0]}..{ladder[-1]}, step {_step(ladder)})"
    return f"a ladder index (integer 1..{len(ladder)})"


def _step(ladder: list[int]) -> int:
    return ladder[1] - ladder[0] if len(ladder) > 1 else 1


def _check_missing_codes(layout: MatLayout, ladder: list[int]) -> None:
    codes = np.asarray(layout.missing_codes, dtype=np.float64)
    _, off = ladder_values(codes, layout.value_kind, ladder)
    clashing = codes[~off].tolist()
    if clashing:
        raise VvcjndError(
            f"config key labels.mat.missing_codes: {clashing} are also valid "
            f"{layout.value_kind} values of the ladder; a missing code must not be a sample value"
        )


def orient(matrix: np.ndarray, n_images: int, orientation: str, path) -> tuple[np.ndarray, bool]:
    """Return (images x subjects matrix, whether it was transposed); check the image count."""
    rows, columns = matrix.shape
    if orientation == "auto":
        if rows == n_images and columns == n_images:
            raise VvcjndError(
                f"MAT file {path}: the {rows}x{columns} matrix is ambiguous for a session of "
                f"{n_images} images; set config key labels.mat.orientation"
            )
        if rows == n_images:
            return matrix, False
        if columns == n_images:
            return matrix.T, True
        raise VvcjndError(
            f"MAT file {path}: neither side of the {rows}x{columns} matrix matches the "
            f"{n_images} images of this session in the manifest"
        )
    if orientation == "subjects_x_images":
        matrix = matrix.T
    elif orientation != "images_x_subjects":
        raise VvcjndError(f"orientation must be one of {list(ORIENTATIONS)}, got '{orientation}'")
    if matrix.shape[0] != n_images:
        raise VvcjndError(
            f"MAT file {path}: read as {orientation} the matrix has {matrix.shape[0]} image "
            f"rows, but this session has {n_images} images in the manifest"
        )
    return matrix, orientation == "subjects_x_images"


def read_mat_samples(manifest: pd.DataFrame, layout: MatLayout, ladder: list[int]) -> pd.DataFrame:
    """Samples of every session's MAT file; subject ids from :func:`subject_id`."""
    _check_missing_codes(layout, ladder)
    frames = []
    for session, images in session_images(manifest).items():
        path = layout.session_path(session)
        matrix = select_matrix(read_mat_arrays(path), path, layout.variable)
        matrix, transposed = orient(matrix, len(images), layout.orientation, path)
        qp, off_ladder = ladder_values(matrix, layout.value_kind, ladder, layout.missing_codes)
        if off_ladder.any():
            row, column = np.argwhere(off_ladder)[0]
            where = "column" if transposed else "row"
            raise VvcjndError(
                f"MAT file {path}: image {where} {row + 1} ({images[row]}), subject "
                f"{'row' if transposed else 'column'} {column + 1}: value {matrix[row, column]:g} "
                f"is not {_value_expectation(layout.value_kind, ladder)} (config key "
                f"labels.mat.value_kind is '{layout.value_kind}'); {int(off_ladder.sum())} such "
                "value(s) in the file"
            )
        n_subjects = qp.shape[1]
        frames.append(
            pd.DataFrame(
                {
                    "image_id": np.repeat(images, n_subjects),
                    "session": session,
                    "subject_id": [subject_id(session, c + 1) for c in range(n_subjects)]
                    * len(images),
                    "jnd_qp": qp.ravel(),
                    "origin": [
                        f"{path.name} image {r + 1} subject {c + 1}"
                        for r in range(len(images))
                        for c in range(n_subjects)
                    ],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)[SAMPLE_COLUMNS]


def read_tidy_samples(
    path: str | os.PathLike, manifest: pd.DataFrame, ladder: list[int]
) -> pd.DataFrame:
    """Samples of a tidy CSV (.csv) or TSV (any other suffix) table; jnd_qp values are QPs,
    or levels of the encoder's scale (a JPEG quality, say), which a column ``jnd_level`` may
    hold instead."""
    path = Path(path)
    if not path.is_file():
        raise VvcjndError(f"tidy label table {path} not found (config key labels.tidy.path)")
    separator = "," if path.suffix.lower() == ".csv" else "\t"
    try:
        table = pd.read_csv(path, sep=separator, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise VvcjndError(f"cannot parse tidy label table {path}: {exc}") from exc
    if "jnd_level" in table and "jnd_qp" not in table:
        table = table.rename(columns={"jnd_level": "jnd_qp"})
    lines = (np.arange(len(table)) + 2).tolist()  # line 1 is the header
    return tidy_samples(
        table, manifest, ladder, f"tidy label table {path}", path.name, "line", lines
    )


def tidy_samples(
    table: pd.DataFrame,
    manifest: pd.DataFrame,
    ladder: list[int],
    name: str,
    short_name: str,
    unit: str,
    row_numbers: list[int],
) -> pd.DataFrame:
    """Samples of a tidy table of text columns (image_id, subject_id, jnd_qp[, session]).

    ``name`` names the table in messages, ``unit`` and ``row_numbers`` (one per row) its rows
    (``line`` 2, 3, ...); the origin column is ``short_name`` and the row. Shared by the tidy
    file reader and the subjective test's database (``labels.source: test``).
    """
    missing_columns = [c for c in TIDY_REQUIRED if c not in table.columns]
    if missing_columns:
        raise VvcjndError(
            f"{name} lacks column(s) {missing_columns}; it has "
            f"{list(table.columns)} (expected image_id, subject_id, jnd_qp[, session])"
        )
    table = table.apply(lambda column: column.str.strip())
    session_of = dict(zip(manifest["image_id"], manifest["session"], strict=True))

    unknown = ~table["image_id"].isin(session_of)
    if unknown.any():
        first = np.flatnonzero(unknown)[0]
        raise VvcjndError(
            f"{name} {unit} {row_numbers[first]}: image_id "
            f"'{table['image_id'].iloc[first]}' is not in the manifest "
            f"({int(unknown.sum())} row(s) with unknown image ids)"
        )
    sessions = table["image_id"].map(session_of).astype(int)
    if "session" in table.columns:
        stated = pd.to_numeric(table["session"].replace("", np.nan), errors="coerce")
        unreadable = (table["session"] != "") & stated.isna()
        wrong = (stated.notna() & (stated != sessions)) | unreadable
        if wrong.any():
            first = np.flatnonzero(wrong)[0]
            raise VvcjndError(
                f"{name} {unit} {row_numbers[first]}: session "
                f"'{table['session'].iloc[first]}' of image '{table['image_id'].iloc[first]}' "
                f"differs from its manifest session {sessions.iloc[first]}"
            )

    text = table["jnd_qp"]
    blank = text.str.lower().isin(_TIDY_MISSING)
    numbers = pd.to_numeric(text.where(~blank, np.nan), errors="coerce")
    qp, off_ladder = ladder_values(numbers.to_numpy(), "qp", ladder)
    off_ladder |= ~blank.to_numpy() & numbers.isna().to_numpy()
    if off_ladder.any():
        first = np.flatnonzero(off_ladder)[0]
        raise VvcjndError(
            f"{name} {unit} {row_numbers[first]}: jnd_qp '{text.iloc[first]}' is not "
            f"{_value_expectation('qp', ladder)}; {int(off_ladder.sum())} such value(s)"
        )

    pairs = table[["image_id", "subject_id"]]
    duplicate = pairs.duplicated(keep=False)
    if duplicate.any():
        image, subject = pairs[duplicate].iloc[0]
        clash = np.asarray(row_numbers)[
            ((pairs["image_id"] == image) & (pairs["subject_id"] == subject)).to_numpy()
        ]
        raise VvcjndError(
            f"{name}: image '{image}' and subject '{subject}' appear more than once "
            f"({unit}s {clash.tolist()})"
        )
    return pd.DataFrame(
        {
            "image_id": table["image_id"],
            "session": sessions,
            "subject_id": table["subject_id"],
            "jnd_qp": qp,
            "origin": [f"{short_name} {unit} {number}" for number in row_numbers],
        }
    )[SAMPLE_COLUMNS]


def select_labelled(
    samples: pd.DataFrame, manifest: pd.DataFrame, exclude: list[str], min_subjects: int
) -> pd.DataFrame:
    """Drop excluded images; check every other manifest image has >= ``min_subjects`` samples.

    The result is sorted in manifest order (then subject order as read).
    """
    known = set(manifest["image_id"])
    unknown = [image for image in exclude if image not in known]
    if unknown:
        raise VvcjndError(
            f"config key labels.exclude: image id(s) {unknown} are not in the manifest"
        )
    wanted = manifest[~manifest["image_id"].isin(exclude)]
    samples = samples[samples["image_id"].isin(wanted["image_id"])]
    unlabelled = sorted(set(wanted["image_id"]) - set(samples["image_id"]))
    if unlabelled:
        raise VvcjndError(
            f"image(s) {unlabelled} have no samples; label them or list them in config key "
            "labels.exclude"
        )
    valid = samples.groupby("image_id", sort=False)["jnd_qp"].count()
    short = valid[valid < min_subjects]
    if not short.empty:
        image = short.index[0]
        origin = samples.loc[samples["image_id"] == image, "origin"].iloc[0]
        raise VvcjndError(
            f"image '{image}' (first sample: {origin}) has {short.iloc[0]} valid "
            f"sample(s), fewer than config key labels.min_subjects = {min_subjects}; "
            f"{len(short)} image(s) fall short"
        )
    order = {image: rank for rank, image in enumerate(wanted["image_id"])}
    return samples.sort_values(
        "image_id", key=lambda ids: ids.map(order), kind="stable"
    ).reset_index(drop=True)
