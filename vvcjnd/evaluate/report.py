"""Self-contained HTML tables of the evaluation stage, for the Snakemake report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from vvcjnd.io import write_text


def write_html_table(path: Path, frame: pd.DataFrame, title: str, note: str) -> None:
    """A small self-contained HTML page with one table (for the Snakemake report)."""
    body = frame.to_html(index=False, float_format=lambda v: f"{v:.3f}", na_rep="—", border=0)
    page = (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>"
        f"{title}</title><style>body{{font-family:sans-serif}} td,th{{padding:2px 8px;"
        f"text-align:right}}</style></head><body><h3>{title}</h3>\n{body}\n<p>{note}</p>"
        "</body></html>\n"
    )
    write_text(path, page)
