"""Atomic file writing, hashing and table I/O shared by every stage.

Every output is written to a temporary sibling and renamed into place, so an
interrupted job never leaves a half-written file under its final name.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from vvcjnd.errors import VvcjndError

if TYPE_CHECKING:  # pandas is imported by the table functions only: the ladder jobs skip it
    import pandas as pd


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_current_umask()


# Errors of writing the temporary file that mean "this folder cannot take it" (full, over
# quota, read-only, file too large) rather than a fault of the writer or of its input.
_NO_ROOM_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched. A full,
    read-only or forbidden folder raises :class:`VvcjndError` naming ``path``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _cannot_write(path, exc) from exc
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, _FILE_MODE)  # mkstemp creates 0600; give the usual 0644
        os.replace(tmp_path, path)
    except OSError as exc:
        if exc.errno not in _NO_ROOM_ERRNOS:
            raise
        raise _cannot_write(path, exc) from exc
    finally:
        tmp_path.unlink(missing_ok=True)


def _cannot_write(path: Path, exc: OSError) -> VvcjndError:
    return VvcjndError(f"cannot write {path}: {exc.strerror or exc} (errno {exc.errno})")


def remove_stale_temporaries(path: str | os.PathLike) -> int:
    """Delete what killed atomic writes left behind: the ``.<name>.*.tmp`` files beside the file
    ``path``, or every ``.*.tmp`` file in the folder ``path``. Returns how many were removed.

    Only for paths that one job owns (its outputs, its private folders): a running writer's
    temporary file looks the same as a stale one.
    """
    path = Path(path)
    if path.is_dir():
        stale = path.glob(".*.tmp")
    else:
        stale = path.parent.glob(f".{glob.escape(path.name)}.*.tmp")
    removed = 0
    for leftover in stale:
        leftover.unlink(missing_ok=True)
        removed += 1
    return removed


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj) -> None:
    """Write ``obj`` as stable, sorted, indented JSON atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_table(path: str | os.PathLike, frame: pd.DataFrame) -> None:
    """Write a tab-separated table atomically with a fixed float format (byte-stable)."""
    write_text(path, frame.to_csv(sep="\t", index=False, float_format="%.6g", lineterminator="\n"))


TEXT_COLUMNS = {"image_id": str, "subject_id": str}


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a tab-separated table written by :func:`write_table` (ids stay text: "007")."""
    import pandas as pd

    try:
        return pd.read_csv(
            path, sep="\t", dtype=TEXT_COLUMNS, keep_default_na=False, na_values=[""]
        )
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise VvcjndError(f"cannot read table {path}: {exc}") from exc


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
