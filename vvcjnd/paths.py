"""Every file name of the dataset, built in one place.

Kept free of torch, pandas and scipy so that the workflow can plan its jobs without importing
them. Folders are passed in (the workflow's ``results/<stage>/`` or a user's own); these
functions only name the files inside them.
"""

from __future__ import annotations

from pathlib import Path

SPLITS = ("train", "val", "test")
KINDS = ("pristine", "jnd")

PROFILE_FILES = {
    "jnd_png": "jnd.png",
    "map_npy": "jnd_map.npy",
    "residual_npy": "residual.npy",
    "map_png": "jnd_map.png",
    "summary": "summary.json",
}


def pristine_png(images_dir: str | Path, image_id: str) -> Path:
    """The canonical pristine PNG of an image in the sources stage's image folder."""
    return Path(images_dir) / f"{image_id}.png"


def ladder_record(ladder_dir: str | Path, image_id: str) -> Path:
    """The ladder record (JSON) of an image in one encoder's ladder folder."""
    return Path(ladder_dir) / f"{image_id}.json"


def record_image_id(record: str | Path) -> str:
    """The image id of a ladder record's path (the inverse of :func:`ladder_record`)."""
    return Path(record).name.removesuffix(".json")


def ladder_points_dir(record: str | Path) -> Path:
    """The folder of per-QP files (bitstreams, decoded PNGs, point records) beside a record."""
    return Path(record).with_suffix("")


def decoded_png(ladder_dir: str | Path, image_id: str, stem: str) -> Path:
    """The decoded PNG of ``image_id`` at one level in one codec's ladder folder; ``stem``
    names the level (vvcjnd.distort.codecs.LevelScale.stem: qp28, q090)."""
    return Path(ladder_dir) / image_id / f"{stem}.png"


def patch_array(patches_dir: str | Path, split: str, kind: str) -> Path:
    """One of the patch arrays: ``{split}_{kind}.npy`` (split in SPLITS, kind in KINDS)."""
    return Path(patches_dir) / f"{split}_{kind}.npy"


def profile_paths(out_dir: str | Path, stem: str = "") -> dict[str, Path]:
    """The output files of one image under ``out_dir`` (keys of :data:`PROFILE_FILES`, file
    names prefixed by ``stem``): the workflow's and the command line's one naming."""
    return {key: Path(out_dir) / f"{stem}{name}" for key, name in PROFILE_FILES.items()}


def profile_image_id(summary: str | Path) -> str:
    """The image id of a workflow profile file's path (``results/infer/<id>/summary.json``;
    the inverse of the workflow's ``profile_paths(f"{INFER}/{image}")``)."""
    return Path(summary).parent.name


def raw_label_files(labels: dict, labels_dir: str, sessions: list[int]) -> list[str]:
    """The raw label files the configured source reads (config section ``labels``), one per
    session for MAT files (simulated ones under ``labels_dir``), so a change reruns the stage.
    For the subjective test it is the SQLite database itself, so new answers rerun it."""
    if labels["source"] in ("tidy", "test"):
        return [labels[labels["source"]]["path"]]
    if labels["source"] == "simulated":
        pattern = f"{labels_dir}/simulated/f_session{{session}}.mat"
    else:
        pattern = labels["mat"]["path"]
    return [pattern.replace("{session}", str(session)) for session in sessions]
