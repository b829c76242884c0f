"""Runtime and memory estimates of one ladder job, for schedulers (no encoder is run).

Kept free of heavy imports so that the workflow sizes its jobs at planning time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

# VVenC (preset faster/fast) and vvencapp encode about this many times faster than VTM.
VVENC_SPEEDUP_OVER_VTM = 40


def ladder_runtime_minutes(
    encoder: str, vtm_seconds_per_megapixel: float, qps: Sequence[int], megapixels: float,
    threads: int,
) -> int:  # fmt: skip
    """Generous minutes for one image's whole ladder: encode time per megapixel, scaled by QP.

    Encode time roughly halves every 6 QP above the lowest; VTM's rate is the config's
    ``encode.vtm.seconds_per_megapixel``, VVenC and vvencapp are taken as
    :data:`VVENC_SPEEDUP_OVER_VTM` times faster. ``threads`` encoders run side by side.
    """
    per_mp = vtm_seconds_per_megapixel
    if encoder != "vtm":
        per_mp /= VVENC_SPEEDUP_OVER_VTM
    qp_factor = sum(2 ** (-(qp - qps[0]) / 6) for qp in qps)
    seconds = per_mp * megapixels * qp_factor / max(1, threads)
    return 10 + math.ceil(2 * seconds / 60)


def ladder_memory_mb(megapixels: float, threads: int) -> int:
    """Memory (MB) of one ladder job: about 300 MB plus 150 MB per megapixel per encoder."""
    return 500 + threads * math.ceil(300 + 150 * megapixels)
