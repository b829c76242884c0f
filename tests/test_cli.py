"""The command line outside the workflow."""

import json
import subprocess
import sys

from vvcjnd.cli import main
from vvcjnd.images import write_png

from .conftest import REPO


def test_check_config_accepts_the_default_and_names_bad_keys(tmp_path, capsys):
    assert main(["check-config", str(REPO / "config.yaml")]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("encode: {qp: {min: 70}}\n")
    assert main(["check-config", str(bad)]) == 2
    assert "encode.qp.min" in capsys.readouterr().err


def test_ladder_command_encodes_for_real(tmp_path, astronaut_small):
    write_png(tmp_path / "face.png", astronaut_small)
    result = subprocess.run(
        [sys.executable, "-m", "vvcjnd", "ladder", str(tmp_path / "face.png"),
         "-o", str(tmp_path / "out"), "--config", str(REPO / "config.yaml"), "--qp", "30", "40"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    points = [json.loads(line) for line in result.stdout.splitlines()]
    assert [p["level"] for p in points] == [30, 40] and points[0]["bytes"] > points[1]["bytes"]
    assert (tmp_path / "out" / "face" / "qp30.png").is_file()


def test_compare_checksums_exit_status(tmp_path, capsys):
    (tmp_path / "a").write_text("aa  x.png\nbb  y.png\n")
    (tmp_path / "b").write_text("aa  x.png\ncc  y.png\n")
    assert main(["compare-checksums", str(tmp_path / "a"), str(tmp_path / "a")]) == 0
    assert main(["compare-checksums", str(tmp_path / "a"), str(tmp_path / "b")]) == 2
    assert "differs: y.png" in capsys.readouterr().out
