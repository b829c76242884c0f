"""Codec adapters: each builds argument lists (or one library call); `vvcjnd.runner` runs them.

`base`: the level scale, the frame, the adapter kinds; `vvc`: libvvenc in ffmpeg, vvencapp,
VTM; `ffmpeg`: the other encoders of the bundled ffmpeg (x265, x264, libaom, SVT-AV1,
libjxl); `pillow`: JPEG, WebP and JPEG 2000 through Pillow. :data:`CODECS` names every
adapter by its config name.
"""

from __future__ import annotations

from vvcjnd.distort.codecs.base import (
    Codec,
    CommandCodec,
    Frame,
    LevelScale,
    LibraryCodec,
    bundled_ffmpeg,
    ladder_levels,
)
from vvcjnd.distort.codecs.ffmpeg import X264, X265, Aom, FfmpegCodec, Jxl, SvtAv1
from vvcjnd.distort.codecs.pillow import J2k, Jpeg, PillowCodec, Webp
from vvcjnd.distort.codecs.vvc import FfmpegVvenc, Vtm, VvencApp
from vvcjnd.errors import VvcjndError

# config name (``encode.encoder``, ``encode.codecs``) -> adapter class
CODECS: dict[str, type[Codec]] = {
    cls.name: cls
    for cls in (FfmpegVvenc, VvencApp, Vtm, X265, X264, Aom, SvtAv1, Jxl, Jpeg, Webp, J2k)
}


def codec_from_config(encode: dict, name: str | None = None) -> Codec:
    """Build the adapter ``name`` (default: ``encode.encoder``) from the config section."""
    name = name or encode["encoder"]
    return CODECS[name].from_config(encode, encode[name])


def codec_levels(encode: dict, name: str | None = None) -> list:
    """The ladder of codec ``name`` (default ``encode.encoder``) in the order it is encoded:
    its own ``levels`` block, or ``encode.qp`` for a QP codec whose block has none. Raises,
    naming the key, when a level is off the codec's scale."""
    name = name or encode["encoder"]
    scale = CODECS[name].scale
    own = encode[name].get("levels")
    key = f"encode.{name}.levels" if own else "encode.qp"
    ladder = own or encode["qp"]
    if ladder["min"] > ladder["max"]:
        raise VvcjndError(
            f"config key '{key}': min ({ladder['min']}) must not exceed max ({ladder['max']})"
        )
    levels = scale.parse(ladder_levels(ladder), key, name)
    if not own and scale.name != "qp":
        raise VvcjndError(
            f"config key 'encode.{name}.levels' is required: {name}'s scale is "
            f"{scale.describe()}, not a QP"
        )
    return levels


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
]
