"""Relaxed answers: "same" / "not sure" / "different", and how each procedure treats them.

Pure functions on answer strings (no import of a procedure, so that every procedure module can
use them). The treatment (docs/subjective.md, "QUEST+ and relaxed answers"):

- QUEST+ (:mod:`vvcjnd.subjective.quest`): an answer is a weight ``w`` of "different" in the
  likelihood, ``psi ** w * (1 - psi) ** (1 - w)``: "same" 0, "different" 1, "not sure" 1/2, half
  a response of each kind (a fractional-count binomial likelihood, which peaks where the
  psychometric function is one half: "not sure" says "near my threshold").
- Bisection: a first "not sure" at a level shows the same level once more; a second "not sure"
  there counts as "same" (the difference was not seen with confidence, so the first noticeable
  level lies above), which keeps bisection's bound plus one repeat per level.
"""

from __future__ import annotations

SAME = "same"
NOT_SURE = "not_sure"
DIFFERENT = "different"
ANSWERS = (SAME, NOT_SURE, DIFFERENT)
# weight of "different" in the QUEST+ likelihood
DIFFERENT_WEIGHT = {SAME: 0.0, NOT_SURE: 0.5, DIFFERENT: 1.0}


def answer_weight(answer: str) -> float:
    """The weight of "different" of ``answer`` (ValueError naming it if it is none of ANSWERS)."""
    try:
        return DIFFERENT_WEIGHT[str(answer)]
    except KeyError:
        raise ValueError(f"unknown answer '{answer}'; known: {list(ANSWERS)}") from None


def bisection_answer(answer: str, unsure_before: bool) -> str | None:
    """The answer bisection acts on: ``answer`` itself if it is "same" or "different"; for "not
    sure", None (show the same level once more) the first time at a level and "same" when the
    previous answer at that level was "not sure" too (``unsure_before``)."""
    answer_weight(answer)
    if str(answer) != NOT_SURE:
        return str(answer)
    return SAME if unsure_before else None
