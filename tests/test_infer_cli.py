"""`python -m vvcjnd infer` on a real (untrained, tiny) checkpoint, in a real process."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from skimage import data

from vvcjnd.config import load_config
from vvcjnd.images import read_png, write_png
from vvcjnd.model.checkpoint import checkpoint_state, save_checkpoint
from vvcjnd.model.network import build_model


def tiny_checkpoint(path):
    defaults = load_config(Path(__file__).parents[1] / "config.yaml")["train"]
    train_config = {**defaults, "width": 4, "depth": 3}
    torch.manual_seed(0)
    model = build_model(train_config).eval()
    state = checkpoint_state(model, train_config, seed=0, epoch=0)
    save_checkpoint(path, state)


def test_cli_writes_profiles_and_is_deterministic(tmp_path):
    checkpoint = tmp_path / "model.pt"
    tiny_checkpoint(checkpoint)
    image = tmp_path / "coffee.png"
    write_png(image, np.ascontiguousarray(data.coffee()[:150, :170]))
    outputs = []
    for run in ("a", "b"):
        command = [sys.executable, "-m", "vvcjnd", "infer", "--checkpoint", str(checkpoint)]
        command += [str(image), "-o", str(tmp_path / run), "--threads", "1", "--sign", "negative"]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        assert "PSNR" in done.stdout
        outputs.append((tmp_path / run / "coffee_jnd.png").read_bytes())
    assert outputs[0] == outputs[1]
    jnd = read_png(tmp_path / "a" / "coffee_jnd.png")
    assert jnd.shape == (150, 170)
    summary = json.loads((tmp_path / "a" / "coffee_summary.json").read_text())
    assert summary["sign"] == -1 and summary["n_patches"] == 12  # 3 x 4 grid, border covered
    assert 15 < summary["psnr_db"] < 60
    jnd_map = np.load(tmp_path / "a" / "coffee_jnd_map.npy")
    assert jnd_map.shape == (150, 170) and jnd_map.min() >= 0 and jnd_map.mean() > 0


def test_cli_reports_a_missing_checkpoint(tmp_path):
    command = [sys.executable, "-m", "vvcjnd", "infer", "--checkpoint", str(tmp_path / "no.pt")]
    command += [str(tmp_path / "x.png"), "-o", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode != 0 and "checkpoint not found" in done.stderr
