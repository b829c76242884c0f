"""QUEST+ (Watson 2017) over a ladder's level indices: per subject and as a collective observer.

The psychometric function gives the probability of the answer "different" at level index x:
``psi(x) = (1 - lapse) * Phi((x - threshold) / spread)`` (guess rate 0: a same/different
detection task; ``spread`` is the inverse slope, in ladder steps). The posterior over the grid
(threshold, spread, lapse) starts from the configured prior; each next level minimises the
expected entropy of the posterior after the answer (the binary outcome model, "same" or
"different"); answers, "not sure" included, enter the likelihood with the weights of
:mod:`vvcjnd.subjective.relaxed`. :class:`Quest` is one subject's search with the interface of
:class:`~vvcjnd.subjective.procedures.Bisection` (pure, frozen: ``record`` returns a new state);
:class:`Collective` is one posterior per image pooled over all its subjects, updated by the pure
:meth:`Collective.update` and serialised by :meth:`Collective.to_json` so that a server can keep
it per image under a lock. Written with numpy rather than the ``questplus`` package: see
docs/subjective.md ("QUEST+ and relaxed answers").
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field, replace

import numpy as np

from vvcjnd.subjective.procedures import Outcome, OutcomeKind
from vvcjnd.subjective.relaxed import answer_weight

EPS = 1e-9  # floor of both answers' probabilities, so that no answer has likelihood zero
# numpy only (no scipy): the test server's environment has numpy, not scipy
_erf = np.frompyfunc(math.erf, 1, 1)


def ndtr(z: np.ndarray) -> np.ndarray:
    """The standard normal cdf, elementwise."""
    return 0.5 * (1.0 + _erf(np.asarray(z) / math.sqrt(2.0)).astype(np.float64))


def xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x * log(y), 0 where x is 0."""
    x, y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    out = np.zeros(x.shape)
    np.multiply(x, np.log(y, where=x != 0, out=np.zeros(x.shape)), out=out, where=x != 0)
    return out


def logsumexp(a: np.ndarray, axis=None) -> np.ndarray:
    """log(sum(exp(a))) without overflow."""
    top = np.max(a, axis=axis, keepdims=True)
    total = np.log(np.sum(np.exp(a - top), axis=axis, keepdims=True)) + top
    return total.squeeze() if axis is None else np.squeeze(total, axis=axis)


@dataclass(frozen=True)
class QuestSettings:
    """The grid, the prior and the stop rule (config section ``subjective.quest``).

    Thresholds run from -1 (noticed below the mildest level) to n_levels (never noticed) in
    steps of ``threshold_step`` ladder steps. The threshold prior is uniform when
    ``prior_mean`` is None, else normal with mean and sd as fractions of the ladder (0: the
    mildest level, 1: the most distorted); spreads and lapses have uniform priors. A search
    stops after ``max_trials``, or after ``min_trials`` once the posterior sd of the threshold
    is at most ``stop_sd`` ladder steps (None: fixed count). In the collective each subject
    gives an image ``collective_trials`` trials.
    """

    threshold_step: float = 0.5
    spreads: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0)
    lapses: tuple[float, ...] = (0.0, 0.02, 0.05)
    prior_mean: float | None = None
    prior_sd: float = 0.25
    max_trials: int = 16
    min_trials: int = 4
    stop_sd: float | None = 0.7
    collective_trials: int = 4

    @classmethod
    def from_config(cls, quest: dict) -> QuestSettings:
        values = dict(quest)
        for key in ("spreads", "lapses"):
            if key in values:
                values[key] = tuple(float(v) for v in values[key])
        return cls(**values)


@dataclass(frozen=True)
class Grid:
    """The parameter grid (flattened) and the psychometric function at every level index."""

    threshold: np.ndarray  # (P,) threshold of each grid point, level indices
    spread: np.ndarray  # (P,)
    lapse: np.ndarray  # (P,)
    psi: np.ndarray  # (X, P) P(different | level, params)
    log_psi: np.ndarray  # (X, P) log P(different | level, params)
    log_not: np.ndarray  # (X, P) log P(same | level, params)
    h_psi: np.ndarray  # (X, P) binary entropy of psi (nats)
    seen: np.ndarray  # (X, P) Phi((x - threshold) / spread): the lapse-free function
    log_prior: np.ndarray  # (P,) normalised


@functools.lru_cache(maxsize=16)
def grid(n_levels: int, settings: QuestSettings) -> Grid:
    """The grid of a ladder of ``n_levels`` levels (cached; its arrays are read-only)."""
    if n_levels < 1:
        raise ValueError(f"a ladder needs at least one level, got {n_levels}")
    step = settings.threshold_step
    thresholds = np.arange(-1.0, n_levels + step / 2, step)
    t, s, lam = (
        a.ravel() for a in np.meshgrid(thresholds, settings.spreads, settings.lapses, indexing="ij")
    )
    x = np.arange(n_levels, dtype=np.float64)[:, None]
    seen = ndtr((x - t[None, :]) / s[None, :])
    psi = np.clip((1.0 - lam[None, :]) * seen, EPS, 1.0 - EPS)
    if settings.prior_mean is None:
        log_prior = np.zeros_like(t)
    else:
        mean = settings.prior_mean * (n_levels - 1)
        sd = settings.prior_sd * max(n_levels - 1, 1)
        log_prior = -0.5 * ((t - mean) / sd) ** 2
    log_prior = log_prior - logsumexp(log_prior)
    h_psi = -xlogy(psi, psi) - xlogy(1.0 - psi, 1.0 - psi)
    arrays = (t, s, lam, psi, np.log(psi), np.log1p(-psi), h_psi, seen, log_prior)
    for array in arrays:
        array.flags.writeable = False
    return Grid(*arrays)


