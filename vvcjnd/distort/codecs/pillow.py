"""Codecs that Pillow calls in this process: JPEG by libjpeg-turbo (and WebP, JPEG 2000).

Each takes the raw 8-bit RGB source (Pillow's own colour conversion to Y'CbCr is part of the
codec, as it is for every JPEG a lab would make) and decodes back to raw RGB.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from vvcjnd.distort.codecs.base import Frame, LevelScale, LibraryCodec
from vvcjnd.errors import VvcjndError
from vvcjnd.runner import LibraryCall

SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}


def _encode_raw(source: Path, width: int, height: int, bitstream: Path, options: dict) -> None:
    from PIL import Image

    image = Image.frombytes("RGB", (width, height), source.read_bytes())
    image.save(bitstream, **options)


def _decode_raw(bitstream: Path, decoded: Path) -> None:
    from PIL import Image

    with Image.open(bitstream) as image:
        decoded.write_bytes(image.convert("RGB").tobytes())


class PillowCodec(LibraryCodec, ABC):
    """A Pillow image format: ``Image.save`` with the options of one level, ``Image.open``."""

    takes = "rgb"
    feature: str  # PIL.features name of the library
    library: str  # its name in the recorded version

    @abstractmethod
    def options(self, frame: Frame) -> dict:
        """The keyword arguments of ``Image.save`` at ``frame.level``."""

    def encode_call(self, frame: Frame) -> LibraryCall:
        options = self.options(frame)
        recorded = [f"{key}={value}" for key, value in options.items()]
        return LibraryCall(
            (f"pillow.{self.name}.save", *recorded, str(frame.source), str(frame.bitstream)),
            lambda: _encode_raw(frame.source, frame.width, frame.height, frame.bitstream, options),
        )

    def decode_call(self, frame: Frame) -> LibraryCall:
        return LibraryCall(
            (f"pillow.{self.name}.open", str(frame.bitstream), str(frame.decoded)),
            lambda: _decode_raw(frame.bitstream, frame.decoded),
        )

    def version_text(self, log: Path | None, timeout_s: float | None) -> str:
        from PIL import __version__, features

        return f"{self.library} {features.version(self.feature)} (Pillow {__version__})"

    @staticmethod
    def parse_version(text: str) -> str:
        return text.splitlines()[0]

    def check(self) -> None:
        from PIL import features

        if not features.check(self.feature):
            raise VvcjndError(f"config key 'encode.codecs': Pillow here has no {self.library}")


class Jpeg(PillowCodec):
    """Baseline JPEG by libjpeg-turbo: quality 1..100 (lower = more distortion), chroma
    subsampling from config (4:2:0 by default), Huffman tables optimised or not."""

    name = "jpeg"
    feature, library = "libjpeg_turbo", "libjpeg-turbo"
    bitstream_suffix = ".jpg"
    scale = LevelScale("quality", 1, 100, "lower", prefix="q")

    def __init__(self, subsampling: str, optimize: bool):
        self.subsampling, self.optimize = subsampling, optimize

    @classmethod
    def from_config(cls, encode: dict, block: dict) -> Jpeg:
        return cls(block["subsampling"], block["optimize"])

    @property
    def setting(self) -> str:
        return f"subsampling={self.subsampling},optimize={int(self.optimize)}"

    def options(self, frame: Frame) -> dict:
        return {
            "format": "JPEG",
            "quality": int(frame.level),
            "subsampling": SUBSAMPLING[self.subsampling],
            "optimize": self.optimize,
            "progressive": False,
        }
