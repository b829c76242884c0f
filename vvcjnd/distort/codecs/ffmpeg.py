"""Codecs inside the ffmpeg that the imageio-ffmpeg wheel ships (or the user's own ffmpeg).

Each adapter codes one intra frame at a constant level with adaptive quantisation off and one
thread, and decodes with ffmpeg to the same kind of raw file it was given.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod

from vvcjnd.distort.codecs.base import (
    QP_51,
    CommandCodec,
    Frame,
    bundled_ffmpeg,
    ffmpeg_components,
)
from vvcjnd.errors import VvcjndError

FFMPEG_KEY = "encode.ffmpeg"


class FfmpegCodec(CommandCodec, ABC):
    """An encoder and a decoder of one ffmpeg executable (``encode.ffmpeg``, null = bundled)."""

    encoder: str  # ffmpeg's encoder name, libx265 say
    decoder: str  # ffmpeg's decoder name for the bitstream
    muxer: str  # ffmpeg's output format of the bare bitstream
    shared_keys = ("ffmpeg",)

    def __init__(self, ffmpeg: str | None, extra_args: list[str]):
        self.ffmpeg = ffmpeg or bundled_ffmpeg()
        self.extra_args = list(extra_args)

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

    @staticmethod
    @abstractmethod
    def library_version(text: str) -> str:
        """The encoder library's version as its encode log prints it."""


class X265(FfmpegCodec):
    """HEVC by libx265: every frame intra (keyint 1), constant QP 0..51, no AQ, no threads."""

    name = "x265"
    encoder, decoder, muxer = "libx265", "hevc", "hevc"
    bitstream_suffix = ".hevc"
    scale = QP_51

    def __init__(self, ffmpeg: str | None, preset: str, extra_args: list[str]):
        super().__init__(ffmpeg, extra_args)
        self.preset = preset

    @classmethod
    def from_config(cls, encode: dict, block: dict) -> X265:
        return cls(encode["ffmpeg"], block["preset"], block["extra_args"])

    @property
    def setting(self) -> str:
        return f"preset={self.preset}"

    def level_args(self, frame: Frame) -> list[str]:
        params = f"qp={int(frame.level)}:keyint=1:aq-mode=0:pools=none:frame-threads=1:no-wpp=1"
        return ["-preset", self.preset, "-x265-params", params]

    @staticmethod
    def library_version(text: str) -> str:
        match = re.search(r"HEVC encoder version (\S+)", text)
        return f"x265 {match.group(1) if match else 'unknown'}"
