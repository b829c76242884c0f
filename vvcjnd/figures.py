"""Writing report figures: matplotlib `Figure` objects (no pyplot, no global backend) saved as
byte-stable PNGs (no time or version metadata), atomically."""

from __future__ import annotations

import io
import os

from matplotlib.figure import Figure

from vvcjnd.io import write_bytes

__all__ = ["Figure", "save_figure"]


def save_figure(figure: Figure, path: str | os.PathLike, dpi: int = 100) -> None:
    """Write ``figure`` to ``path`` as a PNG at ``dpi``, atomically and byte-stable."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    write_bytes(path, buffer.getvalue())
