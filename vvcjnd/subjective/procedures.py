"""Psychophysical procedures as pure state machines (no I/O, no clock, no randomness).

A procedure walks a ladder of ``n_levels`` levels indexed 0..n_levels-1 from the mildest
(index 0) to the most distorted one. It proposes the next level to show beside the pristine
image (:meth:`next_level`), takes the observer's answer (:meth:`record`, which returns a new
state and leaves the old one unchanged) and, when done, gives an :class:`Outcome`. The server
stores only the answers and replays them through the procedure, so a procedure must be a
deterministic function of its answers. New procedures (flicker, QUEST+) and new answers
("not sure") join :data:`PROCEDURES` and :class:`Answer` beside bisection.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from vvcjnd.subjective.relaxed import bisection_answer


class Answer(enum.StrEnum):
    """What an observer can answer about a pair (pristine, distorted)."""

    SAME = "same"
    DIFFERENT = "different"
    NOT_SURE = "not_sure"  # relaxed answers (subjective.not_sure); see vvcjnd.subjective.relaxed


class OutcomeKind(enum.StrEnum):
    """How a finished search ended."""

    FOUND = "found"  # noticed at some level, not at the one below it
    MILDEST = "mildest"  # noticed already at the mildest level (threshold at or below it)
    NEVER = "never"  # not noticed even at the most distorted level (threshold beyond it)


@dataclass(frozen=True)
class Outcome:
    """The first noticeable level index (0..n_levels-1) and how the search ended.

    For ``NEVER`` the index is n_levels - 1: the sample is clipped to the ladder's end
    (right-censored), the rule docs/subjective.md documents.
    """

    level_index: int
    kind: OutcomeKind


@dataclass(frozen=True)
class Bisection:
    """Binary search for the first noticeable level of a monotone observer.

    Invariant: the first noticeable index lies in [low, high], where high == n_levels
    stands for "never noticed". Each trial shows the middle of the interval; "different"
    moves ``high`` down to it, "same" moves ``low`` above it. The search ends when the
    interval is one value: ceil(log2(n_levels + 1)) trials at most, which is at most
    ceil(log2 n_levels) + 1 (6 for the 39 QPs 13..51). A first "not sure" at a level shows
    it once more (``unsure``), a second one counts as "same" (vvcjnd.subjective.relaxed).
    """

    n_levels: int
    low: int = 0
    high: int | None = None
    trials: int = 0
    unsure: bool = False  # the last answer, at next_level(), was a first "not sure"

    def __post_init__(self) -> None:
        if self.n_levels < 1:
            raise ValueError(f"a ladder needs at least one level, got {self.n_levels}")
        if self.high is None:
            object.__setattr__(self, "high", self.n_levels)

    @property
    def done(self) -> bool:
        return self.low >= self.high

    def next_level(self) -> int | None:
        """Level index to show next, or None when the search has ended."""
        if self.done:
            return None
        return (self.low + self.high) // 2

    def record(self, level: int, answer: Answer) -> Bisection:
        """The state after ``answer`` at ``level``; ``level`` must be :meth:`next_level`."""
        expected = self.next_level()
        if expected is None or level != expected:
            raise ValueError(f"bisection expected an answer at level {expected}, got {level}")
        answer = bisection_answer(Answer(answer), self.unsure)
        if answer is None:
            return replace(self, unsure=True, trials=self.trials + 1)
        if answer == Answer.DIFFERENT:
            return replace(self, high=level, trials=self.trials + 1, unsure=False)
        return replace(self, low=level + 1, trials=self.trials + 1, unsure=False)

    def result(self) -> Outcome:
        """The outcome of a finished search."""
        if not self.done:
            raise ValueError("the search has not ended")
        if self.low >= self.n_levels:
            return Outcome(self.n_levels - 1, OutcomeKind.NEVER)
        if self.low == 0:
            return Outcome(0, OutcomeKind.MILDEST)
        return Outcome(self.low, OutcomeKind.FOUND)


PROCEDURES = {"bisection": Bisection}


def start(name: str, n_levels: int) -> Bisection:
    """A fresh procedure of config name ``name`` on a ladder of ``n_levels`` levels."""
    try:
        return PROCEDURES[name](n_levels)
    except KeyError:
        raise ValueError(f"unknown procedure '{name}'; known: {sorted(PROCEDURES)}") from None


def replay(name: str, n_levels: int, answers: list[tuple[int, str]]) -> Bisection:
    """The state after the (level index, answer) pairs, in order."""
    state = start(name, n_levels)
    for level, answer in answers:
        state = state.record(level, Answer(answer))
    return state
