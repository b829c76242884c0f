"""Small manifests, quality tables and configs for the labels-stage tests (no encoder needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vvcjnd.config import validate_config

REPO = Path(__file__).resolve().parent.parent
LADDER = list(range(13, 52))


def write_manifest(path: Path, sessions: dict[int, list[str]]) -> pd.DataFrame:
    """A manifest with image_id and session columns (rows in session order)."""
    manifest = pd.DataFrame(
        [(image, session) for session, images in sessions.items() for image in images],
        columns=["image_id", "session"],
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    manifest.to_csv(path, sep="\t", index=False)
    return manifest


def write_quality(path: Path, manifest: pd.DataFrame, latent: dict[str, float]) -> None:
    """A quality table whose VMAF falls by 2 per QP and crosses 93 exactly at ``latent``."""
    rows = []
    for image_id, session in zip(manifest["image_id"], manifest["session"], strict=True):
        for qp in LADDER:
            vmaf = 93.0 + 2.0 * (latent[image_id] - qp)
            rows.append(
                {
                    "image_id": image_id,
                    "session": session,
                    "qp": qp,
                    "psnr_y": 60.0 - qp / 2,
                    "ssim_y": 1.0 - qp / 100,
                    "ms_ssim": 1.0 - qp / 200,
                    "vmaf": vmaf,
                }
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)


def set_labels(config: dict, **labels) -> dict:
    """Replace ``labels`` keys of ``config`` (nested dicts merged) and re-validate it."""
    for key, value in labels.items():
        if isinstance(value, dict):
            config["labels"][key].update(value)
        else:
            config["labels"][key] = value
    return validate_config(config)


def session_names(sessions: int, per_session: int) -> dict[int, list[str]]:
    """{1: ["img001", ...], 2: [...]} with ``per_session`` images in each session."""
    return {
        s: [f"img{(s - 1) * per_session + i + 1:03d}" for i in range(per_session)]
        for s in range(1, sessions + 1)
    }


def spread_latents(names: list[str], low: float = 22.0, high: float = 40.0) -> dict[str, float]:
    """Latent thresholds spread evenly over [low, high] QP."""
    return dict(zip(names, np.linspace(low, high, len(names)), strict=True))
