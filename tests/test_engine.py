import csv

import pytest
import torch

from cir.engine import Trainer, TrainSettings
from cir.engine.ema import ModelEMA
from cir.methods import get_method
from cir.models import build_model, load_model_file


def tiny(arch="rcan", seed=0):
    torch.manual_seed(seed)
    if arch == "rcan":
        return build_model("rcan", 2, n_resgroups=1, n_resblocks=1, n_feats=8, reduction=4)
    return build_model("swinir", 2, embed_dim=6, depths=[1], num_heads=[2], window_size=4)


def settings(**kw):
    base = dict(iterations=6, batch_size=2, optimizer={"name": "adam", "lr": 1e-3, "betas": [0.9, 0.99]},
                scheduler={"name": "multistep", "milestones": [3], "gamma": 0.5}, checkpoint_every=2,
                val_every=3, log_every=1, tensorboard=False, progress=False, device="cpu")
    base.update(kw)
    return TrainSettings(**base)


def make_trainer(run_dir, sampler, method="supervised", arch="rcan", ema=0.0, **kw):
    student = tiny(arch)
    teacher = tiny(arch, seed=1) if method == "logits" else None
    m = get_method(method)(student, teacher, {})
    return Trainer(m, sampler, settings(ema_decay=ema, **kw), run_dir,
                   validate=lambda model: {"psnr": 1.0, "ssim": 0.5})


@pytest.mark.parametrize("method,arch,ema", [("supervised", "rcan", 0.0), ("logits", "swinir", 0.9)])
def test_killed_job_resumes_to_identical_weights(tmp_path, random_pairs, method, arch, ema):
    full = make_trainer(tmp_path / "full", random_pairs(), method, arch, ema)
    full.fit(tmp_path / "full.pt")

    killed = make_trainer(tmp_path / "killed", random_pairs(fail_at=5), method, arch, ema)
    with pytest.raises(KeyboardInterrupt):
        killed.fit(tmp_path / "killed.pt")
    assert not (tmp_path / "killed.pt").exists()
    restarted = make_trainer(tmp_path / "killed", random_pairs(), method, arch, ema)
    restarted.fit(tmp_path / "killed.pt")
    assert restarted.timings["train_seconds"] > 0

    a = torch.load(tmp_path / "full.pt", weights_only=False)
    b = torch.load(tmp_path / "killed.pt", weights_only=False)
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    if ema:
        for k in a["ema"]:
            assert torch.equal(a["ema"][k], b["ema"][k]), k
    # the log holds each step once after the resume
    with open(tmp_path / "killed" / "train_log.csv") as f:
        steps = [int(r["step"]) for r in csv.DictReader(f)]
    assert steps == list(range(1, 7))


def test_model_file_rebuilds_the_network(tmp_path, random_pairs):
    t = make_trainer(tmp_path / "run", random_pairs())
    out = t.fit(tmp_path / "model.pt")
    model = load_model_file(out, expect_arch="rcan", expect_scale=2)
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(model(x), t.student.eval()(x))
    with pytest.raises(Exception, match="expected x3"):
        load_model_file(out, expect_scale=3)


def test_checkpoint_from_other_settings_is_not_resumed(tmp_path, random_pairs):
    t = make_trainer(tmp_path / "run", random_pairs(fail_at=5))
    with pytest.raises(KeyboardInterrupt):
        t.fit(tmp_path / "m.pt")
    t2 = Trainer(get_method("supervised")(tiny(), None, {}), random_pairs(),
                 settings(optimizer={"name": "adam", "lr": 5e-4}), tmp_path / "run")
    assert t2.try_resume() is False
    assert list((tmp_path / "run" / "checkpoints").glob("stale-*.pt"))


def test_ema_update_is_lerp():
    m = torch.nn.Linear(2, 2)
    ema = ModelEMA(m, 0.75)
    before = ema.shadow.weight.clone()
    with torch.no_grad():
        m.weight.add_(1.0)
    ema.update(m)
    assert torch.allclose(ema.shadow.weight, 0.75 * before + 0.25 * m.weight)


def test_lr_schedule_follows_milestones(tmp_path, random_pairs):
    t = make_trainer(tmp_path / "run", random_pairs(), iterations=4, checkpoint_every=4)
    t.fit(tmp_path / "m.pt")
    with open(tmp_path / "run" / "train_log.csv") as f:
        lrs = [float(r["lr"]) for r in csv.DictReader(f)]
    assert lrs == pytest.approx([1e-3, 1e-3, 5e-4, 5e-4])


def test_method_rejects_unknown_option():
    with pytest.raises(Exception, match="unknown option.*'w_foo'.*allowed keys: w_kd, w_rec"):
        get_method("logits")(tiny(), tiny(), {"w_foo": 1}, where="experiments.logits.options")


def test_logits_needs_teacher_and_unknown_method_lists_names():
    with pytest.raises(Exception, match=r"needs teacher network\(s\) \['teacher'\]"):
        get_method("logits")(tiny(), None, {})
    with pytest.raises(KeyError, match="valid methods: criacl, dckd, dckd_star, drcnet_cr, fakd, logits, mipkd, spn, supervised"):
        get_method("dckdd")


def test_teacher_gets_no_gradient_and_input_is_untouched(random_pairs):
    student, teacher = tiny("rcan"), tiny("rcan", seed=1)
    m = get_method("logits")(student, teacher, {})
    batch = random_pairs().batch(0)
    lq_before = batch["lq"].clone()
    terms = m.training_step(batch, 0)
    sum(terms.values()).backward()
    assert all(p.grad is None for p in teacher.parameters())
    assert any(p.grad is not None for p in student.parameters())
    assert torch.equal(batch["lq"], lq_before)
