"""Cria-CL's training method (cir/methods/criacl.py): the generator and discriminator phases against
hand-written arithmetic, the Table V/VI switches, the two trainable groups in the trainer, and an
exact resume with the discriminator's weights and optimiser."""

from __future__ import annotations

import csv
import math

import pytest
import torch
import torch.nn.functional as F

from cir.engine import Trainer, TrainSettings
from cir.errors import ConfigError
from cir.losses.criacl import ragan_discriminator_loss, ragan_generator_loss
from cir.methods import get_method
from cir.models import build_model

D_SMALL = {"ndf": 8, "n_layers": 2, "norm": "batch"}
BASE = {"encoder_stand_in": True, "encoder_stand_in_divisor": 8, "discriminator": D_SMALL}


def method(head="paper", scale=4, **options):
    torch.manual_seed(0)
    student = build_model("criacl", scale, nf=8, nb=1, gc=4, head=head)
    return get_method("criacl")(student, None, {**BASE, **options})


def batch(scale=4, seed=1):
    g = torch.Generator().manual_seed(seed)
    gt = torch.rand(2, 3, 8 * scale, 8 * scale, generator=g)
    return {"lq": F.avg_pool2d(gt, scale) if scale > 1 else gt.flip(-1), "gt": gt}


def _l1(a, b):
    return (a - b).abs().mean()


def test_code_assignment_is_the_public_training_step():
    """SRGAN_al_model's G step written out: l_pix2 + l_fea + l_gan1 + 0.01 (l_pix2 - l_fea)^2
    + w_unif * -log sum_n exp(-2 (l_pix + n)^2), criteria = the weighted losses, no masks."""
    m = method(head="code", assignment="code", pix_loss="l1", w_unif=1e-3, masked_criteria=False)
    b = batch()
    out = m.phase("g", b, 0, {})
    with torch.no_grad():
        fake, out1, out2 = m.student(b["lq"], branches=True)
        real = m.discriminator(b["gt"])
        vgg = m.encoder
        k = m.layers.index("conv5_4")
        l_pix = 0.01 * _l1(fake, b["gt"])
        l_pix2 = 0.01 * _l1(out2, b["gt"])
        l_fea = 1.0 * _l1(vgg(fake)[k], vgg(b["gt"])[k])
        gans = [0.005 * ragan_generator_loss(real, m.discriminator(x)) for x in (fake, out1, out2)]
        align = 0.01 * (l_pix2 - l_fea) ** 2
        unif = 1e-3 * -torch.log(sum(torch.exp(-2 * (l_pix + n) ** 2) for n in gans))
    got = {k: float(v.detach()) for k, v in out.losses.items()}
    assert got == pytest.approx({"pix": float(l_pix2), "per": float(l_fea), "adv": float(gans[1]),
                                 "align": float(align), "unif": float(unif)}, rel=1e-5, abs=1e-9)
    assert float(out.logs["c_pix_fused"]) == pytest.approx(float(l_pix), rel=1e-5)   # the anchor: logged only
    assert float(out.logs["c_gan_align"]) == pytest.approx(float(gans[2]), rel=1e-5)


def test_paper_assignment_criteria_and_masks():
    m = method(head="paper")
    b = batch()
    out = m.phase("g", b, 0, {})
    with torch.no_grad():
        p = m.student(b["lq"], parts=True)
        s = p["mask_align"]
        w = s.expand_as(p["align"])
        anchor = float((w * (p["align"] - b["gt"]) ** 2).sum() / w.sum())   # masked Euclidean criterion
        l_pix = float(((p["out"] - b["gt"]) ** 2).mean())
    assert float(out.logs["c_anchor_align"]) == pytest.approx(anchor, rel=1e-5)
    assert float(out.losses["pix"]) == pytest.approx(0.01 * l_pix, rel=1e-5)
    # eq. (8)/(9) on the logged criteria, weighted by lambda_a = lambda_u = 0.01
    c = {k: float(v) for k, v in out.logs.items()}
    align = (c["c_anchor_align"] - c["c_ssim"]) ** 2 + (c["c_anchor_align"] - c["c_perc_b"]) ** 2
    unif = -math.log(math.exp(-2 * (c["c_anchor_unif"] + c["c_perc_t"]) ** 2)
                     + math.exp(-2 * (c["c_anchor_unif"] + c["c_adv_unif"]) ** 2))
    assert float(out.losses["align"]) == pytest.approx(0.01 * align, rel=1e-4)
    assert float(out.losses["unif"]) == pytest.approx(0.01 * unif, rel=1e-4)
    assert 0 <= c["c_ssim"] <= 2


