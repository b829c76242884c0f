"""Issue 17 in a real browser: the flicker display, "not sure" answers and the crowd path.

Scripted observers open the page the way a crowdsourcing platform sends them
(``?PROLIFIC_PID=<id>``, no login form), pass the qualification block, and answer flicker
trials through the page with keys and clicks, saying "not sure" at and just below their
threshold the first time they see such a level (and, at the repeat, "different" at the
threshold and "not sure" again below it). The page times the flicker with
requestAnimationFrame and posts the rate it drew; the labels that reach jnd.tsv through
``subjective export`` and the label stage are exactly the observers' thresholds. One more
subject fails the qualification and gets the polite end page.
"""

from __future__ import annotations

import hashlib
import os
import statistics
from pathlib import Path

import pytest

from vvcjnd.io import read_table
from vvcjnd.subjective.export import export

from .test_labels_collective import labels_run
from .test_subjective_api import expected_jnd
from .test_subjective_api_e1 import tidy_jnd
from .test_subjective_browser import Observer, browser
from .test_subjective_fixtures import THRESHOLDS, LiveServer, make_stimuli

pytestmark = pytest.mark.browser

SUBJECTS = ["f01", "f02", "f03"]
RATE_HZ = 8.0
CROWD = {"id_param": "PROLIFIC_PID", "qualification_trials": 2, "qualification_max_errors": 0}


class FlickerObserver(Observer):
    """Answers flicker trials from the two images' levels; "not sure" near the threshold."""

    def __init__(self, *args, wrong: bool = False):
        super().__init__(*args)
        self.seen: dict[tuple[str, int], int] = {}  # (image, level) -> times shown
        self.wrong = wrong  # answer every trial wrongly (fails the qualification)

    def begin_from_url(self, subject: str) -> None:
        self.driver.get(f"{self.server.base}/?PROLIFIC_PID={subject}")
        self.until_phase("consent")
        self.click("consent-accept")
        self.pass_check()

    def decide(self, images: list[bytes]) -> str:
        levels = [self.stimuli.sha_to_level[hashlib.sha256(data).hexdigest()] for data in images]
        image = levels[0][0]
        level = max((lv for _, lv in levels if lv is not None), default=None)
        threshold = THRESHOLDS[image]
        truth = "different" if level is not None and level >= threshold else "same"
        if self.wrong:
            return "same" if truth == "different" else "different"
        if level is None or level not in (threshold - 1, threshold):
            return truth  # identical pairs, far levels, the most distorted (training, traps)
        times = self.seen.get((image, level), 0)
        self.seen[(image, level)] = times + 1
        return "not_sure" if times == 0 or level < threshold else truth

    def play_flicker(self) -> str:
        """Play until the end page; returns its end reason."""

        last = None
        while True:
            phase, trial = self.next_page(last)
            if phase == "done":
                return self.driver.execute_script("return document.body.dataset.end")
            answer = self.decide(self.images())
            self.respond(answer, shot="trial_flicker")
            last = trial


def test_flicker_and_not_sure_through_the_page_give_their_thresholds(tmp_path):
    driver = browser()
    shots = Path(os.environ.get("VVCJND_SCREENSHOTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    stimuli = make_stimuli(
        tmp_path,
        size=(64, 48),
        training_trials=0,
        break_every=40,
        display="flicker",
        flicker={"rate_hz": RATE_HZ},
        not_sure=True,
        crowd=CROWD,
    )
    server = LiveServer(stimuli).start()
    codes = {}
    try:
        taken = {"consent", "viewing_check", "break"}
        for subject in SUBJECTS:
            observer = FlickerObserver(driver, server, stimuli, shots, taken)
            observer.begin_from_url(subject)
            assert observer.play_flicker() == "finished"
            codes[subject] = driver.execute_script(
                "return document.getElementById('done-code').textContent"
            )
        observer = FlickerObserver(driver, server, stimuli, shots, taken, wrong=True)
        observer.begin_from_url("f99")
        assert observer.play_flicker() == "disqualified"
        assert observer.answers == CROWD["qualification_trials"]
        assert not driver.find_element("id", "done-code-line").is_displayed()
        observer.shot("disqualified")
    finally:
        driver.quit()
        server.stop()

    files = export(stimuli.db, tmp_path / "export")
    subjects = read_table(files["subjects"]).set_index("subject_id")
    assert subjects.loc["f99", "end_reason"] == "disqualified"
    assert subjects.loc["f99", "data_trials"] == 0
    assert subjects.loc["f99", "qualification_errors"] == 2
    assert (subjects.loc[SUBJECTS, "end_reason"] == "finished").all()
    assert subjects.loc[SUBJECTS, "completion_code"].to_dict() == codes
    assert (subjects["display"] == "flicker").all()
    assert (subjects["refresh_hz"] >= 2 * RATE_HZ).all()
    trials = read_table(files["trials"])
    data = trials[trials["kind"] == "data"]
    assert (data["answer"] == "not_sure").sum() >= 2 * len(SUBJECTS)
    rates = trials["flicker_hz"].astype(float)
    assert abs(statistics.median(rates) - RATE_HZ) < 0.1 * RATE_HZ, rates.describe()
    off = (rates - RATE_HZ).abs() > 0.15 * RATE_HZ
    assert (trials["flicker_off"].astype(bool) == off).all()

    jnd = tidy_jnd(tmp_path / "labels", files["samples"], stimuli.manifest, len(SUBJECTS))
    assert jnd == expected_jnd()


def test_quest_and_collective_quest_through_the_page(tmp_path):
    """QUEST+ per subject and the collective posterior (collective.tsv), each with two
    observers playing through the page side by side; both procedures' labels reach jnd.tsv."""
    driver = browser()
    results = {}
    try:
        for procedure in ("quest", "quest_collective"):
            stimuli = make_stimuli(
                tmp_path / procedure,
                size=(64, 48),
                training_trials=0,
                procedure=procedure,
                traps={"rate": 0.0},
                quest={"max_trials": 8, "stop_sd": 1.0, "collective_trials": 2},
            )
            server = LiveServer(stimuli).start()
            try:
                for subject in ("q1", "q2"):
                    observer = Observer(driver, server, stimuli, tmp_path, {"consent", "break"})
                    observer.taken.update({"viewing_check", "trial", "done"})
                    observer.begin(subject)
                    observer.play(subject)
            finally:
                server.stop()
            results[procedure] = (stimuli, export(stimuli.db, tmp_path / procedure / "export"))
    finally:
        driver.quit()

    stimuli, files = results["quest"]
    assert tidy_jnd(tmp_path / "labels", files["samples"], stimuli.manifest, 2) == expected_jnd()

    stimuli, files = results["quest_collective"]
    collective = read_table(files["collective"]).set_index("image_id")
    assert (collective["subjects"] == 2).all()
    for image, index in THRESHOLDS.items():
        assert index - 1 < collective.loc[image, "threshold"] <= index
    # four answers an image: the curve is too uncertain for the default share 0.75; the median
    labels = labels_run(stimuli, tmp_path / "collective", min_subjects=2, jnd={"method": "median"})
    jnd = read_table(labels["jnd"]).set_index("image_id")
    assert jnd["jnd_qp"].astype(int).to_dict() == expected_jnd() and (jnd["n_used"] == 2).all()
