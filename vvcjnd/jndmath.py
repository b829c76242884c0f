"""JND maths that the patch model's inference and the classic baselines share."""

from __future__ import annotations

import numpy as np


def luminance_adaptation(background: np.ndarray | float) -> np.ndarray:
    """Visibility threshold for a background luminance 0..255 (grey levels).

    17 (1 - sqrt(bg / 127)) + 3 for bg <= 127, else 3 (bg - 127) / 128 + 3: 20 at 0,
    3 at 127, 6 at 255. Shared by all three baselines and by the patch model's mu'.
    """
    bg = np.clip(np.asarray(background, dtype=np.float64), 0.0, 255.0)
    dark = 17.0 * (1.0 - np.sqrt(bg / 127.0)) + 3.0
    bright = 3.0 * (bg - 127.0) / 128.0 + 3.0
    return np.where(bg <= 127.0, dark, bright)
