"""Procedures and the trial schedule of the subjective test: pure functions, no I/O."""

from __future__ import annotations

import math

import pytest

from vvcjnd.subjective.procedures import Answer, Bisection, Outcome, OutcomeKind, replay, start
from vvcjnd.subjective.schedule import (
    DATA,
    TRAINING,
    TRAP_MAX,
    TRAP_SAME,
    Past,
    TrialPlan,
    next_trial,
    subject_order,
)


def run(n_levels: int, threshold: int) -> tuple[Outcome, int]:
    """A deterministic observer noticing every level index >= threshold (n_levels = never)."""
    state, trials = start("bisection", n_levels), 0
    while (level := state.next_level()) is not None:
        state = state.record(level, Answer.DIFFERENT if level >= threshold else Answer.SAME)
        trials += 1
    return state.result(), trials


@pytest.mark.parametrize("n_levels", [1, 2, 3, 4, 5, 7, 8, 9, 16, 39, 40, 64])
def test_bisection_finds_every_threshold_within_the_bound(n_levels):
    bound = math.ceil(math.log2(n_levels)) + 1
    for threshold in range(n_levels + 1):
        outcome, trials = run(n_levels, threshold)
        assert trials <= bound, (n_levels, threshold, trials)
        if threshold == n_levels:  # never noticed: clipped to the last level
            assert outcome == Outcome(n_levels - 1, OutcomeKind.NEVER)
        elif threshold == 0:  # noticed already at the mildest level
            assert outcome == Outcome(0, OutcomeKind.MILDEST)
        else:
            assert outcome == Outcome(threshold, OutcomeKind.FOUND)


def test_bisection_of_the_paper_ladder_takes_at_most_six_trials():
    assert max(run(39, t)[1] for t in range(40)) == 6


def test_bisection_is_pure_and_checks_its_input():
    state = Bisection(5)
    after = state.record(2, Answer.SAME)
    assert (state.low, state.high, state.trials) == (0, 5, 0)
    assert (after.low, after.high, after.trials) == (3, 5, 1)
    with pytest.raises(ValueError, match="expected an answer at level 2"):
        state.record(1, Answer.SAME)
    with pytest.raises(ValueError, match="has not ended"):
        state.result()
    with pytest.raises(ValueError):
        state.record(2, "maybe")
    with pytest.raises(ValueError, match="unknown procedure"):
        start("staircase", 5)
    assert replay("bisection", 5, [(2, "same"), (4, "different"), (3, "same")]).result() == (
        Outcome(4, OutcomeKind.FOUND)
    )


PLAN = TrialPlan(
    seed=2021,
    procedure="bisection",
    level_name="qp",
    levels=tuple(range(13, 52)),
    sessions={1: ("a", "b", "c"), 2: ("d", "e")},
    sizes={image: (64, 64) for image in "abcde"},
    trap_rate=0.2,
    trap_fail_share=0.25,
    exclude_flagged=True,
    break_every=5,
    training_trials=2,
    display="auto",
    gap_px=24,
)


def play(plan: TrialPlan, subject: str, thresholds: dict[str, int]) -> list:
    """Every trial of a whole session with a deterministic observer."""
    history, specs = [], []
    while (spec := next_trial(plan, subject, history)) is not None:
        noticed = spec.level_index is not None and spec.level_index >= thresholds[spec.image_id]
        answer = "different" if noticed else "same"
        history.append(
            Past(
                spec.kind, spec.image_id, spec.session, spec.level_index, answer, spec.break_before
            )
        )
        specs.append(spec)
        assert len(specs) < 500
    return specs


def test_schedule_is_reproducible_per_subject_and_differs_between_subjects():
    thresholds = dict(zip("abcde", [0, 5, 20, 38, 39], strict=True))
    first = play(PLAN, "s01", thresholds)
    assert first == play(PLAN, "s01", thresholds)
    assert [(s.image_id, s.distorted_slot) for s in first] != [
        (s.image_id, s.distorted_slot) for s in play(PLAN, "s02", thresholds)
    ]
    assert [s.kind for s in first[:2]] == [TRAINING, TRAINING]
    assert first[0].level_index == 38 and first[1].level_index is None
    kinds = [s.kind for s in first[2:]]
    assert set(kinds) == {DATA, TRAP_SAME, TRAP_MAX}
    data = [s for s in first if s.kind == DATA]
    assert len(data) <= 5 * 6  # at most 6 trials per image on 39 levels
    assert {s.distorted_slot for s in first} == {"left", "right"}


def test_schedule_keeps_sessions_together_and_breaks_between_them():
    specs = play(PLAN, "s07", dict.fromkeys("abcde", 10))
    order = subject_order(PLAN, "s07")
    sessions = [s.session for s in specs[PLAN.training_trials :]]
    first = order[0][0]
    switch = sessions.index(order[1][0])
    assert set(sessions[:switch]) == {first} and set(sessions[switch:]) == {order[1][0]}
    switched = specs[PLAN.training_trials + switch]
    assert switched.break_before or specs[switched.seq - 1].break_before
    for before, spec in zip(specs, specs[1:], strict=False):
        tested = spec.seq - PLAN.training_trials
        if tested > 0 and tested % PLAN.break_every == 0:
            assert spec.break_before != before.break_before  # due, unless one came just before
        assert not (before.break_before and spec.break_before)
    data = [s for s in specs if s.kind == DATA]
    repeats = sum(a.image_id == b.image_id for a, b in zip(data, data[1:], strict=False))
    assert repeats < len(data) // 2  # searches of a session are interleaved


@pytest.mark.parametrize("n_levels", [1, 2, 5, 16, 39])
def test_not_sure_repeats_the_level_and_a_second_one_counts_as_same(n_levels):
    """An observer unsure the first time at and just below its threshold (then sure: noticed at
    the threshold, unsure again below it) is found exactly, within twice bisection's bound."""
    bound = 2 * (math.ceil(math.log2(n_levels)) + 1)
    for threshold in range(n_levels + 1):
        state, seen, last = start("bisection", n_levels), set(), None
        while (level := state.next_level()) is not None:
            near = level in (threshold - 1, threshold)
            if near and (level not in seen or level < threshold):
                answer = Answer.NOT_SURE
            else:
                answer = Answer.DIFFERENT if level >= threshold else Answer.SAME
            seen.add(level)
            state = state.record(level, answer)
            if answer is Answer.NOT_SURE and last != (level, Answer.NOT_SURE):
                assert state.next_level() == level  # a first "not sure": shown once more
            last = (level, answer)
        assert state.trials <= bound
        expected = min(threshold, n_levels - 1)
        assert state.result().level_index == expected, (n_levels, threshold)


def test_a_second_not_sure_is_same_and_a_sure_answer_after_one_is_taken_as_is():
    once = Bisection(5).record(2, Answer.NOT_SURE)
    assert once.next_level() == 2 and once.trials == 1
    twice = once.record(2, Answer.NOT_SURE)
    assert (twice.low, twice.high) == (Bisection(5).record(2, Answer.SAME).low, 5)
    sure = once.record(2, Answer.DIFFERENT)
    assert (sure.low, sure.high, sure.trials) == (0, 2, 2)
    assert replay("bisection", 5, [(2, "not_sure"), (2, "not_sure")]).low == 3
