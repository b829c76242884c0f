"""Every codec's level scale, and the ladder a config asks of it: what the stages after the
ladder need of a codec, importable without the adapters and their tools.

:data:`SCALES` names the scale of every codec of `vvcjnd.distort.codecs.CODECS` (each adapter's
``scale`` is its entry here).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vvcjnd.errors import VvcjndError


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


QP_63 = LevelScale("qp", 0, 63, "higher")  # VVC
QP_51 = LevelScale("qp", 0, 51, "higher")  # HEVC, AVC
# The AV1 encoders' constant-quality level 0..63, which each maps to AV1's quantiser index
# 0..255 (so it is not named qp).
AV1_CQ = LevelScale("cq", 0, 63, "higher", prefix="cq")
QUALITY_100 = LevelScale("quality", 1, 100, "lower", prefix="q")  # JPEG
SCALES = {
    "vvenc": QP_63,
    "vvencapp": QP_63,
    "vtm": QP_63,
    "x265": QP_51,
    "x264": QP_51,
    "aom": AV1_CQ,
    "svtav1": AV1_CQ,
    "jxl": LevelScale("distance", 0, 15, "higher", integer=False, prefix="d"),
    "jpeg": QUALITY_100,
    "webp": LevelScale("quality", 0, 100, "lower", prefix="q"),
    "j2k": LevelScale("ratio", 1, 1000, "higher", prefix="r"),
}


def ladder_levels(ladder: dict) -> list:
    """The levels ``min, min+step, ..., max`` of a ladder block (integers stay integers)."""
    low, high, step = ladder["min"], ladder["max"], ladder["step"]
    count = math.floor((high - low) / step + 1e-9) + 1
    levels = [round(low + index * step, 6) for index in range(count)]
    if all(isinstance(v, int) for v in (low, high, step)):
        return [int(level) for level in levels]
    return levels


def codec_names(encode: dict) -> list[str]:
    """The codecs of a run (config section ``encode``): the encoder first, then each further
    one of ``encode.codecs`` once."""
    return list(dict.fromkeys([encode["encoder"], *encode["codecs"]]))


def codec_levels(encode: dict, name: str | None = None) -> list:
    """The ladder of codec ``name`` (default ``encode.encoder``) in the order it is encoded:
    its own ``levels`` block, or ``encode.qp`` for a QP codec whose block has none. Raises,
    naming the key, when a level is off the codec's scale."""
    name = name or encode["encoder"]
    scale = SCALES[name]
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
