"""File names of the JND-profile outputs, shared by the workflow, the scripts and the CLI.

Kept free of torch so that the workflow can plan its jobs without importing it.
"""

from __future__ import annotations

from pathlib import Path

PROFILE_FILES = {
    "jnd_png": "jnd.png",
    "map_npy": "jnd_map.npy",
    "residual_npy": "residual.npy",
    "map_png": "jnd_map.png",
    "summary": "summary.json",
}


def profile_paths(out_dir: str | Path, stem: str = "") -> dict[str, Path]:
    """The output files of one image under ``out_dir`` (keys of :data:`PROFILE_FILES`, file
    names prefixed by ``stem``): the workflow's and the command line's one naming."""
    return {key: Path(out_dir) / f"{stem}{name}" for key, name in PROFILE_FILES.items()}
