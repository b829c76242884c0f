"""PSNR, the one distortion measure every stage uses (the ladder, inference, evaluation)."""

from __future__ import annotations

import numpy as np

from vvcjnd.errors import VvcjndError


def psnr_from_mse(mse: float, peak: float = 255.0, min_mse: float = 0.0) -> float:
    """PSNR in dB of a mean squared error on a 0..peak scale.

    ``mse`` is first raised to ``min_mse``; an MSE of 0 (equal signals) gives inf.
    """
    mse = max(float(mse), min_mse)
    return float("inf") if mse == 0 else float(10.0 * np.log10(peak * peak / mse))


def psnr(reference: np.ndarray, distorted: np.ndarray, peak: float = 255.0) -> float:
    """PSNR in dB of two same-shape arrays on a 0..peak scale; inf when they are equal."""
    if reference.shape != distorted.shape:
        raise VvcjndError(f"images differ in shape: {reference.shape} vs {distorted.shape}")
    if np.issubdtype(reference.dtype, np.integer) and np.issubdtype(distorted.dtype, np.integer):
        # The sum of squares in int64: exact, as the float64 path is for integer samples (its
        # partial sums stay below 2**53), so the same dB to the last bit, about 5x faster.
        diff = np.subtract(reference, distorted, dtype=np.int64).ravel()
        return psnr_from_mse(float(np.dot(diff, diff)) / max(1, diff.size), peak)
    diff = np.subtract(reference, distorted, dtype=np.float64)
    return psnr_from_mse(np.mean(diff * diff), peak)
