"""Codec adapters: each builds argument lists (or one library call); `vvcjnd.runner` runs them.

`scales`: every codec's level scale and a config's ladder of it (all the later stages need);
`base`: the frame and the adapter kinds; `vvc`: libvvenc in ffmpeg, vvencapp,
VTM; `ffmpeg`: the other encoders of the bundled ffmpeg (x265, x264, libaom, SVT-AV1,
libjxl); `pillow`: JPEG, WebP and JPEG 2000 through Pillow. :data:`CODECS` names every
adapter by its config name.
"""

from __future__ import annotations

from vvcjnd.distort.codecs.base import Codec, CommandCodec, Frame, LibraryCodec
from vvcjnd.distort.codecs.ffmpeg import (
    X264,
    X265,
    Aom,
    FfmpegCodec,
    Jxl,
    SvtAv1,
    bundled_ffmpeg,
)
from vvcjnd.distort.codecs.pillow import J2k, Jpeg, PillowCodec, Webp
from vvcjnd.distort.codecs.scales import SCALES, LevelScale, codec_levels, codec_names
from vvcjnd.distort.codecs.vvc import FfmpegVvenc, Vtm, VvencApp

# config name (``encode.encoder``, ``encode.codecs``) -> adapter class
CODECS: dict[str, type[Codec]] = {
    cls.name: cls
    for cls in (FfmpegVvenc, VvencApp, Vtm, X265, X264, Aom, SvtAv1, Jxl, Jpeg, Webp, J2k)
}


def codec_from_config(encode: dict, name: str | None = None) -> Codec:
    """Build the adapter ``name`` (default: ``encode.encoder``) from the config section."""
    name = name or encode["encoder"]
    return CODECS[name].from_config(encode, encode[name])


__all__ = [
    "CODECS",
    "Aom",
    "Codec",
    "CommandCodec",
    "FfmpegCodec",
    "FfmpegVvenc",
    "Frame",
    "J2k",
    "Jpeg",
    "Jxl",
    "LevelScale",
    "LibraryCodec",
    "SCALES",
    "PillowCodec",
    "SvtAv1",
    "Vtm",
    "VvencApp",
    "Webp",
    "X264",
    "X265",
    "bundled_ffmpeg",
    "codec_from_config",
    "codec_levels",
    "codec_names",
]
