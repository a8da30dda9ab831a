"""The engine's critic path, proved with the small adversarial method of tests/_adversarial.py:
two trainable groups (generator g, critic d), one phase each per step, per-group optimiser
settings, logged-only values, and exact resume with the critic's state."""

from __future__ import annotations

import csv

import pytest
import torch
from _adversarial import TinyAdversarial

from cir import config as cfgmod
from cir.engine import Trainer, TrainSettings
from cir.errors import ConfigError
from cir.methods import get_method
from cir.models import build_model

D_OPT = {"name": "adam", "lr": 5e-4, "betas": [0.5, 0.999]}


def trainer(run_dir, sampler, **kw):
    torch.manual_seed(0)
    student = build_model("rcan", 2, n_resgroups=1, n_resblocks=1, n_feats=8, reduction=4)
    method = get_method("tiny_adversarial")(student, None, {})
    settings = TrainSettings(iterations=4, batch_size=2, optimizer={"name": "adam", "lr": 1e-3},
                             scheduler={"name": "multistep", "milestones": [2], "gamma": 0.5},
                             checkpoint_every=1, val_every=100, log_every=1, tensorboard=False, progress=False,
                             device="cpu", groups={"d": {"optimizer": D_OPT, "scheduler": {"name": "constant"}}},
                             **kw)
    return Trainer(method, sampler, settings, run_dir)


def test_each_group_trains_with_its_own_optimiser(tmp_path, random_pairs):
    t = trainer(tmp_path / "run", random_pairs())
    student0 = {k: v.clone() for k, v in t.student.state_dict().items()}
    critic0 = {k: v.clone() for k, v in t.method.critic.state_dict().items()}
    t.fit(tmp_path / "model.pt")
    assert isinstance(t.method, TinyAdversarial)
    assert set(t.optimizers) == {"g", "d"}
    # g: multistep from 1e-3 halved at step 2; d: its own constant 5e-4 with its own betas
    assert t.optimizers["g"].param_groups[0]["lr"] == pytest.approx(5e-4)
    assert t.optimizers["d"].param_groups[0]["lr"] == 5e-4 and t.optimizers["d"].param_groups[0]["betas"] == (0.5, 0.999)
    assert {id(p) for p in t.optimizers["d"].param_groups[0]["params"]} == {id(p) for p in t.method.critic.parameters()}
    assert any(not torch.equal(student0[k], v) for k, v in t.student.state_dict().items())
    assert any(not torch.equal(critic0[k], v) for k, v in t.method.critic.state_dict().items())
    # the critic is not part of the student's model file; its state is in the checkpoint
    final = torch.load(tmp_path / "run" / "checkpoints" / "final.pt", weights_only=False)
    assert set(final["optimizers"]) == {"g", "d"} and len(final["trainable"]["d"]) == 1
    with open(tmp_path / "run" / "train_log.csv") as f:
        rows = list(csv.DictReader(f))
    assert {"loss", "loss_d", "rec", "adv", "d_real", "d_fake", "d_acc"} <= set(rows[0])
    assert float(rows[-1]["loss_d"]) == pytest.approx(float(rows[-1]["d_real"]) + float(rows[-1]["d_fake"]), rel=1e-5)
    assert 0.0 <= float(rows[-1]["d_acc"]) <= 1.0


def test_generator_phase_leaves_the_critic_without_gradients(random_pairs, tmp_path):
    t = trainer(tmp_path / "run", random_pairs())
    seen = {}
    real_phase = t.method.phase

    def spy(group, batch, step, context):
        out = real_phase(group, batch, step, context)
        seen[group] = [p.requires_grad for p in t.method.critic.parameters()]
        return out

    t.method.phase = spy
    t.train_step()
    assert seen == {"g": [False] * 4, "d": [True] * 4}
    assert all(p.requires_grad for p in t.method.critic.parameters())


def test_killed_run_resumes_with_the_critic_state(tmp_path, random_pairs):
    full = trainer(tmp_path / "full", random_pairs())
    full.fit(tmp_path / "full.pt")
    killed = trainer(tmp_path / "killed", random_pairs(fail_at=2))
    with pytest.raises(KeyboardInterrupt):
        killed.fit(tmp_path / "killed.pt")
    restarted = trainer(tmp_path / "killed", random_pairs())
    restarted.fit(tmp_path / "killed.pt")
    for a, b in ((full.student, restarted.student), (full.method.critic, restarted.method.critic)):
        sa, sb = a.state_dict(), b.state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    oa, ob = full.optimizers["d"].state_dict()["state"], restarted.optimizers["d"].state_dict()["state"]
    assert all(torch.equal(oa[i]["exp_avg"], ob[i]["exp_avg"]) for i in oa)


def test_config_check_knows_the_groups_of_a_registered_method():
    cfg = cfgmod.load_and_validate()
    cfg["experiments"]["gan"] = {"method": "tiny_adversarial", "role": "student", "options": {"w_adv": 0.05},
                                 "groups": {"d": {"optimizer": D_OPT}}}
    cfgmod.validate(cfg)
    cfg["experiments"]["gan"]["groups"] = {"critic": {"grad_clip": 1.0}}
    with pytest.raises(ConfigError, match=r"experiments\.gan\.groups\.critic: method 'tiny_adversarial' has no "
                                          r"trainable group 'critic'; its groups: g, d"):
        cfgmod.validate(cfg)
