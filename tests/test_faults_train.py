"""workflow_scripts/train.py ends bad input with one line naming the culprit and exit code 2."""

from __future__ import annotations

import subprocess

import pytest
from _train_cli import env, train_cmd, write_config, write_pairs


@pytest.mark.slow
def test_a_corrupt_training_image_is_named_in_one_line(tmp_path):
    pairs = write_pairs(tmp_path / "pairs", n=3, lr_size=16)
    bad = pairs / "HR" / "img1.png"
    bad.write_bytes(bad.read_bytes()[:100])               # a truncated PNG
    cfg = write_config(tmp_path / "config.yaml", student_iterations=4, batch_size=2, lr_patch=8)
    out = tmp_path / "run" / "model.pt"
    proc = subprocess.run(train_cmd(cfg, pairs, out), capture_output=True, text=True, env=env(), timeout=300,
                          check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and str(bad) in errors[0], proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert not out.exists()


@pytest.mark.slow
def test_a_missing_spec_file_is_named(tmp_path):
    pairs = write_pairs(tmp_path / "pairs", n=2, lr_size=16)
    cfg = write_config(tmp_path / "config.yaml")
    cmd = train_cmd(cfg, pairs, tmp_path / "run" / "model.pt")
    cmd[cmd.index("--spec") + 1] = str(tmp_path / "nope" / "spec.json")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env(), timeout=300, check=False)
    assert proc.returncode == 2 and "nope/spec.json: cannot read the job spec" in proc.stderr
    assert "Traceback" not in proc.stderr
