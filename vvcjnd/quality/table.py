"""The quality table of the decoded ladder and its rate-distortion figure.

PSNR-Y is measured on the coded luma plane (by the ladder job); PSNR-RGB on the 8-bit RGB
PNGs; SSIM-Y and MS-SSIM on the uint8 luma of the PNGs that the JND model sees
(:func:`vvcjnd.colour.luma_uint8`: MATLAB ``rgb2gray`` weights, rounded as MATLAB rounds its
uint8 result); VMAF by ffmpeg's libvmaf on the PNGs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from vvcjnd.colour import luma_uint8
from vvcjnd.errors import VvcjndError
from vvcjnd.images import read_png
from vvcjnd.io import read_table, write_table
from vvcjnd.paths import ladder_points_dir
from vvcjnd.psnr import psnr
from vvcjnd.quality import metrics

QUALITY_COLUMNS = [
    "image_id",
    "session",
    "encoder",
    "encoder_version",
    "setting",
    "scale",
    "more_distortion",
    "level",
    "qp",
    "bytes",
    "bpp",
    "psnr_y",
    "psnr_rgb",
    "ssim_y",
    "ms_ssim",
    "vmaf",
    "encode_s",
    "decode_s",
    "encode_cmd",
    "decode_cmd",
]


def image_quality(
    record_path: Path, session: int, use_vmaf: bool, threads: int = 1
) -> pd.DataFrame:
    """Quality rows (one per level) of one image's ladder record (`vvcjnd.distort.ladder`).

    ``level`` is on the codec's ``scale`` (``more_distortion`` says which way distortion
    grows); ``qp`` repeats it for a QP codec and is empty for the others."""
    try:
        record = json.loads(Path(record_path).read_text())
    except (OSError, ValueError) as exc:
        raise VvcjndError(f"cannot read ladder record {record_path}: {exc}") from exc
    pristine_png = Path(record["pristine_png"])
    pristine = read_png(pristine_png)
    pristine_luma = luma_uint8(pristine)
    ladder_dir = ladder_points_dir(record_path)
    pixels = record["width"] * record["height"]
    rows = []
    for point in record["points"]:
        png = ladder_dir / point["decoded_png"]
        decoded = read_png(png)
        luma = luma_uint8(decoded)
        rows.append(
            {
                "image_id": record["image_id"],
                "session": session,
                "encoder": record["encoder"],
                "encoder_version": point["encoder_version"],
                "setting": record["setting"],
                "scale": record["scale"]["name"],
                "more_distortion": record["scale"]["more_distortion"],
                "level": point["level"],
                "qp": point.get("qp"),
                "bytes": point["bytes"],
                "bpp": 8.0 * point["bytes"] / pixels,
                "psnr_y": point["psnr_y"],
                "psnr_rgb": psnr(pristine, decoded),
                "ssim_y": metrics.ssim(pristine_luma, luma),
                "ms_ssim": metrics.ms_ssim(pristine_luma, luma),
                "vmaf": metrics.vmaf(pristine_png, png, threads=threads) if use_vmaf else np.nan,
                "encode_s": point["encode_s"],
                "decode_s": point["decode_s"],
                "encode_cmd": point["encode_cmd"],
                "decode_cmd": point["decode_cmd"],
            }
        )
    table = pd.DataFrame(rows, columns=QUALITY_COLUMNS)
    table["qp"] = table["qp"].astype("Int64")  # empty, not NaN, for a codec without QPs
    return table


def combine(tables: list[Path], out_path: Path) -> pd.DataFrame:
    """Concatenate per-image quality tables (in the given order) into one table."""
    frame = pd.concat([read_table(path) for path in tables], ignore_index=True)
    frame["qp"] = frame["qp"].astype("Int64")
    write_table(out_path, frame[QUALITY_COLUMNS])
    return frame


def plot_rate_distortion(table: pd.DataFrame, out_path: Path) -> None:
    """Rate-distortion curves, bits per pixel vs PSNR-Y, one line per image (PNG)."""
    from vvcjnd.figures import Figure, save_figure

    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    for image_id, rows in table.groupby("image_id", sort=False):
        rows = rows.sort_values("bpp")
        ax.plot(rows["bpp"], rows["psnr_y"], marker=".", linewidth=1, label=image_id)
    ax.set_xscale("log")
    ax.set_xlabel("bits per pixel")
    ax.set_ylabel("PSNR-Y (dB)")
    encoder = table["encoder"].iloc[0]
    ax.set_title(f"Rate-distortion, {encoder} ({table['setting'].iloc[0]})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    save_figure(fig, out_path, dpi=120)
