"""Codecs that Pillow calls in this process: JPEG by libjpeg-turbo, WebP by libwebp, JPEG 2000
by OpenJPEG.

Each takes the raw 8-bit RGB source (Pillow's own colour conversion to Y'CbCr is part of the
codec, as it is for every JPEG a lab would make) and decodes back to raw RGB.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from vvcjnd.distort.codecs.base import Frame, LibraryCodec
from vvcjnd.distort.codecs.scales import SCALES
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
    scale = SCALES["jpeg"]

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


class Webp(PillowCodec):
    """Lossy WebP by libwebp through Pillow (chosen over ffmpeg's libwebp: the same library,
    RGB in without a pixel-format step): quality 0..100 (lower = more distortion), ``method``
    0..6 from config (speed/effort), exact colours off, one thread (libwebp's default);
    libwebp's own RGB to Y'CbCr 4:2:0 conversion. Two encodes give the same bytes."""

    name = "webp"
    feature, library = "webp", "libwebp"
    bitstream_suffix = ".webp"
    scale = SCALES["webp"]

    def __init__(self, method: int):
        self.method = method

    @classmethod
    def from_config(cls, encode: dict, block: dict) -> Webp:
        return cls(block["method"])

    @property
    def setting(self) -> str:
        return f"method={self.method}"

    def options(self, frame: Frame) -> dict:
        return {"format": "WEBP", "quality": int(frame.level), "method": self.method,
                "lossless": False}  # fmt: skip


class J2k(PillowCodec):
    """JPEG 2000 by OpenJPEG through Pillow (chosen over ffmpeg's libopenjpeg: the same
    library, RGB in): a bare codestream (``.j2k``) of one quality layer at a fixed compression
    ratio (``quality_mode="rates"``, ``quality_layers=[ratio]``; ratio 1..1000, higher = more
    distortion), the irreversible 9/7 wavelet and colour transform (``irreversible=True``,
    ``mct=1``). Two encodes give the same bytes."""

    name = "j2k"
    feature, library = "jpg_2000", "OpenJPEG"
    bitstream_suffix = ".j2k"
    scale = SCALES["j2k"]

    @classmethod
    def from_config(cls, encode: dict, block: dict) -> J2k:
        return cls()

    @property
    def setting(self) -> str:
        return "layers=1,irreversible=1"

    def options(self, frame: Frame) -> dict:
        return {
            "format": "JPEG2000",
            "no_jp2": True,
            "quality_mode": "rates",
            "quality_layers": [int(frame.level)],
            "irreversible": True,
            "mct": 1,
        }