@dataclass(frozen=True, eq=False)
class _Posterior:
    n_levels: int
    settings: QuestSettings = field(default_factory=QuestSettings)
    log_post: np.ndarray | None = None  # (P,) normalised log posterior; None: the prior
    trials: int = 0

    def __post_init__(self) -> None:
        if self.log_post is None:
            object.__setattr__(self, "log_post", self.grid.log_prior)

    @property
    def grid(self) -> Grid:
        return grid(self.n_levels, self.settings)

    def expected_entropies(self) -> np.ndarray:
        """(X,) expected entropy (nats) of the posterior after an answer at each level.

        Computed as H(posterior) - h(p(different | x)) + E_posterior[h(psi(x))], with h the
        binary entropy: the expected posterior entropy of Watson (2017), eq. 8-9, rearranged so
        that it costs two matrix-vector products.
        """
        g = self.grid
        post = np.exp(self.log_post)
        p_different = np.clip(g.psi @ post, 0.0, 1.0)
        h_answer = -xlogy(p_different, p_different) - xlogy(1 - p_different, 1 - p_different)
        return -float(xlogy(post, post).sum()) - h_answer + g.h_psi @ post

    def best_level(self) -> int:
        """The level index of minimum expected entropy (the mildest one on a tie)."""
        return int(np.argmin(self.expected_entropies()))

    def updated(self, level: int, answer: str):
        """The state after ``answer`` ("same", "not_sure" or "different") at ``level``."""
        if not (isinstance(level, int | np.integer) and 0 <= level < self.n_levels):
            raise ValueError(f"level index {level} is not on a ladder of {self.n_levels} levels")
        w = answer_weight(answer)
        log_post = self.log_post + w * self.grid.log_psi[level] + (1 - w) * self.grid.log_not[level]
        log_post = log_post - logsumexp(log_post)
        log_post.flags.writeable = False
        return replace(self, log_post=log_post, trials=self.trials + 1)

    def _moments(self) -> tuple[float, float]:
        """Posterior mean and sd of the threshold (level indices)."""
        post = np.exp(self.log_post)
        mean = float(post @ self.grid.threshold)
        var = float(post @ (self.grid.threshold - mean) ** 2)
        return mean, math.sqrt(max(var, 0.0))

    @property
    def threshold(self) -> float:
        """Posterior mean of the threshold, in level indices (the label: see result)."""
        return self._moments()[0]

    @property
    def threshold_sd(self) -> float:
        return self._moments()[1]


@dataclass(frozen=True)
class QuestOutcome(Outcome):
    """An :class:`Outcome` with the posterior mean and sd of the threshold (level indices)."""

    threshold: float = math.nan
    threshold_sd: float = math.nan


def threshold_level(threshold: float, n_levels: int) -> Outcome:
    """The ladder level of a threshold: the first level index at which the lapse-free function
    reaches one half, ceil(threshold), clipped to the ladder; MILDEST at index 0, NEVER beyond
    the most distorted level (as bisection records them)."""
    if threshold > n_levels - 1:
        return Outcome(n_levels - 1, OutcomeKind.NEVER)
    level = max(math.ceil(threshold - 1e-9), 0)
    return Outcome(level, OutcomeKind.MILDEST if level == 0 else OutcomeKind.FOUND)


@dataclass(frozen=True, eq=False)
class Quest(_Posterior):
    """One subject's QUEST+ search; the label is the posterior mean threshold on the ladder."""

    @property
    def done(self) -> bool:
        s = self.settings
        if self.trials >= s.max_trials:
            return True
        return (
            s.stop_sd is not None
            and self.trials >= s.min_trials
            and (self.threshold_sd <= s.stop_sd)
        )

    def next_level(self) -> int | None:
        """Level index to show next (minimum expected entropy), or None when done."""
        return None if self.done else self.best_level()

    def record(self, level: int, answer: str) -> Quest:
        if self.done:
            raise ValueError("the QUEST+ search has ended")
        return self.updated(level, answer)

    def result(self) -> QuestOutcome:
        if not self.done:
            raise ValueError("the search has not ended")
        mean, sd = self._moments()
        outcome = threshold_level(mean, self.n_levels)
        return QuestOutcome(outcome.level_index, outcome.kind, mean, sd)


@dataclass(frozen=True, eq=False)
class Collective(_Posterior):
    """One image's posterior pooled over all its subjects (the collective observer).

    Its function describes the panel: ``Phi((x - threshold) / spread)`` is the share of
    subjects who notice level x, so :meth:`sur_curve` is the satisfied-user ratio.
    """

    def next_level(self) -> int:
        return self.best_level()

    def update(self, level: int, answer: str) -> Collective:
        return self.updated(level, answer)

    def sur_curve(self) -> np.ndarray:
        """(n_levels,) posterior mean share of subjects who do not notice each level index."""
        return 1.0 - np.exp(self.log_post) @ self.grid.seen.T

    def to_json(self) -> str:
        settings = {
            k: list(v) if isinstance(v, tuple) else v for k, v in self.settings.__dict__.items()
        }
        return json.dumps(
            {
                "n_levels": self.n_levels,
                "settings": settings,
                "trials": self.trials,
                "log_post": self.log_post.tolist(),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Collective:
        data = json.loads(text)
        log_post = np.array(data["log_post"], dtype=np.float64)
        log_post.flags.writeable = False
        state = cls(
            data["n_levels"], QuestSettings.from_config(data["settings"]), log_post, data["trials"]
        )
        if log_post.shape != state.grid.threshold.shape:
            raise ValueError("collective posterior does not match its grid")
        return state
