import pytest
import torch

from cir.engine import Trainer, TrainSettings
from cir.methods import get_method
from cir.models import build_model

TINY = dict(n_resgroups=1, n_resblocks=1, n_feats=8, reduction=4)
OPTS = {"encoder_stand_in": True, "history_schedule": [[0, 2]], "num_negatives": 3}


def models(seed=0):
    torch.manual_seed(seed)
    return build_model("rcan", 2, **TINY), build_model("rcan", 2, **TINY)


def batch():
    g = torch.Generator().manual_seed(1)
    gt = torch.rand(2, 3, 32, 32, generator=g)
    return {"lq": torch.nn.functional.avg_pool2d(gt, 2), "gt": gt}


def test_training_step_terms_and_gradients():
    student, teacher = models()
    m = get_method("dckd")(student, teacher, OPTS)
    assert m.stand_ins and "random initialisation" in m.stand_ins[0]
    b = batch()
    lq = b["lq"].clone()
    terms = m.training_step(b, 0)
    assert list(terms) == ["rec", "kd", "dcl", "ce"]
    assert all(torch.isfinite(v) and v > 0 for v in terms.values())
    sum(terms.values()).backward()
    assert all(p.grad is not None for p in student.parameters() if p.requires_grad)
    for frozen in (teacher, m.encoder, m.history.model):
        assert all(p.grad is None and not p.requires_grad for p in frozen.parameters())
    assert torch.equal(b["lq"], lq)


def test_negatives_carry_no_gradient_and_are_batched():
    student, teacher = models()
    m = get_method("dckd")(student, teacher, OPTS)
    negs = m.negatives(batch()["lq"])
    assert negs.shape == (3 * 2, 3, 32, 32) and not negs.requires_grad


@pytest.mark.parametrize("dcr,dmm", [(False, True), (True, False), (False, False)])
def test_components_switch_off(dcr, dmm):
    student, teacher = models()
    m = get_method("dckd")(student, teacher, {**OPTS, "dcr": dcr, "dmm": dmm})
    terms = m.training_step(batch(), 0)
    assert (terms["dcl"] > 0) == dcr and (terms["ce"] > 0) == dmm
    assert (m.history is None) == (not dcr)
    assert (m.encoder is None) == (not dcr and not dmm)


def test_missing_encoder_weights_without_explicit_stand_in_is_an_error(tmp_path):
    student, teacher = models()
    with pytest.raises(Exception, match="vqgan_imagenet_f16_1024.ckpt"):
        get_method("dckd")(student, teacher, {"encoder_weights": str(tmp_path / "vqgan_imagenet_f16_1024.ckpt")})


def test_killed_dckd_run_resumes_with_history_intact(tmp_path, random_pairs):
    def trainer(run, sampler):
        student, teacher = models()
        m = get_method("dckd")(student, teacher, OPTS)
        s = TrainSettings(iterations=6, batch_size=2, optimizer={"name": "adam", "lr": 1e-3},
                          scheduler={"name": "constant"}, checkpoint_every=2, val_every=100, log_every=1,
                          tensorboard=False, progress=False, device="cpu")
        return Trainer(m, sampler, s, run)

    full = trainer(tmp_path / "full", random_pairs(patch=16))
    full.fit(tmp_path / "full.pt")
    killed = trainer(tmp_path / "k", random_pairs(patch=16, fail_at=5))
    with pytest.raises(KeyboardInterrupt):
        killed.fit(tmp_path / "k.pt")
    resumed = trainer(tmp_path / "k", random_pairs(patch=16))
    resumed.fit(tmp_path / "k.pt")
    a, b = torch.load(tmp_path / "full.pt", weights_only=False), torch.load(tmp_path / "k.pt", weights_only=False)
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    ha, hb = full.method.history.state_dict(), resumed.method.history.state_dict()
    assert ha["num_updates"] == hb["num_updates"] == 3  # steps 2, 4, 6
    for k in ha["model"]:
        assert torch.equal(ha["model"][k], hb["model"][k]), k


def test_narrow_stand_in_encoder_is_recorded():
    student, teacher = models()
    m = get_method("dckd")(student, teacher, {**OPTS, "encoder_stand_in_ch": 32})
    assert m.encoder.feature_channels == (32, 32, 64, 64, 128)
    assert "width ch=32 instead of 128" in m.stand_ins[0]
    assert torch.isfinite(sum(m.training_step(batch(), 0).values()))


def test_iteration_scale_shortens_history_schedule_and_ema_horizon():
    from cir.methods.dckd import scaled_schedule

    assert scaled_schedule([[0, 1000], [100000, 2000], [200000, 3000]], 600 / 250000) == [[0, 2], [240, 5], [480, 7]]
    assert scaled_schedule([[0, 1000], [100000, 2000]], 1.0) == [[0, 1000], [100000, 2000]]
    student, teacher = models()
    m = get_method("dckd")(student, teacher, {**OPTS, "history_schedule": [[0, 1000]], "iteration_scale": 0.002})
    assert m.history.schedule == [(0, 2)]
    assert m.source_ema.decay == pytest.approx(0.999 ** 500)


def test_train_job_options_scale_with_the_preset():
    from cir import config as cfgmod
    from cir.jobs.train import method_options
    from cir.spec import job_spec

    cfg = cfgmod.load_and_validate()
    demo = cfgmod.preset(cfg, "demo")
    opts = method_options(job_spec(cfg, "demo", "x4", "rcan", "dckd"), None)
    # the recipe's length (demo: rcan's recipe shortens Table 2's students), not the preset default
    assert opts["iteration_scale"] == demo["recipes"]["rcan"]["student_iterations"] / 250000 == 200 / 250000
    assert opts["encoder_stand_in"] is True and opts["encoder_weights"] is None
    weights = "data/weights/vqgan_imagenet_f16_1024.ckpt"
    opts = method_options(job_spec(cfg, "paper", "x4", "rcan", "dckd"), weights)
    assert opts["iteration_scale"] == 1.0 and opts["encoder_stand_in"] is False
    assert opts["encoder_weights"] == weights
