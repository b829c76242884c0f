"""Expected errors end a job or a command with one clear line, never a Python traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import skimage.data
import yaml

from vvcjnd.images import png_bytes

from .conftest import REPO

pytestmark = pytest.mark.slow


def _images(folder: Path, truncate: str | None = None) -> Path:
    folder.mkdir(parents=True)
    for name in ("chelsea", "coffee"):
        data = png_bytes(getattr(skimage.data, name)()[:96, :128])
        (folder / f"{name}.png").write_bytes(data[: len(data) // 2] if name == truncate else data)
    return folder


def _run(workdir: Path, config: dict, target: str) -> subprocess.CompletedProcess:
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    command = [
        "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
        "--configfile", str(workdir / "config.yaml"), "--cores", "1", target,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, check=False)


def _assert_one_line(result: subprocess.CompletedProcess, message: str, log: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in output, output[-3000:]
    lines = [line for line in output.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and message in lines[0] and f"(log: {log})" in lines[0], output[-3000:]


def _config(folder: Path, **sections) -> dict:
    config = {"sources": {"kind": "folder", "path": str(folder), "session_size": 2}}
    return {**config, **sections}


def test_a_truncated_source_image(tmp_path):
    images = _images(tmp_path / "images", truncate="coffee")
    result = _run(tmp_path, _config(images), "results/sources/manifest.tsv")
    _assert_one_line(result, f"cannot decode source image {images / 'coffee.png'}",
                     "results/logs/sources.log")  # fmt: skip
    assert not (tmp_path / "results" / "sources" / "manifest.tsv").exists()


def test_a_bad_label_file(tmp_path):
    images = _images(tmp_path / "images")
    labels = tmp_path / "labels.tsv"
    labels.write_text("image_id\tsubject_id\tjnd_qp\nchelsea\tp1\tloud\n")
    config = _config(images, labels={"source": "tidy", "tidy": {"path": str(labels)}})
    result = _run(tmp_path, config, "results/labels/jnd.tsv")
    _assert_one_line(result, f"tidy label table {labels}", "results/logs/labels/jnd.log")


def test_a_failing_encoder(tmp_path):
    images = _images(tmp_path / "images")
    encode = {"qp": {"min": 37, "max": 37}, "vvenc": {"extra_args": ["-no-such-option", "1"]}}
    result = _run(tmp_path, _config(images, encode=encode), "results/ladder/vvenc/chelsea.json")
    _assert_one_line(result, "exit status", "results/logs/ladder/vvenc/chelsea.log")
    assert "-no-such-option" in (tmp_path / "results/logs/ladder/vvenc/chelsea.log").read_text()


def test_the_command_line_prints_one_line(tmp_path):
    data = png_bytes(skimage.data.chelsea()[:96, :128])
    (tmp_path / "bad.png").write_bytes(data[:100])
    result = subprocess.run(
        [sys.executable, "-m", "vvcjnd", "ladder", str(tmp_path / "bad.png"), "-o", str(tmp_path)],
        capture_output=True, text=True, check=False, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and "bad.png" in result.stderr.splitlines()[0]
