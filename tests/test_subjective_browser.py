"""The whole test in a real browser: Debian's chromium driven by Selenium through the page.

Scripted deterministic observers (known thresholds per image) play whole sessions with
clicks and keys, one in the A/B toggle of a small window, one reloading the page mid-trial;
then ``subjective export`` -> the label stage -> jnd.tsv holds exactly their thresholds.
Skipped without chromium and chromedriver, except in CI (``CI=true``), where it fails.
Screenshots of every page go to $VVCJND_SCREENSHOTS (docs/img/subjective to refresh the docs).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx2 as httpx
import pytest

from vvcjnd.io import read_table
from vvcjnd.labels.stage import build_labels
from vvcjnd.subjective.export import export

from .test_subjective_api import expected_jnd, labels_config
from .test_subjective_fixtures import REPO, LiveServer, make_stimuli, observe

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SUBJECTS = ["b01", "b02", "b03", "b04", "b05"]
TOGGLE_SUBJECT, RELOAD_SUBJECT = "b02", "b03"


def browser(scale: int = 1):
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).is_file()]
    if missing:
        message = f"not installed: {missing} (apt-get install chromium chromium-driver)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--force-device-scale-factor={scale}",
        "--window-size=900,640",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


class Observer:
    """Plays one subject's session through the page."""

    def __init__(self, driver, server, stimuli, shots: Path, taken: set[str]):
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver, self.server, self.stimuli = driver, server, stimuli
        self.wait = WebDriverWait(driver, 15, poll_frequency=0.02)
        self.keys = lambda text: ActionChains(driver).send_keys(text).perform()
        self.shots, self.taken = shots, taken  # screenshots taken so far, by page name
        self.answers = 0

    def shot(self, name: str) -> None:
        if name not in self.taken:
            self.taken.add(name)
            self.driver.save_screenshot(str(self.shots / f"{name}.png"))

    def state(self) -> tuple[str, str]:
        return tuple(
            self.driver.execute_script(
                "return [document.body.dataset.phase || '', document.body.dataset.trial || '']"
            )
        )

    def until_phase(self, *phases: str) -> str:
        self.wait.until(lambda d: self.state()[0] in phases)
        return self.state()[0]

    def click(self, element_id: str) -> None:
        from selenium.webdriver.common.by import By

        element = self.driver.find_element(By.ID, element_id)
        self.wait.until(lambda d: element.is_enabled() and element.is_displayed())
        element.click()

    def begin(self, subject: str) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        self.driver.get(self.server.base + "/")
        self.until_phase("login")
        self.driver.find_element(By.ID, "subject-id").send_keys(subject, Keys.ENTER)
        self.until_phase("consent")
        self.shot("consent")
        self.click("consent-accept")
        self.pass_check()

    def pass_check(self) -> None:
        self.until_phase("check")
        self.wait.until(
            lambda d: d.execute_script("return !document.getElementById('check-continue').disabled")
        )
        self.shot("viewing_check")
        self.click("check-continue")

    def next_page(self, last: str | None) -> tuple[str, str]:
        """(phase, trial id) of the next trial (another than ``last``) or the end page; breaks
        on the way are ended with Enter."""
        while True:
            self.wait.until(
                lambda d, last=last: (
                    self.state()[0] in ("break", "done")
                    or (self.state()[0] == "trial" and self.state()[1] not in ("", last))
                )
            )
            phase, trial = self.state()
            if phase != "break":
                return phase, trial
            self.shot("break")
            self.keys("\ue007")  # Enter
            self.wait.until(lambda d: self.state()[0] != "break")

    def images(self) -> list[bytes]:
        """The two images of the open trial, fetched as the page did."""
        from selenium.webdriver.common.by import By

        urls = [
            self.driver.find_element(By.ID, f"img-{slot}").get_attribute("src")
            for slot in ("left", "right")
        ]
        return [httpx.get(url, timeout=10).content for url in urls]

    def play(self, subject: str, reload_at: int | None = None) -> None:

        last = None
        while True:
            phase, trial = self.next_page(last)
            if phase == "done":
                self.shot("done")
                return
            if self.answers == reload_at:
                self.driver.refresh()  # mid-trial: the same trial must come back
                self.pass_check()
                self.wait.until(lambda d: self.state()[0] in ("trial", "break"))
                if self.state()[0] == "break":
                    self.keys("\ue007")
                self.wait.until(lambda d: self.state()[1] != "")
                assert self.state()[1] == trial
                reload_at = None
            answer = observe(self.stimuli, *self.images())
            toggle = self.driver.execute_script("return document.body.dataset.display") == "toggle"
            if toggle:
                self.shot("trial_toggle")
                self.keys(" ")  # show B: answers are possible after both were seen
            else:
                self.shot("trial")
            self.respond(answer)
            last = trial

    def respond(self, answer: str, shot: str | None = None) -> None:
        """Answer once the buttons unlock (screenshot ``shot`` then): by click and by key in
        turn."""
        from selenium.webdriver.common.by import By

        button = {"same": "answer-same", "different": "answer-different"}.get(
            answer, "answer-not-sure"
        )
        self.wait.until(lambda d: d.find_element(By.ID, button).is_enabled())
        if shot:
            self.shot(shot)
        if self.answers % 2:
            self.click(button)
        else:
            self.keys({"same": "s", "different": "d", "not_sure": "n"}[answer])
        self.answers += 1


