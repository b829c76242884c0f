"""The test's stimulus set from the ladder: opaque file names, a manifest with sha256, a plan.

``build_stimuli`` (rule ``subjective_stimuli``) writes, under ``results/subjective/``:

- ``stimuli/<id>.png``: every image's pristine and decoded versions at native size (after the
  optional centred crop ``subjective.crop``), named by an opaque id (an HMAC of the image,
  role and level keyed by the master seed), so a name says nothing about level or role;
- ``stimuli.tsv``: stimulus_id, file (relative to the table's folder), sha256, image_id,
  session, role (pristine or decoded), level (the QP; empty for the pristine), level_index
  (0 = mildest; -1 for the pristine), width, height;
- ``plan.json``: the test settings (:class:`~vvcjnd.subjective.schedule.TrialPlan`).

``load_stimuli`` (the server, at start) checks every file against the manifest's sha256.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vvcjnd.errors import VvcjndError
from vvcjnd.images import read_png, write_png
from vvcjnd.io import read_table, sha256_file, write_json, write_table
from vvcjnd.paths import ladder_points_dir, ladder_record, pristine_png
from vvcjnd.subjective.schedule import TrialPlan

PRISTINE = "pristine"
DECODED = "decoded"
MANIFEST_COLUMNS = [
    "stimulus_id",
    "file",
    "sha256",
    "image_id",
    "session",
    "role",
    "level",
    "level_index",
    "width",
    "height",
]


def stimulus_id(seed: int, image_id: str, role: str, level: int | None) -> str:
    """Opaque, seed-keyed id (24 hex digits) of one stimulus."""
    message = f"{image_id}/{role}/{'' if level is None else level}".encode()
    key = f"vvcjnd-subjective-{seed}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:24]


def centre_crop(pixels: np.ndarray, width: int | None, height: int | None) -> np.ndarray:
    """The centred crop to at most ``width`` x ``height`` pixels (None = that side whole);
    an odd remainder leaves the extra pixel on the right/bottom side out."""
    rows, columns = pixels.shape[:2]
    keep_w = columns if width is None else min(width, columns)
    keep_h = rows if height is None else min(height, rows)
    top, left = (rows - keep_h) // 2, (columns - keep_w) // 2
    return pixels[top : top + keep_h, left : left + keep_w]


def _decoded_points(record_path: Path, levels: list, sign: int) -> dict[int, Path]:
    """Position -> decoded PNG of a ladder record, each checked against the record's sha256;
    a point's position is its level times ``sign`` (+1: higher = more distortion)."""
    try:
        record = json.loads(record_path.read_text())
        points = {sign * point["level"]: point for point in record["points"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise VvcjndError(f"cannot read ladder record {record_path}: {exc}") from exc
    files = {}
    for level in levels:
        if level not in points:
            raise VvcjndError(f"ladder record {record_path} has no point at position {level}")
        path = ladder_points_dir(record_path) / points[level]["decoded_png"]
        if not path.is_file() or sha256_file(path) != points[level]["decoded_sha256"]:
            raise VvcjndError(
                f"decoded image {path} is missing or differs from its ladder record's sha256"
            )
        files[level] = path
    return files


def build_stimuli(
    manifest_path: str | os.PathLike,
    images_dir: str | os.PathLike,
    ladder_dir: str | os.PathLike,
    levels: list[int],
    subjective: dict,
    seed: int,
    out_dir: str | os.PathLike,
    stimuli_table: str | os.PathLike,
    plan_path: str | os.PathLike,
    sign: int = 1,
) -> TrialPlan:
    """Write the stimulus set of every manifest image (config section ``subjective``).

    ``levels``: the encoder's ladder in positions (ascending, more distortion; the QPs of a
    QP codec, ``sign`` -1 times the level for a scale where lower is more distortion); the
    plan and the test's database hold those positions (vvcjnd.labels.levels)."""
    manifest = read_table(manifest_path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    crop, crowd = subjective["crop"], subjective["crowd"]
    rows, sessions, sizes = [], {}, {}
    for image_id, session in zip(manifest["image_id"], manifest["session"], strict=True):
        session = int(session)
        sessions.setdefault(session, []).append(image_id)
        decoded = _decoded_points(ladder_record(ladder_dir, image_id), levels, sign)
        versions = [(PRISTINE, None, -1, pristine_png(images_dir, image_id))]
        versions += [(DECODED, qp, i, decoded[qp]) for i, qp in enumerate(levels)]
        for role, level, index, source in versions:
            pixels = centre_crop(read_png(source), crop["width"], crop["height"])
            ident = stimulus_id(seed, image_id, role, level)
            target = out_dir / f"{ident}.png"
            write_png(target, pixels)
            height, width = pixels.shape[:2]
            sizes[image_id] = [width, height]
            relative = os.path.relpath(target, Path(stimuli_table).parent)
            rows.append(
                [ident, relative, sha256_file(target), image_id, session, role, level, index]
                + [width, height]
            )
    table = pd.DataFrame(rows, columns=MANIFEST_COLUMNS).astype({"level": "Int64"})
    write_table(stimuli_table, table)
    plan = {
        "seed": seed,
        "procedure": subjective["procedure"],
        "level_name": "qp",
        "levels": list(levels),
        "sessions": {str(k): v for k, v in sorted(sessions.items())},
        "sizes": sizes,
        "trap_rate": subjective["traps"]["rate"],
        "trap_fail_share": subjective["traps"]["fail_share"],
        "exclude_flagged": subjective["traps"]["exclude_flagged"],
        "break_every": subjective["break_every"],
        "training_trials": subjective["training_trials"],
        "display": subjective["display"],
        "gap_px": subjective["gap_px"],
        "flicker_hz": subjective["flicker"]["rate_hz"],
        "flicker_tolerance": subjective["flicker"]["tolerance"],
        "not_sure": subjective["not_sure"],
        "id_param": crowd["id_param"],
        "time_limit_min": crowd["time_limit_min"],
        "min_screen": [crowd["min_screen_width"], crowd["min_screen_height"]],
        "qualification_trials": crowd["qualification_trials"],
        "qualification_max_errors": crowd["qualification_max_errors"],
        "quest": subjective.get("quest", {}),
    }
    write_json(plan_path, plan)
    return TrialPlan.from_json(plan)


@dataclass(frozen=True)
class StimulusSet:
    """A checked stimulus set: the plan and (image id, level index or -1) -> file."""

    plan: TrialPlan
    plan_text: str  # plan.json as read, stored in the database at its creation
    files: dict[tuple[str, int], Path]

    def file(self, image_id: str, level_index: int | None) -> Path:
        """The pristine (level None) or decoded stimulus of an image."""
        return self.files[(image_id, -1 if level_index is None else level_index)]


def load_stimuli(stimuli_table: str | os.PathLike, plan_path: str | os.PathLike) -> StimulusSet:
    """Read the manifest and plan; every file must exist and match its sha256 (else an error
    naming the file)."""
    stimuli_table, plan_path = Path(stimuli_table), Path(plan_path)
    try:
        plan_text = plan_path.read_text()
        plan = TrialPlan.from_json(json.loads(plan_text))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise VvcjndError(f"cannot read test plan {plan_path}: {exc}") from exc
    table = read_table(stimuli_table)
    missing = [c for c in MANIFEST_COLUMNS if c not in table.columns]
    if missing:
        raise VvcjndError(f"stimulus manifest {stimuli_table} lacks column(s) {missing}")
    files = {}
    for row in table.itertuples(index=False):
        relative = Path(str(row.file))
        if relative.is_absolute() or ".." in relative.parts:
            raise VvcjndError(
                f"stimulus manifest {stimuli_table}: file '{relative}' is not inside it"
            )
        path = stimuli_table.parent / relative
        if not path.is_file():
            raise VvcjndError(f"stimulus file {path} listed in {stimuli_table} is missing")
        if sha256_file(path) != row.sha256:
            raise VvcjndError(
                f"stimulus file {path} does not match its sha256 in {stimuli_table}; "
                "rebuild the stimuli (snakemake subjective_stimuli)"
            )
        files[(str(row.image_id), int(row.level_index))] = path
    for images in plan.sessions.values():
        for image_id in images:
            needed = [(image_id, i) for i in range(-1, plan.n_levels)]
            if any(key not in files for key in needed):
                raise VvcjndError(
                    f"stimulus manifest {stimuli_table} lacks versions of image '{image_id}'"
                )
    return StimulusSet(plan=plan, plan_text=plan_text, files=files)
