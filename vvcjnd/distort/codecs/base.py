"""What every codec adapter is: its level scale, the frame it codes, how it is run.

An adapter only builds argument lists (a command-line tool) or one library call (Pillow);
`vvcjnd.runner` performs them. A codec takes either our planar Y'CbCr 4:2:0 file (``yuv420``:
the VVC, HEVC, AVC and AV1 encoders) or raw interleaved 8-bit RGB (``rgb``: JPEG, WebP,
JPEG 2000, JPEG XL) and decodes to the same kind. Colour conversion happens outside, once,
for every codec (`vvcjnd.colour`).
"""

from __future__ import annotations

import functools
import math
import os
import shutil
import subprocess
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from vvcjnd.errors import VvcjndError
from vvcjnd.runner import LibraryCall, ToolRun, run_call, run_tool


@dataclass(frozen=True)
class LevelScale:
    """A codec's level: its name, its range ``low..high`` and which way distortion grows.

    ``more_distortion`` is ``"higher"`` for a quantiser (QP, JPEG XL distance, compression
    ratio) and ``"lower"`` for a quality (JPEG, WebP). ``prefix`` names the ladder's files
    (``qp28``, ``q090``, ``d1.5``).
    """

    name: str
    low: float
    high: float
    more_distortion: str
    integer: bool = True
    prefix: str = "qp"

    def describe(self) -> str:
        """``qp 0..63, higher = more distortion``."""
        low, high = (f"{v:g}" for v in (self.low, self.high))
        return f"{self.name} {low}..{high}, {self.more_distortion} = more distortion"

    def parse(self, levels, key: str, codec: str) -> list:
        """``levels`` as the scale's numbers (integers where it has only integers); raise,
        naming ``key``, if a level is off the scale or not an integer where it must be."""
        for level in levels:
            whole = float(level).is_integer()
            if not self.low <= level <= self.high or (self.integer and not whole):
                raise VvcjndError(
                    f"config key '{key}': level {level:g} is outside {codec}'s scale "
                    f"({self.describe()}{', integers' if self.integer else ''})"
                )
        return [int(level) if self.integer else float(level) for level in levels]

    def in_distortion_order(self, levels) -> list:
        """``levels`` from the least distortion to the most."""
        return sorted(levels, reverse=self.more_distortion == "lower")

    def stem(self, level) -> str:
        """File stem of one ladder point: qp07, qp37 (two digits), q005, q090, d1.5, r20."""
        if self.prefix == "qp":
            return f"qp{int(level):02d}"
        if self.integer:
            return f"{self.prefix}{int(level):03d}"
        return f"{self.prefix}{level:g}"


QP_63 = LevelScale("qp", 0, 63, "higher")
QP_51 = LevelScale("qp", 0, 51, "higher")


def ladder_levels(ladder: dict) -> list:
    """The levels ``min, min+step, ..., max`` of a ladder block (integers stay integers)."""
    low, high, step = ladder["min"], ladder["max"], ladder["step"]
    count = math.floor((high - low) / step + 1e-9) + 1
    levels = [round(low + index * step, 6) for index in range(count)]
    if all(isinstance(v, int) for v in (low, high, step)):
        return [int(level) for level in levels]
    return levels


@dataclass(frozen=True)
class Frame:
    """One encode/decode: the source file (``yuv420`` at ``bit_depth`` bits, or 8-bit
    ``rgb``), its size in pixels, the level on the codec's scale, the output files."""

    source: Path
    width: int
    height: int
    bit_depth: int
    level: float
    bitstream: Path
    decoded: Path


