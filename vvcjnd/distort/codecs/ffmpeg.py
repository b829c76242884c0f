"""Codecs inside the ffmpeg that the imageio-ffmpeg wheel ships (or the user's own ffmpeg).

Each adapter codes one intra frame at a constant level with adaptive quantisation off and one
thread, and decodes with ffmpeg (one thread) to the same kind of raw file it was given:
HEVC by libx265, H.264 by libx264, AV1 by libaom and by SVT-AV1 (decoded by libdav1d), JPEG XL
by libjxl. libkvazaar is left out: the bundled one codes 8 bits only.
"""

from __future__ import annotations

import functools
import re
import subprocess
from abc import ABC, abstractmethod
from pathlib import Path

from vvcjnd.distort.codecs.base import CommandCodec, Frame
from vvcjnd.distort.codecs.scales import SCALES
from vvcjnd.errors import VvcjndError
from vvcjnd.runner import run_tool

FFMPEG_KEY = "encode.ffmpeg"


def bundled_ffmpeg() -> str:
    """Path of the static ffmpeg shipped by the imageio-ffmpeg wheel."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@functools.cache
def ffmpeg_components(ffmpeg: str, kind: str) -> frozenset[str]:
    """The names of the ``kind`` (``encoders`` or ``decoders``) an ffmpeg executable has."""
    try:
        listing = subprocess.run(
            [ffmpeg, "-hide_banner", f"-{kind}"], capture_output=True, text=True, check=False
        ).stdout
    except OSError:
        return frozenset()
    names = set()
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) >= 2 and len(fields[0]) == 6 and fields[0][0] in "VAS":
            names.add(fields[1])
    return frozenset(names)


class FfmpegCodec(CommandCodec, ABC):
    """An encoder and a decoder of one ffmpeg executable (``encode.ffmpeg``, null = bundled),
    with one speed setting from the codec's block (``speed_key``: preset, cpu_used, effort)."""

    encoder: str  # ffmpeg's encoder name, libx265 say
    decoder: str  # ffmpeg's decoder name for the bitstream
    muxer: str  # ffmpeg's output format of the bare bitstream
    speed_key: str  # the key of the codec's block that sets its speed
    library: str  # the encoder library's name in the recorded version
    version_pattern: str | None  # its version (group 1) in the log; None: it prints none
    shared_keys = ("ffmpeg",)

    def __init__(self, ffmpeg: str | None, speed: str | int, extra_args: list[str]):
        self.ffmpeg = ffmpeg or bundled_ffmpeg()
        self.speed = speed
        self.extra_args = list(extra_args)

    @classmethod
    def from_config(cls, encode: dict, block: dict) -> FfmpegCodec:
        return cls(encode["ffmpeg"], block[cls.speed_key], block["extra_args"])

    @property
    def setting(self) -> str:
        return f"{self.speed_key}={self.speed}"

    @abstractmethod
    def level_args(self, frame: Frame) -> list[str]:
        """The encoder's arguments for one constant-level intra frame (after ``-c:v``)."""

    def input_args(self, frame: Frame) -> list[str]:
        """The raw source file as ffmpeg's input."""
        if self.takes == "rgb":
            pix_fmt = "rgb24"
        else:
            pix_fmt = "yuv420p" if frame.bit_depth == 8 else "yuv420p10le"
        return [
            "-f", "rawvideo", "-pix_fmt", pix_fmt, "-s:v", f"{frame.width}x{frame.height}",
            "-r", "1", "-i", str(frame.source),
        ]  # fmt: skip

    def output_pix_fmt(self, frame: Frame) -> str:
        """The pixel format of the decoded raw file (and of the encoder's input)."""
        if self.takes == "rgb":
            return "rgb24"
        return "yuv420p" if self.decoded_bit_depth(frame.bit_depth) == 8 else "yuv420p10le"

    def encode_args(self, frame: Frame) -> list[str]:
        return [
            self.ffmpeg, "-hide_banner", "-nostdin", "-y", *self.input_args(frame),
            "-frames:v", "1", "-pix_fmt", self.output_pix_fmt(frame), "-threads", "1",
            "-c:v", self.encoder, *self.level_args(frame), *self.extra_args,
            "-f", self.muxer, str(frame.bitstream),
        ]  # fmt: skip

    def decode_args(self, frame: Frame) -> list[str]:
        return [
            self.ffmpeg, "-hide_banner", "-nostdin", "-y", "-threads", "1",
            "-c:v", self.decoder, "-i", str(frame.bitstream),
            "-f", "rawvideo", "-pix_fmt", self.output_pix_fmt(frame), str(frame.decoded),
        ]  # fmt: skip

    def executables(self) -> dict[str, str]:
        return {FFMPEG_KEY: self.ffmpeg}

    def version_args(self) -> list[str]:
        return [self.ffmpeg, "-hide_banner", "-version"]

    def check(self) -> None:
        super().check()
        for kind, name in (("encoders", self.encoder), ("decoders", self.decoder)):
            if name not in ffmpeg_components(self.ffmpeg, kind):
                raise VvcjndError(
                    f"config key '{FFMPEG_KEY}': {self.ffmpeg!r} has no {name} "
                    f"({kind[:-1]} of codec {self.name}); see `python -m vvcjnd codecs`"
                )

    @classmethod
    def parse_version(cls, text: str) -> str:
        library = cls.library_version(text)
        ffmpeg = re.search(r"ffmpeg version (\S+)", text)
        return f"{library} (ffmpeg {ffmpeg.group(1) if ffmpeg else 'unknown'})"

    @classmethod
    def library_version(cls, text: str) -> str:
        """The encoder library's version as its encode log (or version text) prints it."""
        match = re.search(cls.version_pattern, text) if cls.version_pattern else None
        return f"{cls.library} {match.group(1) if match else 'unknown'}"


