"""Shared pieces of the subjective-test tests: a tiny stimulus set, observers, a live server.

Holds no tests itself. The stimulus set is built by the real ``build_stimuli`` from ladder
records in the real layout; the decoded images are the pristine ones plus noise growing with
the level (no encoder needed: what the test checks is the test machinery, not the codec).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import numpy as np
import skimage.data

from vvcjnd.config import validate_config
from vvcjnd.images import write_png
from vvcjnd.io import read_table, sha256_file, write_table
from vvcjnd.subjective.stimuli import build_stimuli

REPO = Path(__file__).resolve().parents[1]
LEVELS = [13, 14, 15, 16, 17]
SESSIONS = {"alpha": 1, "bravo": 1, "charlie": 2}
# Deterministic observers' first noticeable level index per image (QP 14, 16, 13).
THRESHOLDS = {"alpha": 1, "bravo": 3, "charlie": 0}


@dataclass(frozen=True)
class StimulusFiles:
    root: Path
    manifest: Path  # the sources manifest
    table: Path  # stimuli.tsv
    plan: Path
    db: Path
    sha_to_level: dict[str, tuple[str, int | None]]  # stimulus sha256 -> (image, level index)


def make_stimuli(root: Path, size=(96, 64), **subjective) -> StimulusFiles:
    """Build a 3-image, 5-level stimulus set under ``root`` (``subjective`` overrides config)."""
    config = validate_config({"subjective": subjective})
    rng = np.random.default_rng(7)
    width, height = size
    photos = {"alpha": "astronaut", "bravo": "chelsea", "charlie": "coffee"}
    rows = []
    for image_id, session in SESSIONS.items():
        photo = getattr(skimage.data, photos[image_id])()
        top, left = (photo.shape[0] - height) // 3, (photo.shape[1] - width) // 2
        pristine = np.ascontiguousarray(photo[top : top + height, left : left + width, :3])
        write_png(root / "images" / f"{image_id}.png", pristine)
        points = []
        for index, qp in enumerate(LEVELS):
            noise = rng.integers(-(index + 1) * 3, (index + 1) * 3 + 1, pristine.shape)
            decoded = np.clip(pristine.astype(int) + noise, 0, 255).astype(np.uint8)
            png = root / "ladder" / image_id / f"qp{qp:02d}.png"
            write_png(png, decoded)
            points.append({"qp": qp, "level": qp, "decoded_png": png.name,
                           "decoded_sha256": sha256_file(png)})  # fmt: skip
        (root / "ladder" / f"{image_id}.json").write_text(json.dumps({"points": points}))
        rows.append({"image_id": image_id, "session": session})
    import pandas as pd

    manifest = root / "manifest.tsv"
    write_table(manifest, pd.DataFrame(rows))
    out = root / "subjective"
    build_stimuli(
        manifest,
        root / "images",
        root / "ladder",
        LEVELS,
        config["subjective"],
        2021,
        out / "stimuli",
        out / "stimuli.tsv",
        out / "plan.json",
    )
    table = read_table(out / "stimuli.tsv")
    sha_to_level = {
        row.sha256: (row.image_id, None if row.level_index < 0 else int(row.level_index))
        for row in table.itertuples()
    }
    return StimulusFiles(
        root, manifest, out / "stimuli.tsv", out / "plan.json", out / "test.sqlite", sha_to_level
    )


def observe(stimuli: StimulusFiles, left: bytes, right: bytes, thresholds=THRESHOLDS) -> str:
    """A deterministic observer: "different" iff one image is at or above its threshold."""
    import hashlib

    for data in (left, right):
        image, level = stimuli.sha_to_level[hashlib.sha256(data).hexdigest()]
        if level is not None and level >= thresholds[image]:
            return "different"
    return "same"


VIEWING = {
    "screen_w": 1920,
    "screen_h": 1080,
    "window_w": 1200,
    "window_h": 800,
    "dpr": 1.0,
    "user_agent": "pytest",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """``python -m vvcjnd subjective serve`` as a real process on 127.0.0.1."""

    def __init__(self, stimuli: StimulusFiles, port: int | None = None):
        self.stimuli = stimuli
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = None
        self.admin_url = None

    def start(self) -> LiveServer:
        command = [
            sys.executable,
            "-m",
            "vvcjnd",
            "subjective",
            "serve",
            "--db",
            str(self.stimuli.db),
            "--stimuli",
            str(self.stimuli.table),
            "--port",
            str(self.port),
        ]
        self.process = subprocess.Popen(
            command,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        subjects_line = self.process.stdout.readline()
        assert subjects_line.startswith("subjects: "), subjects_line + self.process.stderr.read()
        self.admin_url = self.process.stdout.readline().split()[-1]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(self.base + "/", timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError("the server did not start")

    @property
    def token(self) -> str:
        return self.admin_url.split("#token=")[1]

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
