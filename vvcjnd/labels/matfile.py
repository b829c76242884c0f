"""MATLAB MAT files of raw JND samples: v5 (scipy.io) and v7.3 (HDF5, h5py), read and written.

Arrays come back in MATLAB's own (rows, columns) order as float64: a v7.3 file stores its
matrices column-major, so h5py sees them transposed and they are transposed back here.
Written files are byte-stable: the creation date MATLAB headers carry is replaced by fixed text.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import h5py
import numpy as np
import scipy.io

from vvcjnd.errors import VvcjndError
from vvcjnd.io import atomic_path, write_bytes

MAT_VERSIONS = ("v5", "v7.3")
_HEADER_TEXT_BYTES = 116  # descriptive text at the start of every MAT file
_V73_USERBLOCK_BYTES = 512  # MATLAB v7.3 files reserve a 512-byte HDF5 user block for the header
# What scipy and h5py raise on damaged or foreign files.
_UNREADABLE = (
    OSError, ValueError, TypeError, NotImplementedError, KeyError, IndexError, EOFError,
    RuntimeError, OverflowError, UnicodeDecodeError, struct.error, zlib.error,
    scipy.io.matlab.MatReadError,
)  # fmt: skip
_NON_NUMERIC_CLASSES = {"char", "logical", "cell", "struct", "function_handle"}


def read_mat_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every 2-D numeric variable of a MAT file (v5 or v7.3), by name, float64 (rows, columns)."""
    path = Path(path)
    if not path.is_file():
        raise VvcjndError(f"MAT file {path} not found")
    try:
        return _read_v73(path) if h5py.is_hdf5(path) else _read_v5(path)
    except _UNREADABLE as exc:
        raise VvcjndError(f"cannot read MAT file {path}: {exc}") from exc


def _read_v5(path: Path) -> dict[str, np.ndarray]:
    """MAT v5 through scipy, in a child process: scipy's reader can crash the interpreter on
    some damaged files (seen while fuzzing), which must end in our error, not a dead job."""
    with tempfile.TemporaryDirectory(prefix="vvcjnd-mat-") as tmp:
        out = Path(tmp) / "arrays.npz"
        child = subprocess.run(
            [sys.executable, "-m", "vvcjnd.labels.matfile", str(path), str(out)],
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            lines = child.stderr.strip().splitlines()
            reason = lines[-1] if lines else f"the reader died (status {child.returncode})"
            raise VvcjndError(f"cannot read MAT file {path}: {reason}")
        with np.load(out) as arrays:
            return {name: arrays[name] for name in arrays.files}


def _v5_to_npz(path: Path, out: Path) -> None:
    """The child side of :func:`_read_v5`: every 2-D numeric variable, float64, into ``out``."""
    contents = scipy.io.loadmat(path)
    arrays = {
        name: value.astype(np.float64)
        for name, value in contents.items()
        if not name.startswith("__") and _is_numeric_matrix(value)
    }
    np.savez(out, **arrays)


def _read_v73(path: Path) -> dict[str, np.ndarray]:
    arrays = {}
    with h5py.File(path, "r") as handle:
        for name, item in handle.items():
            if name.startswith("#") or not isinstance(item, h5py.Dataset):
                continue
            matlab_class = item.attrs.get("MATLAB_class", b"double")
            if isinstance(matlab_class, bytes):
                matlab_class = matlab_class.decode("ascii", "replace")
            if matlab_class in _NON_NUMERIC_CLASSES:
                continue
            value = item[()]
            if _is_numeric_matrix(value):
                arrays[name] = value.T.astype(np.float64)
    return arrays


def _is_numeric_matrix(value) -> bool:
    return isinstance(value, np.ndarray) and value.ndim == 2 and value.dtype.kind in "iuf"


def select_matrix(
    arrays: dict[str, np.ndarray], path: str | os.PathLike, variable: str | None
) -> np.ndarray:
    """The sample matrix: ``variable`` if given, else the file's only 2-D numeric array."""
    names = sorted(arrays)
    if variable is not None:
        if variable not in arrays:
            raise VvcjndError(
                f"MAT file {path} has no 2-D numeric variable '{variable}' (config key "
                f"labels.mat.variable); its 2-D numeric variables are {names}"
            )
        return arrays[variable]
    if len(names) != 1:
        raise VvcjndError(
            f"MAT file {path} holds {len(names)} 2-D numeric variables {names}, expected exactly "
            "one; name the sample matrix with config key labels.mat.variable"
        )
    return arrays[names[0]]


def write_mat(path: str | os.PathLike, arrays: dict[str, np.ndarray], version: str) -> None:
    """Write float64 matrices to a MAT file, ``version`` v5 or v7.3, atomically and byte-stable."""
    if version not in MAT_VERSIONS:
        raise VvcjndError(f"MAT version must be one of {list(MAT_VERSIONS)}, got '{version}'")
    arrays = {name: np.asarray(value, dtype=np.float64) for name, value in arrays.items()}
    if version == "v5":
        buffer = io.BytesIO()
        scipy.io.savemat(buffer, arrays, format="5", do_compression=False, oned_as="column")
        data = bytearray(buffer.getvalue())
        data[:_HEADER_TEXT_BYTES] = _header_text("MATLAB 5.0 MAT-file")
        write_bytes(path, bytes(data))
        return
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w", userblock_size=_V73_USERBLOCK_BYTES, libver="earliest") as handle:
            for name, value in arrays.items():
                dataset = handle.create_dataset(name, data=value.T, track_times=False)
                dataset.attrs["MATLAB_class"] = np.bytes_("double")
        with open(tmp, "r+b") as handle:
            # text, 8-byte subsystem offset, version 0x0200, endian indicator "IM"
            header = _header_text("MATLAB 7.3 MAT-file, HDF5 schema 1.00 .")
            handle.write(header + b" " * 8 + b"\x00\x02" + b"IM")


def _header_text(text: str) -> bytes:
    return f"{text}, written by vvcjnd".encode("ascii").ljust(_HEADER_TEXT_BYTES, b" ")


if __name__ == "__main__":  # the child process of _read_v5
    try:
        _v5_to_npz(Path(sys.argv[1]), Path(sys.argv[2]))
    except _UNREADABLE as error:
        sys.exit(f"{type(error).__name__}: {error}")
