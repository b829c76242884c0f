"""Runtime and memory estimates of one ladder job, for schedulers (no encoder is run).

Kept free of heavy imports so that the workflow sizes its jobs at planning time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

# VVenC (preset faster/fast) and vvencapp encode about this many times faster than VTM.
VVENC_SPEEDUP_OVER_VTM = 40
# A generous bound for one intra encode plus decode of the other codecs (x265 medium takes
# about 1 s per megapixel at a low QP here, JPEG a few milliseconds).
OTHER_SECONDS_PER_MEGAPIXEL = 5


def ladder_runtime_minutes(
    encoder: str, vtm_seconds_per_megapixel: float, levels: Sequence[float], megapixels: float,
    threads: int,
) -> int:  # fmt: skip
    """Generous minutes for one image's whole ladder: encode time per megapixel and level.

    For VVC, encode time roughly halves every 6 QP above the lowest; VTM's rate is the
    config's ``encode.vtm.seconds_per_megapixel``, VVenC and vvencapp are taken as
    :data:`VVENC_SPEEDUP_OVER_VTM` times faster. Any other codec is taken at
    :data:`OTHER_SECONDS_PER_MEGAPIXEL` per level. ``threads`` encoders run side by side.
    """
    if encoder in ("vtm", "vvenc", "vvencapp"):
        per_mp = vtm_seconds_per_megapixel
        if encoder != "vtm":
            per_mp /= VVENC_SPEEDUP_OVER_VTM
        factor = sum(2 ** (-(qp - levels[0]) / 6) for qp in levels)
    else:
        per_mp, factor = OTHER_SECONDS_PER_MEGAPIXEL, len(levels)
    seconds = per_mp * megapixels * factor / max(1, threads)
    return 10 + math.ceil(2 * seconds / 60)


def ladder_memory_mb(megapixels: float, threads: int) -> int:
    """Memory (MB) of one ladder job: about 300 MB plus 150 MB per megapixel per encoder."""
    return 500 + threads * math.ceil(300 + 150 * megapixels)