class X265(FfmpegCodec):
    """HEVC by libx265: every frame intra (keyint 1), constant QP 0..51, no AQ, no threads
    (``-x265-params qp=N:keyint=1:aq-mode=0:pools=none:frame-threads=1:no-wpp=1``)."""

    name = "x265"
    encoder, decoder, muxer = "libx265", "hevc", "hevc"
    bitstream_suffix = ".hevc"
    scale = SCALES["x265"]
    speed_key = "preset"
    library, version_pattern = "x265", r"HEVC encoder version (\S+)"

    def level_args(self, frame: Frame) -> list[str]:
        params = f"qp={int(frame.level)}:keyint=1:aq-mode=0:pools=none:frame-threads=1:no-wpp=1"
        return ["-preset", self.speed, "-x265-params", params]


class X264(FfmpegCodec):
    """H.264 by libx264, raw Annex B stream (``.h264``) decoded by ffmpeg's h264 decoder:
    every frame intra (``-g 1``), constant QP 0..51 (``-qp N``, and ``ipratio=1`` so that the
    intra frame is coded at N itself), no AQ (``-aq-mode 0``), no psychovisual optimisation
    (``psy=0``), one thread."""

    name = "x264"
    encoder, decoder, muxer = "libx264", "h264", "h264"
    bitstream_suffix = ".h264"
    scale = SCALES["x264"]
    speed_key = "preset"
    library, version_pattern = "x264 core", r"x264 - core (\d+(?: r\d+ \w+)?)"

    def level_args(self, frame: Frame) -> list[str]:
        return [
            "-preset", self.speed, "-qp", str(int(frame.level)), "-g", "1", "-aq-mode", "0",
            "-x264-params", "ipratio=1:psy=0",
        ]  # fmt: skip

    def version_text(self, log: Path | None, timeout_s: float | None) -> str:
        """ffmpeg's version plus x264's, which x264 writes only into its bitstream (the SEI
        text ``x264 - core 165 ...``): the stream of a 16x16 probe encode, read for it."""
        probe = [
            self.ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error",
            "-f", "lavfi", "-i", "color=s=16x16:r=1", "-frames:v", "1",
            "-c:v", self.encoder, "-f", self.muxer, "-",
        ]  # fmt: skip
        stream = run_tool(probe, None, timeout_s, check=False).output
        sei = re.search(r"x264 - core \d+( r\d+ \w+)?", stream)
        return f"{super().version_text(log, timeout_s)}\n{sei.group(0) if sei else ''}"