def test_switches_of_tables_v_and_vi():
    b = batch()
    wsum = method(head="none", align=False, unif=False).phase("g", b, 0, {})
    assert set(wsum.losses) == {"pix", "per", "adv"} and not wsum.logs          # eq. (2) only
    only_unif = method(head="none", align=False).phase("g", b, 0, {})
    assert set(only_unif.losses) == {"pix", "per", "adv", "unif"}
    # without branches I_align = I_unif = I_SR: both anchors are the same criterion
    assert float(only_unif.logs["c_anchor_align"]) == pytest.approx(float(only_unif.logs["c_anchor_unif"]))
    adv = method(anchor="adv").phase("g", b, 0, {})
    assert float(adv.logs["c_anchor_unif"]) == pytest.approx(float(adv.logs["c_adv_unif"]))
    per = method(anchor="per", head="none").phase("g", b, 0, {})
    assert float(per.losses["per"]) == pytest.approx(float(per.logs["c_anchor_align"]), rel=1e-5)


def test_discriminator_phase_is_ragan_on_the_detached_output():
    m = method()
    b = batch()
    context = {}
    m.phase("g", b, 0, context)
    assert not context["fake"].requires_grad
    d = m.phase("d", b, 0, context)
    with torch.no_grad():
        expected = ragan_discriminator_loss(m.discriminator(b["gt"]), m.discriminator(context["fake"]))
    assert float(d.losses["d"]) == pytest.approx(float(expected), rel=1e-5)
    assert set(d.logs) == {"d_real", "d_fake"}


def test_bad_options_name_the_key():
    with pytest.raises(ConfigError, match=r"options\.anchor: the public code's step anchors on the pixel loss"):
        method(assignment="code", anchor="per")
    with pytest.raises(ConfigError, match=r"options\.discriminator: .*'width'"):
        method(discriminator={"width": 3})
    with pytest.raises(ConfigError, match=r"options\.bottom_layers: .*VGG19 layer names"):
        method(bottom_layers=["conv9_9"])


def _trainer(run_dir, sampler, **kw):
    m = method(head="paper")
    settings = TrainSettings(iterations=4, batch_size=2, optimizer={"name": "adam", "lr": 1e-3, "betas": [0.9, 0.999]},
                             scheduler={"name": "multistep", "milestones": [2], "gamma": 0.5}, checkpoint_every=1,
                             val_every=100, log_every=1, tensorboard=False, progress=False, device="cpu", **kw)
    return Trainer(m, sampler, settings, run_dir)


def test_two_groups_train_and_the_log_has_the_criteria(tmp_path, random_pairs):
    t = _trainer(tmp_path / "run", random_pairs(scale=4, patch=8))
    g0 = {k: v.clone() for k, v in t.student.state_dict().items()}
    d0 = {k: v.clone() for k, v in t.method.discriminator.state_dict().items()}
    t.fit(tmp_path / "model.pt")
    assert set(t.optimizers) == {"g", "d"}
    assert any(not torch.equal(g0[k], v) for k, v in t.student.state_dict().items())
    assert any(not torch.equal(d0[k], v) for k, v in t.method.discriminator.state_dict().items())
    with open(tmp_path / "run" / "train_log.csv") as f:
        rows = list(csv.DictReader(f))
    assert {"loss", "loss_d", "pix", "per", "adv", "align", "unif", "c_anchor_align", "c_adv_unif",
            "d_real", "d_fake"} <= set(rows[0])
    last = rows[-1]
    total = sum(float(last[k]) for k in ("pix", "per", "adv", "align", "unif"))
    assert float(last["loss"]) == pytest.approx(total, rel=1e-4)        # the criteria are logged, not summed


def test_killed_run_resumes_with_the_discriminator_exactly(tmp_path, random_pairs):
    full = _trainer(tmp_path / "full", random_pairs(scale=4, patch=8))
    full.fit(tmp_path / "full.pt")
    killed = _trainer(tmp_path / "killed", random_pairs(scale=4, patch=8, fail_at=2))
    with pytest.raises(KeyboardInterrupt):
        killed.fit(tmp_path / "killed.pt")
    restarted = _trainer(tmp_path / "killed", random_pairs(scale=4, patch=8))
    restarted.fit(tmp_path / "killed.pt")
    for a, b in ((full.student, restarted.student), (full.method.discriminator, restarted.method.discriminator)):
        sa, sb = a.state_dict(), b.state_dict()   # weights and the BatchNorm statistics
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    oa, ob = full.optimizers["d"].state_dict()["state"], restarted.optimizers["d"].state_dict()["state"]
    assert oa and all(torch.equal(oa[i]["exp_avg_sq"], ob[i]["exp_avg_sq"]) for i in oa)
