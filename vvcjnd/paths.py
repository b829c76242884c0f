"""File names the workflow plans with: JND-profile outputs and raw label files.

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


def raw_label_files(labels: dict, labels_dir: str, sessions: list[int]) -> list[str]:
    """The raw label files the configured source reads (config section ``labels``), one per
    session for MAT files (simulated ones under ``labels_dir``), so a change reruns the stage."""
    if labels["source"] == "tidy":
        return [labels["tidy"]["path"]]
    if labels["source"] == "simulated":
        pattern = f"{labels_dir}/simulated/f_session{{session}}.mat"
    else:
        pattern = labels["mat"]["path"]
    return [pattern.replace("{session}", str(session)) for session in sessions]
