"""The test plan and each subject's trial sequence: seeded, reproducible, free of I/O.

A subject's sequence is a pure function of the plan (seed, sessions, ladder, rates), the
subject id and the answers given so far: the server stores answers only and calls
:func:`next_trial` again after each one, so a restarted server or a reloaded page continues
exactly where the subject was. Order: the manifest's sessions in a random order per subject,
inside each a random image order; a subject's searches of one session run interleaved (the
next image is drawn among the unfinished ones, never the previous trial's image when another
is left), with trap trials mixed in at ``trap_rate``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from vvcjnd.seeds import rng as seeded_rng
from vvcjnd.subjective.procedures import Answer, start

TRAINING = "training"
DATA = "data"
TRAP_SAME = "trap_same"  # both images pristine: the correct answer is "same"
TRAP_MAX = "trap_max"  # the most distorted level: the correct answer is "different"
QUALIFICATION = "qualification"  # easy traps before the data trials (crowd.qualification_*)
KINDS = (TRAINING, QUALIFICATION, DATA, TRAP_SAME, TRAP_MAX)
SLOTS = ("left", "right")  # side by side; in toggle and flicker mode "left" is A, "right" is B
FINISHED, DISQUALIFIED, EXPIRED = "finished", "disqualified", "expired"  # how a subject's test ends


@dataclass(frozen=True)
class TrialPlan:
    """What the stimulus rule fixed for the test (``plan.json``); see docs/subjective.md."""

    seed: int
    procedure: str
    level_name: str  # the level column of the export ("qp": jnd_qp)
    levels: tuple[int, ...]  # ladder levels, mildest first
    sessions: dict[int, tuple[str, ...]]  # session -> image ids in manifest order
    sizes: dict[str, tuple[int, int]]  # image id -> stimulus (width, height) in pixels
    trap_rate: float  # share of test trials that are traps, 0..0.5
    trap_fail_share: float  # a subject failing more than this share of traps is flagged
    exclude_flagged: bool  # leave flagged subjects' samples out of the labels
    break_every: int  # a break after this many test trials (and between sessions)
    training_trials: int  # practice trials with feedback before the test, not data
    display: str  # auto, side_by_side, toggle or flicker
    gap_px: int  # gap between the two images side by side, in screen pixels
    flicker_hz: float = 8.0  # image changes per second in the flicker display
    flicker_tolerance: float = 0.15  # a trial's measured rate off by more than this share: marked
    not_sure: bool = False  # the third answer "not sure" is offered
    id_param: str = "subject"  # URL parameter with the subject id
    time_limit_min: float | None = None  # minutes from consent; None: no limit
    min_screen: tuple[int | None, int | None] = (None, None)  # screen pixels (width, height)
    qualification_trials: int = 0
    qualification_max_errors: int = 0
    quest: dict = field(default_factory=dict)  # QUEST+ settings (subjective.quest)

    @classmethod
    def from_json(cls, data: dict) -> TrialPlan:
        return cls(
            seed=int(data["seed"]),
            procedure=data["procedure"],
            level_name=data["level_name"],
            levels=tuple(int(v) for v in data["levels"]),
            sessions={int(k): tuple(v) for k, v in data["sessions"].items()},
            sizes={k: (int(v[0]), int(v[1])) for k, v in data["sizes"].items()},
            trap_rate=float(data["trap_rate"]),
            trap_fail_share=float(data["trap_fail_share"]),
            exclude_flagged=bool(data["exclude_flagged"]),
            break_every=int(data["break_every"]),
            training_trials=int(data["training_trials"]),
            display=data["display"],
            gap_px=int(data["gap_px"]),
            flicker_hz=float(data.get("flicker_hz", 8.0)),
            flicker_tolerance=float(data.get("flicker_tolerance", 0.15)),
            not_sure=bool(data.get("not_sure", False)),
            id_param=str(data.get("id_param", "subject")),
            time_limit_min=data.get("time_limit_min"),
            min_screen=tuple(data.get("min_screen", (None, None))),
            qualification_trials=int(data.get("qualification_trials", 0)),
            qualification_max_errors=int(data.get("qualification_max_errors", 0)),
            quest=dict(data.get("quest", {})),
        )

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    def session_of(self, image_id: str) -> int:
        return next(s for s, images in self.sessions.items() if image_id in images)

    def estimated_trials(self) -> int:
        """Trials of a whole run: training and qualification plus, per image, at most
        ceil(log2(L + 1)) (bisection) or QUEST+'s max_trials, with traps."""
        per_image = math.ceil(math.log2(self.n_levels + 1))
        if self.procedure in ("quest", COLLECTIVE):
            settings = quest_settings(self)
            per_image = (
                settings.max_trials if self.procedure == "quest" else settings.collective_trials
            )
        data = per_image * sum(len(images) for images in self.sessions.values())
        before = self.training_trials + self.qualification_trials
        return before + math.ceil(data / (1 - self.trap_rate))


@dataclass(frozen=True)
class Past:
    """One answered trial of a subject, as the schedule needs it."""

    kind: str
    image_id: str
    session: int
    level_index: int | None
    answer: str
    break_before: bool = False


@dataclass(frozen=True)
class TrialSpec:
    """The next trial: what to show (level None = both pristine) and where."""

    seq: int
    kind: str
    image_id: str
    session: int
    level_index: int | None
    distorted_slot: str
    break_before: bool


def correct_answer(kind: str, level_index: int | None) -> str | None:
    """The right answer of a training or trap trial; None for a data trial."""
    if kind == DATA:
        return None
    return Answer.SAME.value if level_index is None else Answer.DIFFERENT.value


