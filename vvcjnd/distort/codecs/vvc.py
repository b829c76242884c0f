"""The VVC adapters: libvvenc inside ffmpeg, the standalone vvencapp/vvdecapp, and VTM.

Each codes one all-intra frame of our planar Y'CbCr 4:2:0 file at a constant QP (0..63) with
perceptual QP adaptation off, single-threaded.
"""

from __future__ import annotations

import os
import re
from abc import ABC
from pathlib import Path

from vvcjnd.distort.codecs.base import CommandCodec, Frame
from vvcjnd.distort.codecs.ffmpeg import bundled_ffmpeg
from vvcjnd.distort.codecs.scales import SCALES
from vvcjnd.errors import VvcjndError


class _VvencCodec(CommandCodec, ABC):
    """Fraunhofer's VVenC, driven by a preset (faster .. slower) plus extra arguments."""

    bitstream_suffix = ".266"
    scale = SCALES["vvenc"]  # vvencapp's too

    def __init__(self, preset: str, extra_args: list[str]):
        self.preset = preset
        self.extra_args = list(extra_args)

    @property
    def setting(self) -> str:
        return f"preset={self.preset}"

    def decoded_bit_depth(self, bit_depth: int) -> int:
        return 10  # VVenC always codes at 10 bits inside


class FfmpegVvenc(_VvencCodec):
    """libvvenc inside ffmpeg (constant QP, perceptual QP adaptation off), ffmpeg's VVC decoder."""

    name = "vvenc"

    @classmethod
    def from_config(cls, encode: dict, block: dict) -> FfmpegVvenc:
        return cls(block["ffmpeg"], block["preset"], block["extra_args"])

    def __init__(self, ffmpeg: str | None, preset: str, extra_args: list[str]):
        super().__init__(preset, extra_args)
        self.ffmpeg = ffmpeg or bundled_ffmpeg()

    def encode_args(self, frame: Frame) -> list[str]:
        pix_fmt = "yuv420p" if frame.bit_depth == 8 else "yuv420p10le"
        return [
            self.ffmpeg, "-hide_banner", "-nostdin", "-y",
            "-f", "rawvideo", "-pix_fmt", pix_fmt, "-s:v", f"{frame.width}x{frame.height}",
            "-r", "1", "-i", str(frame.source),
            "-frames:v", "1", "-pix_fmt", "yuv420p10le",
            "-c:v", "libvvenc", "-preset", self.preset, "-qp", str(int(frame.level)), "-qpa", "0",
            "-threads", "1", *self.extra_args,
            "-f", "vvc", str(frame.bitstream),
        ]  # fmt: skip

    def decode_args(self, frame: Frame) -> list[str]:
        return [
            self.ffmpeg, "-hide_banner", "-nostdin", "-y", "-threads", "1",
            "-i", str(frame.bitstream),
            "-f", "rawvideo", "-pix_fmt", "yuv420p10le", str(frame.decoded),
        ]  # fmt: skip

    def executables(self) -> dict[str, str]:
        return {"encode.vvenc.ffmpeg": self.ffmpeg}

    def version_args(self) -> list[str]:
        return [self.ffmpeg, "-hide_banner", "-version"]

    @staticmethod
    def parse_version(text: str) -> str:
        vvenc = re.search(r"libvvenc version: (\S+)", text)
        ffmpeg = re.search(r"ffmpeg version (\S+)", text)
        return (
            f"libvvenc {vvenc.group(1) if vvenc else 'unknown'} "
            f"(ffmpeg {ffmpeg.group(1) if ffmpeg else 'unknown'})"
        )


class VvencApp(_VvencCodec):
    """The standalone vvencapp / vvdecapp of Fraunhofer's VVenC and VVdeC."""

    name = "vvencapp"

    @classmethod
    def from_config(cls, encode: dict, block: dict) -> VvencApp:
        return cls(block["encoder"], block["decoder"], block["preset"], block["extra_args"])

    def __init__(self, encoder: str, decoder: str, preset: str, extra_args: list[str]):
        super().__init__(preset, extra_args)
        self.encoder, self.decoder = encoder, decoder

    def encode_args(self, frame: Frame) -> list[str]:
        chroma = "yuv420" if frame.bit_depth == 8 else "yuv420_10"
        return [
            self.encoder, "-i", str(frame.source), "-s", f"{frame.width}x{frame.height}",
            "-c", chroma, "-r", "1", "-f", "1", "--preset", self.preset,
            "-q", str(int(frame.level)), "--qpa", "0", "-t", "1", "--internal-bitdepth", "10",
            *self.extra_args, "-o", str(frame.bitstream),
        ]  # fmt: skip

    def decode_args(self, frame: Frame) -> list[str]:
        return [self.decoder, "-b", str(frame.bitstream), "-o", str(frame.decoded), "-t", "1"]

    def executables(self) -> dict[str, str]:
        return {"encode.vvencapp.encoder": self.encoder, "encode.vvencapp.decoder": self.decoder}

    def version_args(self) -> list[str]:
        return [self.encoder, "--version"]

    @staticmethod
    def parse_version(text: str) -> str:
        match = re.search(r"(\d+\.\d+\.\d+\S*)", text)
        return f"vvencapp {match.group(1)}" if match else "vvencapp unknown"


class Vtm(CommandCodec):
    """The VVC reference software: EncoderApp with the user's all-intra cfg, DecoderApp."""

    name = "vtm"
    bitstream_suffix = ".bin"
    scale = SCALES["vtm"]

    @classmethod
    def from_config(cls, encode: dict, block: dict) -> Vtm:
        return cls(block["encoder"], block["decoder"], block["cfg"], block["extra_args"])

    def __init__(self, encoder: str | None, decoder: str | None, cfg: str | None, extra_args):
        for key, value in (("encoder", encoder), ("decoder", decoder), ("cfg", cfg)):
            if not value:
                raise VvcjndError(f"config key 'encode.vtm.{key}' is required when encoder is vtm")
        self.encoder, self.decoder, self.cfg = encoder, decoder, cfg
        self.extra_args = list(extra_args)

    @property
    def setting(self) -> str:
        return f"cfg={Path(self.cfg).name}"

    def encode_args(self, frame: Frame) -> list[str]:
        depth = str(frame.bit_depth)
        return [
            self.encoder, "-c", self.cfg, "-i", str(frame.source),
            "-wdt", str(frame.width), "-hgt", str(frame.height), "-fr", "1", "-f", "1", "-ts", "1",
            "-q", str(int(frame.level)), f"--InputBitDepth={depth}", f"--OutputBitDepth={depth}",
            "--InputChromaFormat=420", *self.extra_args, "-b", str(frame.bitstream),
        ]  # fmt: skip

    def decode_args(self, frame: Frame) -> list[str]:
        return [
            self.decoder, "-b", str(frame.bitstream), "-o", str(frame.decoded),
            "-d", str(frame.bit_depth),
        ]  # fmt: skip

    def executables(self) -> dict[str, str]:
        return {"encode.vtm.encoder": self.encoder, "encode.vtm.decoder": self.decoder}

    def check(self) -> None:
        super().check()
        if not os.path.isfile(self.cfg):
            raise VvcjndError(f"config key 'encode.vtm.cfg': {self.cfg!r} is not a file")

    def version_args(self) -> list[str]:
        return [self.encoder, "--help"]

    @staticmethod
    def parse_version(text: str) -> str:
        match = re.search(r"VTM Encoder Version (\S+)", text)
        return f"VTM {match.group(1)}" if match else "VTM unknown"
