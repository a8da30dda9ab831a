"""Preemption: SIGTERM / SIGUSR1 stop training after the current step with a checkpoint and exit
code 75; the same command started again resumes and ends with the uninterrupted run's weights."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest
import torch
from _train_cli import env, train_cmd, train_smoke, wait_for_step, write_config, write_pairs

from cir.engine import Trainer, TrainSettings
from cir.engine import checkpoint as ckpt
from cir.engine.preempt import PREEMPT_EXIT_CODE, Preempted
from cir.methods import get_method
from cir.models import build_model


class SignalAt:
    """A deterministic sampler (batch = f(seed, step)) that sends ``signum`` to this process
    while it prepares the batch of step ``at``: the signal arrives in the middle of a step."""

    def __init__(self, at=None, signum=signal.SIGTERM):
        self.at, self.signum = at, signum

    def batch(self, step, rank=0, world_size=1):
        if step == self.at:
            os.kill(os.getpid(), self.signum)
        g = torch.Generator().manual_seed(1000 + step)
        gt = torch.rand(2, 3, 16, 16, generator=g)
        return {"lq": torch.nn.functional.avg_pool2d(gt, 2), "gt": gt}


def make_trainer(run_dir, sampler):
    torch.manual_seed(0)
    student = build_model("rcan", 2, n_resgroups=1, n_resblocks=1, n_feats=8, reduction=4)
    settings = TrainSettings(iterations=8, batch_size=2, optimizer={"name": "adam", "lr": 1e-3},
                             scheduler={"name": "multistep", "milestones": [4], "gamma": 0.5},
                             ema_decay=0.9, checkpoint_every=100, val_every=100, log_every=1,
                             tensorboard=False, progress=False, device="cpu")
    return Trainer(get_method("supervised")(student, None, {}), sampler, settings, run_dir)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGUSR1], ids=["SIGTERM", "SIGUSR1"])
def test_signal_stops_after_the_step_with_a_checkpoint(tmp_path, signum):
    full = make_trainer(tmp_path / "full", SignalAt())
    full.fit(tmp_path / "full.pt")

    before = signal.getsignal(signum)
    t = make_trainer(tmp_path / "run", SignalAt(at=3, signum=signum))
    with pytest.raises(Preempted) as info:
        t.fit(tmp_path / "run.pt")
    # step 3 (0-based) was under way when the signal came: it finishes, then the job stops
    assert info.value.step == 4 and info.value.signum == signum
    assert signal.getsignal(signum) == before  # the trainer's handler is gone again
    assert not (tmp_path / "run.pt").exists()
    assert ckpt.load(tmp_path / "run" / "checkpoints" / "last.pt")["step"] == 4  # checkpoint_every is 100

    resumed = make_trainer(tmp_path / "run", SignalAt())
    resumed.fit(tmp_path / "run.pt")
    a = torch.load(tmp_path / "full.pt", weights_only=False)
    b = torch.load(tmp_path / "run.pt", weights_only=False)
    for part in ("model", "ema"):
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), (part, k)


def test_signal_after_the_last_step_finishes_normally(tmp_path):
    t = make_trainer(tmp_path / "run", SignalAt(at=7))  # the last step (0-based 7 of 8)
    t.fit(tmp_path / "run.pt")
    assert (tmp_path / "run.pt").exists()


@pytest.mark.slow
def test_cli_exit_code_and_resume(tmp_path):
    """workflow_scripts/train.py gets SIGTERM once it is stepping: exit code 75 and a checkpoint;
    started again it resumes and writes the weights of an uninterrupted run."""
    steps = 400
    pairs = write_pairs(tmp_path / "pairs" / "x2", n=3, lr_size=16)
    cfg = write_config(tmp_path / "config.yaml", student_iterations=steps, batch_size=2, lr_patch=8,
                       ema_decay=0.5, seed=2)
    out = tmp_path / "run" / "model.pt"
    cmd = train_cmd(cfg, pairs, out)
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        wait_for_step(proc, out.parent / "train_log.csv", 2)
        proc.send_signal(signal.SIGTERM)
        log, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == PREEMPT_EXIT_CODE, log[-3000:]
    step = ckpt.load(out.parent / "checkpoints" / "last.pt")["step"]
    assert 2 <= step < steps
    assert f"SIGTERM: stopped after step {step}" in log
    assert not out.exists()

    done = subprocess.run(cmd, check=False, cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"at step {step}" in done.stderr

    ref = train_smoke(cfg, tmp_path / "full" / "model.pt", train_dirs=[pairs], val_dir=None, threads=1,
                      device="cpu", progress=False)
    a = torch.load(out, weights_only=False)
    b = torch.load(ref, weights_only=False)
    for part in ("model", "ema"):
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), (part, k)