def qualification_errors(history: list[Past]) -> int:
    """Wrong answers of the qualification block so far."""
    return sum(
        past.answer != correct_answer(QUALIFICATION, past.level_index)
        for past in history
        if past.kind == QUALIFICATION
    )


def end_reason(plan: TrialPlan, history: list[Past]) -> str:
    """Why :func:`next_trial` ended a subject's test: finished, or disqualified."""
    failed = qualification_errors(history) > plan.qualification_max_errors
    return DISQUALIFIED if failed else FINISHED


def subject_order(plan: TrialPlan, subject_id: str) -> list[tuple[int, list[str]]]:
    """(session, image ids) in the order this subject sees them."""
    rng = seeded_rng(plan.seed, "subjective_order", subject_id)
    sessions = sorted(plan.sessions)
    order = []
    for index in rng.permutation(len(sessions)):
        images = list(plan.sessions[sessions[index]])
        order.append((sessions[index], [images[i] for i in rng.permutation(len(images))]))
    return order


COLLECTIVE = "quest_collective"


@dataclass(frozen=True)
class CollectiveSearch:
    """A subject's part in an image's collective QUEST+ posterior: ``needed`` trials, each at
    the level the posterior of all subjects' answers so far proposes (None: not known here)."""

    posterior: object | None  # vvcjnd.subjective.quest.Collective
    trials: int
    needed: int

    @property
    def done(self) -> bool:
        return self.trials >= self.needed

    def next_level(self) -> int | None:
        return None if self.done else self.posterior.next_level()


def quest_settings(plan: TrialPlan):
    from vvcjnd.subjective.quest import QuestSettings

    return QuestSettings.from_config(plan.quest)


def collective_states(plan: TrialPlan, answers, states: dict | None = None) -> dict:
    """Image id -> the collective posterior after ``answers`` ((image id, level index, answer)
    of every subject's data trials, in commit order): a pure function of the stored answers.
    ``states`` (the result for a prefix of them) continues the fold with the rest."""
    from vvcjnd.subjective.quest import Collective

    settings = quest_settings(plan)
    if states is None:
        images = [image for images in plan.sessions.values() for image in images]
        states = {image: Collective(plan.n_levels, settings) for image in images}
    states = dict(states)
    for image, level, answer in answers:
        states[image] = states[image].update(int(level), answer)
    return states


def fresh_search(plan: TrialPlan):
    """A subject's search of one image before any answer: the plan's procedure (QUEST+ with
    the plan's settings, vvcjnd.subjective.quest)."""
    if plan.procedure == "quest":
        from vvcjnd.subjective.quest import Quest

        return Quest(plan.n_levels, quest_settings(plan))
    return start(plan.procedure, plan.n_levels)


def searches(plan: TrialPlan, history: list[Past], collective: dict | None = None):
    """Image id -> the procedure's state after this subject's data answers on it (for the
    collective procedure, the subject's part in the image's ``collective`` posterior)."""
    answers: dict[str, list[tuple[int, str]]] = {}
    for past in history:
        if past.kind == DATA:
            answers.setdefault(past.image_id, []).append((past.level_index, past.answer))
    states = {}
    for image in (image for images in plan.sessions.values() for image in images):
        if plan.procedure == COLLECTIVE:
            needed = quest_settings(plan).collective_trials
            posterior = None if collective is None else collective[image]
            states[image] = CollectiveSearch(posterior, len(answers.get(image, [])), needed)
            continue
        state = fresh_search(plan)
        for level, answer in answers.get(image, []):
            state = state.record(level, Answer(answer))
        states[image] = state
    return states


def next_trial(
    plan: TrialPlan, subject_id: str, history: list[Past], collective: dict | None = None
) -> TrialSpec | None:
    """The trial after ``history`` (all answered trials, in order), or None when done
    (``collective``: the images' posteriors, for the collective procedure)."""
    seq = len(history)
    order = subject_order(plan, subject_id)
    rng = seeded_rng(plan.seed, "subjective_trial", subject_id, seq)
    slot = SLOTS[int(rng.integers(2))]
    if seq < plan.training_trials:
        session, images = order[0]
        level = plan.n_levels - 1 if seq % 2 == 0 else None
        return TrialSpec(seq, TRAINING, images[0], session, level, slot, False)
    before = plan.training_trials + plan.qualification_trials
    if seq < before:
        session, images = order[0]
        level = plan.n_levels - 1 if seq % 2 == 0 else None
        image = images[int(rng.integers(len(images)))]
        return TrialSpec(seq, QUALIFICATION, image, session, level, slot, False)
    if end_reason(plan, history) == DISQUALIFIED:
        return None
    states = searches(plan, history, collective)
    pending = [(s, images) for s, images in order if any(not states[i].done for i in images)]
    if not pending:
        return None
    session, images = pending[0]
    unfinished = [image for image in images if not states[image].done]
    previous = history[-1] if history else None
    if rng.random() < plan.trap_rate:
        kind = TRAP_SAME if rng.random() < 0.5 else TRAP_MAX
        image = images[int(rng.integers(len(images)))]
        level = None if kind == TRAP_SAME else plan.n_levels - 1
    else:
        kind = DATA
        others = [i for i in unfinished if previous is None or i != previous.image_id]
        candidates = others or unfinished
        image = candidates[int(rng.integers(len(candidates)))]
        level = states[image].next_level()
    tested = seq - before
    new_session = (
        previous is not None
        and previous.kind not in (TRAINING, QUALIFICATION)
        and previous.session != session
    )
    due = new_session or (tested > 0 and tested % plan.break_every == 0)
    break_before = due and not (previous is not None and previous.break_before)  # none twice
    return TrialSpec(seq, kind, image, session, level, slot, break_before)