def test_simulated_observers_through_the_page_give_their_thresholds(tmp_path):
    driver = browser()
    shots = Path(os.environ.get("VVCJND_SCREENSHOTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    stimuli = make_stimuli(tmp_path, size=(256, 64), training_trials=1, break_every=4)
    server = LiveServer(stimuli).start()
    try:
        taken: set[str] = set()
        for subject in SUBJECTS:
            if subject == TOGGLE_SUBJECT:  # 500 pixels cannot hold 2 x 256 + 24: A/B toggle
                driver.set_window_size(500, 640)
            else:
                driver.set_window_size(900, 640)
            observer = Observer(driver, server, stimuli, shots, taken)
            observer.begin(subject)
            observer.play(subject, reload_at=3 if subject == RELOAD_SUBJECT else None)
        driver.get(server.admin_url)
        observer.wait.until(
            lambda d: (
                d.execute_script("return document.getElementById('subjects').rows.length")
                == len(SUBJECTS) + 1
            )
        )
        driver.save_screenshot(str(shots / "admin.png"))
    finally:
        driver.quit()
        server.stop()

    out = tmp_path / "export"
    command = [
        sys.executable,
        "-m",
        "vvcjnd",
        "subjective",
        "export",
        "--db",
        str(stimuli.db),
        "-o",
        str(out),
    ]
    subprocess.run(command, cwd=REPO, check=True, capture_output=True, timeout=120)
    subjects = read_table(out / "subjects.tsv").set_index("subject_id")
    assert subjects.loc[TOGGLE_SUBJECT, "display"] == "toggle"
    assert (subjects.drop(TOGGLE_SUBJECT)["display"] == "side_by_side").all()
    assert (subjects["images_done"] == 3).all() and not subjects["flagged"].any()
    assert subjects["user_agent"].str.contains("Chrome").all()
    assert (subjects["dpr"] == 1).all() and (subjects["window_w"] > 0).all()
    trials = read_table(out / "trials.tsv")
    assert (trials["response_ms"] >= 0).all() and trials["answer"].notna().all()

    for source, path in (("tidy", out / "samples.tsv"), ("test", stimuli.db)):
        outputs = {
            name: tmp_path / source / f"{name}.tsv"
            for name in ("jnd", "samples", "screening", "sur")
        }
        outputs["record"] = tmp_path / source / "labels.json"
        build_labels(labels_config(source, path), stimuli.manifest, outputs)
        jnd = read_table(outputs["jnd"])
        assert dict(zip(jnd["image_id"], jnd["jnd_qp"], strict=True)) == expected_jnd()
        assert (jnd["n_used"] == len(SUBJECTS)).all()


def test_one_image_pixel_is_one_screen_pixel_at_device_pixel_ratio_2(tmp_path):
    driver = browser(scale=2)
    stimuli = make_stimuli(tmp_path, size=(256, 64), training_trials=1)
    server = LiveServer(stimuli).start()
    try:
        observer = Observer(driver, server, stimuli, tmp_path, {"consent", "viewing_check"})
        observer.begin("hidpi")
        observer.wait.until(lambda d: observer.state()[1] != "")
        sizes = driver.execute_script(
            "const r = document.getElementById('img-left').getBoundingClientRect();"
            "return [r.width * devicePixelRatio, r.height * devicePixelRatio, devicePixelRatio]"
        )
    finally:
        driver.quit()
        server.stop()
    assert sizes == [256, 64, 2]
    subjects = read_table(export(stimuli.db, tmp_path / "export")["subjects"])
    assert subjects["dpr"].tolist() == [2]
