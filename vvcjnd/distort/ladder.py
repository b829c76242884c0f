"""The distortion ladder of one image: encode and decode it at every QP of the ladder.

One job per image runs ``workers`` single-threaded encoder processes side by side. Each
finished QP leaves three files under ``results/ladder/<encoder>/<image>/``: the bitstream,
the decoded RGB PNG and a small JSON record, each renamed into place only when complete.
A rerun (after a crash or a kill) reuses every QP whose record matches the same source,
commands and colour format, so an interruption costs only the encodes that had not finished.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from vvcjnd.colour import YuvFormat
from vvcjnd.distort.codecs import Codec, Frame
from vvcjnd.errors import VvcjndError
from vvcjnd.formats import FORMAT, tool_versions
from vvcjnd.images import png_bytes, read_png
from vvcjnd.io import remove_stale_temporaries, sha256_file, write_bytes, write_json
from vvcjnd.paths import point_stem
from vvcjnd.psnr import psnr
from vvcjnd.runner import portable_args, run_tool


def run_ladder(
    pristine_png: Path,
    out_dir: Path,
    record_path: Path,
    codec: Codec,
    yuv: YuvFormat,
    qps: list[int],
    workers: int = 1,
    timeout_s: float | None = None,
    log: Path | None = None,
) -> dict:
    """Encode and decode ``pristine_png`` at every QP; write the ladder record; return it."""
    rgb = read_png(pristine_png)
    height, width = rgb.shape[:2]
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out_dir)  # of a killed run; its finished QPs are kept
    planes = yuv.rgb_to_yuv(rgb)
    source_yuv = out_dir / "source.yuv"
    write_bytes(source_yuv, yuv.to_bytes(*planes))
    version_output = run_tool(codec.version_args(), log, timeout_s, check=False).output
    source_sha = sha256_file(pristine_png)

    def one(qp: int) -> dict:
        frame = Frame(
            source_yuv=source_yuv,
            width=width,
            height=height,
            bit_depth=yuv.bit_depth,
            qp=qp,
            bitstream=out_dir / f"{point_stem(qp)}{codec.bitstream_suffix}.part",
            decoded_yuv=out_dir / f"{point_stem(qp)}.decoded.yuv",
        )
        return _ladder_point(
            frame, codec, yuv, planes[0], source_sha, version_output, timeout_s, log
        )

    try:
        # Lowest QP first: the slowest encodes start early, so the workers finish together.
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            points = list(pool.map(one, sorted(qps)))
    finally:
        source_yuv.unlink(missing_ok=True)
    record = {
        "image_id": pristine_png.stem,
        "pristine_png": str(pristine_png),
        "pristine_sha256": source_sha,
        "encoder": codec.name,
        "setting": codec.setting,
        "encoder_version": points[0]["encoder_version"],
        "width": width,
        "height": height,
        "colour": asdict(yuv),
        "tools": tool_versions(),
        "points": points,
    }
    write_json(record_path, record)
    return record


def _cache_key(
    source_sha: str, frame: Frame, codec: Codec, yuv: YuvFormat, tool_version: str
) -> str:
    """What a finished QP depends on: source, portable command lines (tools by name), the
    tools' version output, colour format and the stage's format version; no install path."""
    text = json.dumps(
        [
            source_sha,
            portable_args(codec.encode_args(frame)),
            portable_args(codec.decode_args(frame)),
            asdict(yuv),
            tool_version,
            FORMAT["distort"],
        ],
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _ladder_point(
    frame: Frame,
    codec: Codec,
    yuv: YuvFormat,
    source_luma: np.ndarray,
    source_sha: str,
    version_output: str,
    timeout_s: float | None,
    log: Path | None,
) -> dict:
    out_dir = frame.bitstream.parent
    stem = point_stem(frame.qp)
    bitstream = out_dir / f"{stem}{codec.bitstream_suffix}"
    png = out_dir / f"{stem}.png"
    record_file = out_dir / f"{stem}.json"
    key = _cache_key(source_sha, frame, codec, yuv, _portable_text(version_output, codec))
    cached = _reusable(record_file, key, bitstream, png)
    if cached is not None:
        return cached

    decoded_format = replace(yuv, bit_depth=codec.decoded_bit_depth(yuv.bit_depth))
    decode_frame = replace(frame, bitstream=bitstream)
    try:
        encoded = run_tool(codec.encode_args(frame), log, timeout_s)
        if not frame.bitstream.is_file() or frame.bitstream.stat().st_size == 0:
            raise VvcjndError(
                f"encoder wrote no bitstream {frame.bitstream} ({encoded.command_line})"
            )
        frame.bitstream.replace(bitstream)
        decoded = run_tool(codec.decode_args(decode_frame), log, timeout_s)
        try:
            data = frame.decoded_yuv.read_bytes()
        except OSError as exc:
            raise VvcjndError(f"decoder wrote no output {frame.decoded_yuv}: {exc}") from exc
        planes = decoded_format.from_bytes(data, frame.width, frame.height)
    except BaseException:
        bitstream.unlink(missing_ok=True)
        raise
    finally:
        frame.bitstream.unlink(missing_ok=True)
        frame.decoded_yuv.unlink(missing_ok=True)
    write_bytes(png, png_bytes(decoded_format.yuv_to_rgb(*planes)))
    point = {
        "qp": frame.qp,
        "key": key,
        "bitstream": bitstream.name,
        "bitstream_sha256": sha256_file(bitstream),
        "bytes": bitstream.stat().st_size,
        "decoded_png": png.name,
        "decoded_sha256": sha256_file(png),
        "psnr_y": _psnr_y(source_luma, yuv.bit_depth, planes[0], decoded_format.bit_depth),
        "encoder_version": codec.parse_version(version_output + "\n" + encoded.output),
        "encode_cmd": encoded.portable_command_line,
        "decode_cmd": decoded.portable_command_line,
        "encode_s": round(encoded.seconds, 3),
        "decode_s": round(decoded.seconds, 3),
    }
    write_json(record_file, point)
    return point


def _portable_text(tool_output: str, codec: Codec) -> str:
    """A tool's version output without the folder the tool is installed in."""
    folder = str(Path(codec.version_args()[0]).parent)
    return tool_output if folder == "." else tool_output.replace(folder + "/", "")


def _psnr_y(
    source: np.ndarray, source_depth: int, decoded: np.ndarray, decoded_depth: int
) -> float:
    """PSNR of the coded luma plane in 8-bit units (peak 255 at 8 bits, 1020 at 10 bits)."""
    depth = max(source_depth, decoded_depth)
    source = source.astype(np.int32) << (depth - source_depth)
    decoded = decoded.astype(np.int32) << (depth - decoded_depth)
    return psnr(source, decoded, peak=255.0 * (1 << (depth - 8)))


def _reusable(record_file: Path, key: str, bitstream: Path, png: Path) -> dict | None:
    """The stored record of a finished QP if it matches ``key`` and its files are intact."""
    try:
        point = json.loads(record_file.read_text())
    except (OSError, ValueError):
        return None
    if point.get("key") != key or not bitstream.is_file() or not png.is_file():
        return None
    if sha256_file(bitstream) != point.get("bitstream_sha256"):
        return None
    if sha256_file(png) != point.get("decoded_sha256"):
        return None
    return point
