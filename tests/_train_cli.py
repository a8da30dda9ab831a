"""Helpers of the tests that run workflow_scripts/train.py as a subprocess (DDP, preemption,
staging): a pair folder of random images, a config derived from the smoke preset, waiting for
a training log to reach a step."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from cir.data.images import write_image

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT / "workflow_scripts" / "train.py"


def write_pairs(directory: Path, n: int = 3, scale: int = 2, lr_size: int = 20, seed: int = 0) -> Path:
    """A prepared pair folder (LR/, HR/, manifest.json) of ``n`` random images."""
    import json

    rng = np.random.default_rng(seed)
    for i in range(n):
        hr = rng.integers(0, 256, size=(lr_size * scale, lr_size * scale, 3), dtype=np.uint8)
        lr = hr.reshape(lr_size, scale, lr_size, scale, 3).mean(axis=(1, 3)).round().astype(np.uint8)
        write_image(directory / "HR" / f"img{i}.png", hr)
        write_image(directory / "LR" / f"img{i}.png", lr)
    (directory / "manifest.json").write_text(json.dumps({"scale": scale, "images": n}))
    return directory


def write_config(path: Path, **train) -> Path:
    """config.yaml with the smoke preset's training settings overridden by ``train``."""
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    smoke = cfg["presets"]["smoke"]
    smoke["train"].update({"checkpoint_every": 100000, "val_every": 100000, "log_every": 1, **train})
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def write_job_spec(config: Path, out: Path, experiment: str = "scratch", task: str = "x2",
                   backbone: str = "rcan") -> Path:
    """The spec of a smoke-preset job, written as ``spec.json`` beside the model file ``out``."""
    from cir import config as cfgmod
    from cir import spec

    cfg = cfgmod.load_and_validate(config)
    return spec.write_spec(Path(out).parent / "spec.json", spec.job_spec(cfg, "smoke", task, backbone, experiment))


def train_cmd(config: Path, train_dir: Path, out: Path, *extra: str, experiment: str = "scratch") -> list[str]:
    spec = write_job_spec(config, out, experiment)
    return [sys.executable, str(TRAIN), "--spec", str(spec), "--train-dir", str(train_dir),
            "--out", str(out), "--threads", "1", "--device", "cpu", *extra]


def train_smoke(config: Path, out: Path, experiment: str = "scratch", **kwargs):
    """train_job in this process for a smoke-preset job (spec written beside ``out``)."""
    from cir.jobs.train import train_job

    return train_job(spec_path=write_job_spec(config, out, experiment), out=out, **kwargs)


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def logged_steps(log: Path) -> list[int]:
    if not log.exists():
        return []
    with log.open(newline="") as f:
        return [int(r["step"]) for r in csv.DictReader(f) if r.get("step")]


def wait_for_step(proc: subprocess.Popen, log: Path, step: int, timeout: float = 120.0) -> None:
    """Return once ``log`` (train_log.csv) records ``step``; fail if the process ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        steps = logged_steps(log)
        if steps and steps[-1] >= step:
            return
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"training ended (exit {proc.returncode}) before step {step} was logged:\n{out[-3000:]}")
        time.sleep(0.02)
    proc.kill()
    raise AssertionError(f"{log} did not reach step {step} within {timeout} s")
