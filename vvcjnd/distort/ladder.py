"""The distortion ladder of one image: encode and decode it at every level of the ladder.

One job per image runs ``workers`` single-threaded encodes side by side. Each finished level
leaves three files under ``results/ladder/<codec>/<image>/``: the bitstream, the decoded RGB
PNG and a small JSON record, each renamed into place only when complete. A rerun (after a
crash or a kill) reuses every level whose record matches the same source, commands and
colour format, so an interruption costs only the encodes that had not finished.

A level is on the codec's scale (a QP, a JPEG quality, a JPEG XL distance); the record
names the scale and its direction, and a QP codec's points keep their ``qp`` field.
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
from vvcjnd.psnr import psnr

RAW_SUFFIX = {"yuv420": "yuv", "rgb": "rgb"}  # a codec's raw source and decoded files


def run_ladder(
    pristine_png: Path,
    out_dir: Path,
    record_path: Path,
    codec: Codec,
    yuv: YuvFormat,
    levels: list,
    workers: int = 1,
    timeout_s: float | None = None,
    log: Path | None = None,
) -> dict:
    """Encode and decode ``pristine_png`` at every level; write the ladder record; return it.

    The points are in distortion order (least first), the order a QP ladder always had."""
    rgb = read_png(pristine_png)
    height, width = rgb.shape[:2]
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out_dir)  # of a killed run; its finished levels are kept
    source = out_dir / f"source.{RAW_SUFFIX[codec.takes]}"
    if codec.takes == "rgb":  # the codec converts; PSNR-Y needs our luma only
        source_luma = yuv.luma(rgb)
        write_bytes(source, rgb.tobytes())
    else:
        planes = yuv.rgb_to_yuv(rgb)
        source_luma = planes[0]
        write_bytes(source, yuv.to_bytes(*planes))
    version_output = codec.version_text(log, timeout_s)
    source_sha = sha256_file(pristine_png)

    def one(level) -> dict:
        stem = codec.scale.stem(level)
        frame = Frame(
            source=source,
            width=width,
            height=height,
            bit_depth=yuv.bit_depth,
            level=level,
            bitstream=out_dir / f"{stem}{codec.bitstream_suffix}.part",
            decoded=out_dir / f"{stem}.decoded.{RAW_SUFFIX[codec.takes]}",
        )
        return _ladder_point(
            frame, codec, yuv, source_luma, source_sha, version_output, timeout_s, log
        )

    try:
        # Least distortion first: the slowest encodes start early, so the workers finish
        # together.
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            points = list(pool.map(one, codec.scale.in_distortion_order(levels)))
    finally:
        source.unlink(missing_ok=True)
    record = {
        "image_id": pristine_png.stem,
        "pristine_png": str(pristine_png),
        "pristine_sha256": source_sha,
        "encoder": codec.name,
        "setting": codec.setting,
        "scale": asdict(codec.scale),
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
    """What a finished level depends on: source, portable command lines (tools by name), the
    tools' version output, colour format and the stage's format version; no install path."""
    text = json.dumps(
        [
            source_sha,
            *codec.recipe(frame),
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
    stem = codec.scale.stem(frame.level)
    bitstream = out_dir / f"{stem}{codec.bitstream_suffix}"
    png = out_dir / f"{stem}.png"
    record_file = out_dir / f"{stem}.json"
    key = _cache_key(source_sha, frame, codec, yuv, version_output)
    cached = _reusable(record_file, key, bitstream, png)
    if cached is not None:
        return cached

    decoded_format = replace(yuv, bit_depth=codec.decoded_bit_depth(yuv.bit_depth))
    decode_frame = replace(frame, bitstream=bitstream)
    try:
        encoded = codec.encode(frame, log, timeout_s)
        if not frame.bitstream.is_file() or frame.bitstream.stat().st_size == 0:
            raise VvcjndError(
                f"encoder wrote no bitstream {frame.bitstream} ({encoded.command_line})"
            )
        frame.bitstream.replace(bitstream)
        decoded = codec.decode(decode_frame, log, timeout_s)
        try:
            data = frame.decoded.read_bytes()
        except OSError as exc:
            raise VvcjndError(f"decoder wrote no output {frame.decoded}: {exc}") from exc
        rgb, luma, luma_depth = _decoded(data, frame, codec, decoded_format)
    except BaseException:
        bitstream.unlink(missing_ok=True)
        raise
    finally:
        frame.bitstream.unlink(missing_ok=True)
        frame.decoded.unlink(missing_ok=True)
    write_bytes(png, png_bytes(rgb))
    level = {"qp": int(frame.level)} if codec.scale.name == "qp" else {}
    point = {
        **level,
        "level": frame.level,
        "key": key,
        "bitstream": bitstream.name,
        "bitstream_sha256": sha256_file(bitstream),
        "bytes": bitstream.stat().st_size,
        "decoded_png": png.name,
        "decoded_sha256": sha256_file(png),
        "psnr_y": _psnr_y(source_luma, yuv.bit_depth, luma, luma_depth),
        "encoder_version": codec.parse_version(version_output + "\n" + encoded.output),
        "encode_cmd": encoded.portable_command_line,
        "decode_cmd": decoded.portable_command_line,
        "encode_s": round(encoded.seconds, 3),
        "decode_s": round(decoded.seconds, 3),
    }
    write_json(record_file, point)
    return point


def _decoded(
    data: bytes, frame: Frame, codec: Codec, decoded_format: YuvFormat
) -> tuple[np.ndarray, np.ndarray, int]:
    """The decoded picture as 8-bit RGB, its luma plane and that plane's bit depth.

    A ``yuv420`` codec's luma is its own coded plane; an ``rgb`` codec's is the luma of our
    colour format computed from its decoded RGB, so PSNR-Y means the same for both."""
    if codec.takes == "rgb":
        expected = frame.width * frame.height * 3
        if len(data) != expected:
            raise VvcjndError(
                f"decoder wrote {len(data)} bytes to {frame.decoded}, expected {expected}"
            )
        rgb = np.frombuffer(data, np.uint8).reshape(frame.height, frame.width, 3)
        return rgb, decoded_format.luma(rgb), decoded_format.bit_depth
    planes = decoded_format.from_bytes(data, frame.width, frame.height)
    return decoded_format.yuv_to_rgb(*planes), planes[0], decoded_format.bit_depth


def _psnr_y(
    source: np.ndarray, source_depth: int, decoded: np.ndarray, decoded_depth: int
) -> float:
    """PSNR of the coded luma plane in 8-bit units (peak 255 at 8 bits, 1020 at 10 bits)."""
    depth = max(source_depth, decoded_depth)
    if source_depth < depth:
        source = source.astype(np.int32) << (depth - source_depth)
    if decoded_depth < depth:
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
