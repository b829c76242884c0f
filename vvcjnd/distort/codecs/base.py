"""What every codec adapter is: its level scale, the frame it codes, how it is run.

An adapter only builds argument lists (a command-line tool) or one library call (Pillow);
`vvcjnd.runner` performs them. A codec takes either our planar Y'CbCr 4:2:0 file (``yuv420``:
the VVC, HEVC, AVC and AV1 encoders) or raw interleaved 8-bit RGB (``rgb``: JPEG, WebP,
JPEG 2000, JPEG XL) and decodes to the same kind. Colour conversion happens outside, once,
for every codec (`vvcjnd.colour`).
"""

from __future__ import annotations

import os
import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from vvcjnd.distort.codecs.scales import LevelScale
from vvcjnd.errors import VvcjndError
from vvcjnd.runner import LibraryCall, ToolRun, run_call, run_tool


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
