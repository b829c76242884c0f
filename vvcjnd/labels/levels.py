"""The label tables in the codec's own levels; the label arithmetic in distortion positions.

Every rule of the label stage (the first noticeable level, SUR <= p, means, normal fits,
bisection, the observer model) needs a number that grows with distortion. A QP is one. For a
scale that runs the other way (a JPEG or WebP quality: lower = more distortion) the
position is minus the level. The stage computes in positions and converts at its files:
:meth:`LevelAxis.write` turns the level columns of a table into codec levels (an interval's
ends swap, a spread keeps its sign) and names them ``level`` / ``*_level`` instead of ``qp`` /
``*_qp``; :meth:`LevelAxis.read` undoes it. For a QP codec both are the identity, so a VVC
run's tables and bytes are what they always were.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vvcjnd.distort.codecs.scales import QP_63, SCALES, LevelScale, codec_levels
from vvcjnd.io import read_table, write_table

if TYPE_CHECKING:  # pandas is not imported where the workflow plans its jobs
    import pandas as pd

# Level columns that measure a spread or an error in level units: renamed, never negated.
SPREAD_COLUMNS = {"std_qp", "inconsistency_qp", "ambiguity_qp", "bias_sd_qp", "spread_qp",
                  "mae_qp", "rmse_qp", "max_abs_error_qp"}  # fmt: skip
# Interval columns (low, high) of a level: negated, and their ends swapped.
INTERVALS = [("jnd_ci_low", "jnd_ci_high"), ("latent_ci_low", "latent_ci_high"),
             ("bias_ci_low", "bias_ci_high")]  # fmt: skip


def _is_level_column(column: str) -> bool:
    return column == "qp" or column.endswith("_qp")


def _negated(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` (QP-named columns) with every level negated and its intervals' ends swapped."""
    table = table.copy()
    for column in table.columns:
        if _is_level_column(column) and column not in SPREAD_COLUMNS:
            table[column] = -table[column]
    for low, high in INTERVALS:
        if low in table and high in table:
            table[[low, high]] = -table[[high, low]].to_numpy()
    return table


@dataclass(frozen=True)
class LevelAxis:
    """The encoder's level scale as the label stage sees it (QP 0..63 by default)."""

    scale: LevelScale = QP_63

    @classmethod
    def from_encode(cls, encode: dict) -> LevelAxis:
        """The axis of ``encode.encoder``'s scale (config section ``encode``)."""
        return cls(SCALES[encode["encoder"]])

    @classmethod
    def from_params(cls, scale: dict) -> LevelAxis:
        """The axis of a rule's ``axis`` param (the scale's fields)."""
        return cls(LevelScale(**scale))

    @property
    def sign(self) -> int:
        """+1 where a higher level is more distortion, -1 where it is less."""
        return 1 if self.scale.more_distortion == "higher" else -1

    @property
    def identity(self) -> bool:
        """Whether positions are the levels themselves and the columns keep their QP names."""
        return self.scale.name == "qp" and self.sign == 1

    def positions(self, levels) -> list:
        """Positions of ``levels``, ascending (least distortion first)."""
        return sorted(self.sign * level for level in levels)

    def level_of(self, position):
        """The codec level at ``position``."""
        return self.sign * position

    def stem(self, position) -> str:
        """File stem of the ladder point at ``position`` (qp28, q090, ...)."""
        return self.scale.stem(self.level_of(position))

    def column(self, column: str) -> str:
        """The name of a QP-named level column along this axis (jnd_qp -> jnd_level)."""
        if self.scale.name == "qp":
            return column
        return "level" if column == "qp" else column[: -len("_qp")] + "_level"

    def to_levels(self, table: pd.DataFrame, also: Sequence[str] = ()) -> pd.DataFrame:
        """``table`` (positions, QP-named columns) in codec levels with the axis' names;
        ``also``: further columns that hold positions (their names are kept)."""
        if self.identity:
            return table
        if self.sign < 0:
            table = _negated(table).assign(**{column: -table[column] for column in also})
        names = {c: self.column(c) for c in table.columns if _is_level_column(c)}
        return table.rename(columns=names)

    def to_positions(self, table: pd.DataFrame) -> pd.DataFrame:
        """The inverse of :meth:`to_levels`."""
        if self.identity:
            return table
        if self.scale.name != "qp":
            names = {c: "qp" if c == "level" else c[: -len("_level")] + "_qp"
                     for c in table.columns if c == "level" or c.endswith("_level")}  # fmt: skip
            table = table.rename(columns=names)
        return _negated(table) if self.sign < 0 else table

    def quality_positions(self, quality: pd.DataFrame) -> pd.DataFrame:
        """A quality table (vvcjnd.quality.table) whose ``qp`` column is each level's position
        (the table itself for a QP codec)."""
        if self.identity:
            return quality
        return quality.assign(qp=self.sign * quality["level"])

    def write(self, path: str | os.PathLike, table: pd.DataFrame, also: Sequence[str] = ()) -> None:
        """Write a table in positions as codec levels (``also``: see :meth:`to_levels`)."""
        write_table(path, self.to_levels(table, also))

    def read(self, path: str | os.PathLike) -> pd.DataFrame:
        """Read a label-stage table written by :meth:`write`, back in positions."""
        return self.to_positions(read_table(path))


def encoder_ladder(encode: dict) -> tuple[list, LevelAxis]:
    """(the encoder's ladder in positions, ascending; its axis) from the config section
    ``encode`` (``encoder``, ``qp`` and the encoder's own ``levels``)."""
    axis = LevelAxis.from_encode(encode)
    return axis.positions(codec_levels(encode)), axis


QP_AXIS = LevelAxis()  # a QP codec's: positions are the QPs, tables keep their QP names
