"""QUEST+ (per subject and collective) and relaxed answers: pure state machines, no I/O."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.stats import norm

from vvcjnd.subjective.procedures import Outcome, OutcomeKind
from vvcjnd.subjective.quest import Collective, Quest, QuestSettings, threshold_level
from vvcjnd.subjective.relaxed import bisection_answer


def search(state: Quest, answer) -> Quest:
    """Run a search to its end; ``answer(level)`` gives each answer."""
    while (level := state.next_level()) is not None:
        state = state.record(level, answer(level))
    return state


@pytest.mark.parametrize("n_levels", [1, 2, 5, 12, 39])
def test_quest_finds_a_deterministic_observers_threshold_exactly(n_levels):
    for k in range(n_levels + 1):  # k == n_levels: never noticed
        state = search(Quest(n_levels), lambda level, k=k: "different" if level >= k else "same")
        outcome = state.result()
        assert state.trials <= QuestSettings().max_trials
        assert (outcome.level_index, outcome.kind) == (
            (n_levels - 1, OutcomeKind.NEVER)
            if k == n_levels
            else (k, OutcomeKind.MILDEST if k == 0 else OutcomeKind.FOUND)
        ), (n_levels, k, outcome)


def test_quest_recovers_a_noisy_observers_threshold_within_two_levels():
    """Spread 2 levels, 2 % lapses, 30 trials: every error under 2 levels, RMSE under 1."""
    rng = np.random.default_rng(5)
    settings = QuestSettings(max_trials=30, stop_sd=None)
    errors = []
    for _ in range(30):
        threshold = rng.uniform(3, 35)

        def answer(level, threshold=threshold):
            seen = 0.98 * norm.cdf((level - threshold) / 2.0)
            return "different" if rng.random() < seen else "same"

        state = search(Quest(39, settings), answer)
        assert state.trials == 30
        errors.append(state.threshold - threshold)
    errors = np.abs(errors)
    assert errors.max() < 2.0 and math.sqrt(np.mean(errors**2)) < 1.0, errors


def test_stop_rule_and_purity():
    fixed = search(Quest(39, QuestSettings(max_trials=7, stop_sd=None)), lambda _: "same")
    assert fixed.trials == 7 and fixed.next_level() is None
    with pytest.raises(ValueError, match="ended"):
        fixed.record(0, "same")
    fresh = Quest(39)
    after = fresh.record(fresh.next_level(), "different")
    assert fresh.trials == 0 and after.trials == 1
    assert not np.array_equal(fresh.log_post, after.log_post)
    assert not after.log_post.flags.writeable
    with pytest.raises(ValueError, match="not ended"):
        fresh.result()
    for level, answer in [(39, "same"), (-1, "same"), (0, "maybe")]:
        with pytest.raises(ValueError):
            fresh.record(level, answer)


def brute_force_expected_entropies(n_levels, settings, answers):
    """Expected posterior entropy per level by explicit enumeration (no vector algebra)."""
    points = list(
        itertools.product(
            np.arange(-1.0, n_levels + settings.threshold_step / 2, settings.threshold_step),
            settings.spreads,
            settings.lapses,
        )
    )

    def p_different(x, point):
        t, s, lam = point
        return min(max((1 - lam) * norm.cdf((x - t) / s), 1e-9), 1 - 1e-9)

    post = []
    for point in points:
        weight = 1.0
        for x, answer in answers:
            p = p_different(x, point)
            weight *= p if answer == "different" else 1 - p
        post.append(weight)
    post = [w / sum(post) for w in post]
    expected = []
    for x in range(n_levels):
        total = 0.0
        for outcome in ("different", "same"):
            joint = [
                w * (p_different(x, pt) if outcome == "different" else 1 - p_different(x, pt))
                for w, pt in zip(post, points, strict=True)
            ]
            p_outcome = sum(joint)
            total += p_outcome * -sum(j / p_outcome * math.log(j / p_outcome) for j in joint if j)
        expected.append(total)
    return expected


@pytest.mark.parametrize("answers", [[], [(2, "different")], [(1, "same"), (3, "different")]])
def test_entropy_minimising_choice_matches_brute_force(answers):
    settings = QuestSettings(threshold_step=1.0, spreads=(0.5, 2.0), lapses=(0.0, 0.1))
    state = Quest(4, settings)
    for level, answer in answers:
        state = state.record(level, answer)
    expected = brute_force_expected_entropies(4, settings, answers)
    np.testing.assert_allclose(state.expected_entropies(), expected, rtol=1e-9, atol=1e-12)
    assert state.next_level() == int(np.argmin(expected))


def test_not_sure_is_half_a_response():
    state = Quest(39).record(20, "different").record(10, "same")
    unsure = state.record(15, "not_sure")
    both = state.record(15, "same").record(15, "different")
    # half of "same" and half of "different": the normalised square root of both
    np.testing.assert_allclose(
        unsure.log_post,
        0.5 * both.log_post
        + 0.5 * state.log_post
        - np.log(np.exp(0.5 * both.log_post + 0.5 * state.log_post).sum()),
        atol=1e-9,
    )
    # it lies between the two answers and says "near 15": the threshold moves towards 15
    seen, unseen = state.record(15, "different"), state.record(15, "same")
    assert seen.threshold < unsure.threshold < unseen.threshold
    wide = Quest(39).record(30, "different").record(5, "same")
    assert abs(wide.record(10, "not_sure").threshold - 10) < abs(wide.threshold - 10)


def test_threshold_to_ladder_level():
    assert threshold_level(-0.7, 39) == Outcome(0, OutcomeKind.MILDEST)
    assert threshold_level(4.5, 39) == Outcome(5, OutcomeKind.FOUND)
    assert threshold_level(5.0, 39) == Outcome(5, OutcomeKind.FOUND)
    assert threshold_level(38.2, 39) == Outcome(38, OutcomeKind.NEVER)


def collective_run(n_subjects: int, seed: int, latent: float = 20.3, spread: float = 2.5):
    rng = np.random.default_rng(seed)
    state = Collective(39)
    for noticed in rng.normal(latent, spread, n_subjects):
        for _ in range(state.settings.collective_trials):
            level = state.next_level()
            state = state.update(level, "different" if level >= noticed else "same")
    return state


def test_collective_posterior_converges_with_more_subjects():
    runs = {n: [collective_run(n, seed) for seed in range(8)] for n in (5, 40)}
    error = {n: np.mean([abs(s.threshold - 20.3) for s in runs[n]]) for n in runs}
    sd = {n: np.mean([s.threshold_sd for s in runs[n]]) for n in runs}
    assert error[40] < error[5] and error[40] < 1.0, error
    assert sd[40] < sd[5], sd
    assert runs[40][0].trials == 40 * QuestSettings().collective_trials
    sur = runs[40][0].sur_curve()
    assert sur.shape == (39,) and np.all(np.diff(sur) <= 1e-12)
    assert sur[14] > 0.8 and sur[26] < 0.2 and 0.2 < sur[20] < 0.8


def test_collective_serialises_exactly_and_updates_purely():
    state = collective_run(3, seed=1)
    again = Collective.from_json(state.to_json())
    np.testing.assert_array_equal(again.log_post, state.log_post)
    assert (again.trials, again.settings, again.next_level()) == (
        state.trials,
        state.settings,
        state.next_level(),
    )
    before = state.log_post.copy()
    state.update(0, "not_sure")
    np.testing.assert_array_equal(state.log_post, before)
    with pytest.raises(ValueError, match="grid"):
        Collective.from_json(Collective(5).to_json().replace('"n_levels": 5', '"n_levels": 6'))


def test_bisection_treatment_of_not_sure():
    assert bisection_answer("same", False) == "same"
    assert bisection_answer("different", True) == "different"
    assert bisection_answer("not_sure", False) is None  # show the level once more
    assert bisection_answer("not_sure", True) == "same"
    with pytest.raises(ValueError, match="unknown answer"):
        bisection_answer("perhaps", False)


def test_settings_from_config():
    settings = QuestSettings.from_config({"spreads": [1, 2], "lapses": [0], "max_trials": 9})
    assert settings.spreads == (1.0, 2.0) and settings.lapses == (0.0,)
    assert settings.max_trials == 9 and hash(settings)


def test_bisection_repeats_a_level_after_not_sure_then_counts_it_as_same():
    from vvcjnd.subjective.procedures import Bisection, Outcome, OutcomeKind

    def run(k, unsure_times):
        state, shown = Bisection(9), []
        while (level := state.next_level()) is not None:
            shown.append(level)
            seen = level >= k
            if shown.count(level) <= unsure_times:
                state = state.record(level, "not_sure")
            else:
                state = state.record(level, "different" if seen else "same")
        return state, shown

    for k in range(10):
        plain, plain_shown = run(k, 0)
        once, once_shown = run(k, 1)  # one "not sure" per level, then the true answer
        assert once.result() == plain.result() and once_shown == [
            level for level in plain_shown for _ in range(2)
        ]
    # two "not sure" at every level: each counts as "same", so the search ends at "never"
    twice, shown = run(0, 2)
    assert twice.result() == Outcome(8, OutcomeKind.NEVER) and len(shown) == 2 * len(set(shown))