class Codec(ABC):
    """An encoder/decoder pair at one constant level, intra, one frame, deterministic."""

    name: str
    bitstream_suffix: str
    scale: LevelScale
    takes: str = "yuv420"  # the source and decoded file's kind: yuv420 or rgb
    shared_keys: tuple[str, ...] = ()  # keys of the encode section that from_config reads

    @classmethod
    @abstractmethod
    def from_config(cls, encode: dict, block: dict) -> Codec:
        """The adapter from the ``encode`` section and its own block ``encode.<name>``."""

    @property
    @abstractmethod
    def setting(self) -> str:
        """The encoder setting recorded in the quality table (preset, effort or cfg file)."""

    @abstractmethod
    def encode(self, frame: Frame, log: Path | None, timeout_s: float | None) -> ToolRun:
        """Encode ``frame.source`` into ``frame.bitstream``."""

    @abstractmethod
    def decode(self, frame: Frame, log: Path | None, timeout_s: float | None) -> ToolRun:
        """Decode ``frame.bitstream`` into ``frame.decoded``."""

    @abstractmethod
    def recipe(self, frame: Frame) -> list[list[str]]:
        """The encode and decode as recorded (tools by file name): a finished point's key."""

    @abstractmethod
    def version_text(self, log: Path | None, timeout_s: float | None) -> str:
        """What the codec says of its version, free of install paths."""

    @staticmethod
    @abstractmethod
    def parse_version(text: str) -> str:
        """The version string found in the version text plus an encode log."""

    def decoded_bit_depth(self, bit_depth: int) -> int:
        """Bit depth of the decoded ``yuv420`` file for a source of ``bit_depth`` bits."""
        return bit_depth

    @abstractmethod
    def check(self) -> None:
        """Raise, naming the config key, if the codec cannot run here."""


class CommandCodec(Codec, ABC):
    """A codec driven through command-line tools."""

    @abstractmethod
    def encode_args(self, frame: Frame) -> list[str]:
        """Argument list that encodes ``frame.source`` into ``frame.bitstream``."""

    @abstractmethod
    def decode_args(self, frame: Frame) -> list[str]:
        """Argument list that decodes ``frame.bitstream`` into ``frame.decoded``."""

    @abstractmethod
    def executables(self) -> dict[str, str]:
        """Config key -> executable path or name, checked when the workflow starts."""

    @abstractmethod
    def version_args(self) -> list[str]:
        """Argument list that prints the tool's version (its exit status is not checked)."""

    def encode(self, frame: Frame, log: Path | None, timeout_s: float | None) -> ToolRun:
        return run_tool(self.encode_args(frame), log, timeout_s)

    def decode(self, frame: Frame, log: Path | None, timeout_s: float | None) -> ToolRun:
        return run_tool(self.decode_args(frame), log, timeout_s)

    def recipe(self, frame: Frame) -> list[list[str]]:
        from vvcjnd.runner import portable_args

        return [portable_args(self.encode_args(frame)), portable_args(self.decode_args(frame))]

    def version_text(self, log: Path | None, timeout_s: float | None) -> str:
        output = run_tool(self.version_args(), log, timeout_s, check=False).output
        folder = str(Path(self.version_args()[0]).parent)
        return output if folder == "." else output.replace(folder + "/", "")

    def check(self) -> None:
        for key, tool in self.executables().items():
            found = shutil.which(tool) if os.sep not in tool else tool
            if not found or not os.path.isfile(found) or not os.access(found, os.X_OK):
                raise VvcjndError(f"config key '{key}': {tool!r} is not an executable file")


class LibraryCodec(Codec, ABC):
    """A codec called in this process through one library function (Pillow)."""

    @abstractmethod
    def encode_call(self, frame: Frame) -> LibraryCall:
        """The one call that encodes ``frame.source`` into ``frame.bitstream``."""

    @abstractmethod
    def decode_call(self, frame: Frame) -> LibraryCall:
        """The one call that decodes ``frame.bitstream`` into ``frame.decoded``."""

    def encode(self, frame: Frame, log: Path | None, timeout_s: float | None) -> ToolRun:
        return run_call(self.encode_call(frame), log)

    def decode(self, frame: Frame, log: Path | None, timeout_s: float | None) -> ToolRun:
        return run_call(self.decode_call(frame), log)

    def recipe(self, frame: Frame) -> list[list[str]]:
        return [list(self.encode_call(frame).args), list(self.decode_call(frame).args)]


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