class Aom(FfmpegCodec):
    """AV1 by libaom in IVF (``.ivf``), decoded by libdav1d: the all-intra still-picture mode
    (``-usage allintra -still-picture 1``) at a constant quality level cq 0..63 (end-usage q:
    ``-crf N -b:v 0``, libaom's cq-level; it maps to AV1's quantiser index 0..255), no AQ
    (``-aq-mode 0``) and no delta-q (``-aom-params deltaq-mode=0``), one tile, no row threads
    (``-row-mt 0 -tiles 1x1``), speed ``-cpu-used`` 0..8 from config. The log is verbose:
    only there does libaom print its version."""

    name = "aom"
    encoder, decoder, muxer = "libaom-av1", "libdav1d", "ivf"
    bitstream_suffix = ".ivf"
    scale = SCALES["aom"]
    speed_key = "cpu_used"
    library, version_pattern = "libaom", r"\[libaom-av1 @ \w+\] (v\S+)"

    def level_args(self, frame: Frame) -> list[str]:
        return [
            "-loglevel", "verbose", "-usage", "allintra", "-still-picture", "1",
            "-cpu-used", str(self.speed), "-crf", str(int(frame.level)), "-b:v", "0",
            "-aq-mode", "0", "-aom-params", "deltaq-mode=0", "-row-mt", "0", "-tiles", "1x1",
        ]  # fmt: skip


class SvtAv1(FfmpegCodec):
    """AV1 by SVT-AV1 in IVF (``.ivf``), decoded by libdav1d: constant QP on its 0..63 scale
    (``-svtav1-params rc=0:qp=N:aq-mode=0``: CQP, AQ off; mapped to AV1's quantiser index, so
    named cq), every frame a key frame in the still-picture mode (``keyint=1:avif=1``), one
    thread (``lp=1``), ``-preset`` 0..13 from config."""

    name = "svtav1"
    encoder, decoder, muxer = "libsvtav1", "libdav1d", "ivf"
    bitstream_suffix = ".ivf"
    scale = SCALES["svtav1"]
    speed_key = "preset"
    library, version_pattern = "SVT-AV1", r"SVT \[version\]:\s*SVT-AV1 Encoder Lib (\S+)"

    def level_args(self, frame: Frame) -> list[str]:
        params = f"rc=0:qp={int(frame.level)}:aq-mode=0:keyint=1:avif=1:lp=1"
        return ["-preset", str(self.speed), "-svtav1-params", params]


class Jxl(FfmpegCodec):
    """JPEG XL by libjxl (``.jxl``), decoded by ffmpeg's libjxl decoder: raw RGB in and out
    (libjxl does its own XYB conversion), Butteraugli distance 0..15 (``-distance D``, higher =
    more distortion; 0 is lossless; ffmpeg caps libjxl's 25 at 15), ``-effort`` 1..9 from
    config, libjxl's thread runner off (``-threads 1``). Neither libjxl nor ffmpeg prints
    libjxl's version, so it is recorded as unknown."""

    name = "jxl"
    takes = "rgb"
    encoder, decoder, muxer = "libjxl", "libjxl", "image2pipe"
    bitstream_suffix = ".jxl"
    scale = SCALES["jxl"]
    speed_key = "effort"
    library, version_pattern = "libjxl", None

    def level_args(self, frame: Frame) -> list[str]:
        return ["-distance", f"{frame.level:g}", "-effort", str(self.speed)]
