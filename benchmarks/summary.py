"""Headline figures of the benchmarks: one row format, its JSON file and the ``--summary`` option.

Each ``bench_*.py`` script takes ``--summary PATH`` and writes its headline rows there;
``run_all.py`` reads them back and prints one table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from vvcjnd.io import write_text


@dataclass(frozen=True)
class Row:
    """One headline figure.

    ``value`` is in ``unit``; ``target`` is text such as ``"<= 50 ms"`` (empty if none);
    ``ratio`` compares this run with ``baseline`` (text naming what it compares to, e.g.
    ``"per-patch Python loop"``), measured in the same run; None if there is no baseline.
    """

    stage: str
    figure: str
    value: float
    unit: str
    target: str = ""
    baseline: str = ""
    ratio: float | None = None

    def __post_init__(self) -> None:
        # plain floats (not numpy scalars), so that every row is JSON-serialisable
        object.__setattr__(self, "value", float(self.value))
        if self.ratio is not None:
            object.__setattr__(self, "ratio", float(self.ratio))


def add_summary_argument(parser: argparse.ArgumentParser) -> None:
    """Add the optional ``--summary PATH`` argument (a Path, default None)."""
    parser.add_argument(
        "--summary", type=Path, metavar="PATH", help="also write the headline figures as JSON"
    )


def write_summary(path: Path | None, rows: Iterable[Row]) -> None:
    """Write ``rows`` as a JSON list to ``path`` atomically; nothing when ``path`` is None."""
    if path is not None:
        write_text(path, json.dumps([asdict(row) for row in rows], indent=2) + "\n")


def read_summary(path: Path) -> list[Row]:
    """The rows written by :func:`write_summary`."""
    return [Row(**fields) for fields in json.loads(Path(path).read_text())]


def median_seconds(function, repeats: int) -> tuple[float, float]:
    """Median (wall, CPU) seconds of ``function()``; CPU time is what other processes on a
    shared machine do not inflate (the work here is single-threaded)."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        function()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)
