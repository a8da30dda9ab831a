"""DRCNet's contrastive regularisation: Intra-CR / Extra-CR negatives, the ratio, the method drcnet_cr."""

import csv

import pytest
import torch
from torch import nn

from cir.encoders.vgg import MissingVGGWeightsError, layer_names
from cir.engine import Trainer, TrainSettings
from cir.errors import ConfigError
from cir.losses import drcnet as cr_loss
from cir.losses import l1
from cir.losses.drcnet import contrastive_regularisation, cr_negatives, extra_negatives, intra_negatives
from cir.methods import METHOD_NAMES, get_method
from cir.methods.catalog import METHOD_ASSETS, defaults
from cir.models import build_model

TINY_VGG = {"encoder_stand_in": True, "encoder_stand_in_divisor": 16}
TINY_DRCNET = {"width": 8, "depth": 2}
TINY_NAFNET = {"width": 8, "enc_blk_nums": [1, 1], "middle_blk_num": 1, "dec_blk_nums": [1, 1]}


def img(*values):
    """A [1, 1, 1, W] float64 'image' holding ``values``."""
    return torch.tensor(values, dtype=torch.float64).view(1, 1, 1, -1)


def drcnet(seed=0):
    torch.manual_seed(seed)
    return build_model("drcnet", 1, **TINY_DRCNET)


def method(student=None, **options):
    return get_method("drcnet_cr")(student if student is not None else drcnet(), None, {**TINY_VGG, **options})


def pair(seed=1, b=2, size=16):
    g = torch.Generator().manual_seed(seed)
    gt = torch.rand(b, 3, size, size, generator=g)
    lq = (gt + 0.2 * torch.randn(b, 3, size, size, generator=g)).clamp(0, 1)
    return {"lq": lq, "gt": gt}


class Pairs:
    """Scale-1 pairs for the trainer: batch(step) is a noisy copy of a random clean patch."""

    def __init__(self, batch_size=2, patch=16):
        self.batch_size, self.patch = batch_size, patch

    def batch(self, step, rank=0, world_size=1):
        return pair(seed=step, b=self.batch_size, size=self.patch)


class TwoLevels(nn.Module):
    """An 'encoder' with known features: level 1 = x, level 2 = 2 x."""

    def __init__(self):
        super().__init__()
        self.calls = []   # (batch size, inference mode) per call

    def forward(self, x):
        self.calls.append((x.shape[0], torch.is_inference_mode_enabled()))
        return [x, 2 * x]


class Staged(nn.Module):
    """A two-stage 'network' with known outputs: (base + a, base + b), whatever the input."""

    def __init__(self, base, a=0.1, b=-0.2):
        super().__init__()
        self.register_buffer("base", base)
        self.a = nn.Parameter(torch.tensor(a, dtype=torch.float64))
        self.b = nn.Parameter(torch.tensor(b, dtype=torch.float64))

    def forward(self, x, stages=False):
        out = (self.base + self.a + 0 * x, self.base + self.b + 0 * x)
        return out if stages else out[1]


# -- the pure loss -----------------------------------------------------------------------------
def test_defaults_are_the_public_codes_and_the_method_is_registered():
    d = defaults("drcnet_cr")
    assert d["cr"] == "intra" and d["w_cr"] == 0.05 and d["loss_weight"] == 1.0
    assert d["stage_weights"] == [1.0, 1.0]
    assert d["mix_weights"] == list(cr_loss.INTRA_MIX_WEIGHTS) == [1.0, 0.95, 0.90]
    assert d["neg_weights"] == list(cr_loss.INTRA_NEG_WEIGHTS) == [1.0, 0.95, 0.90]
    assert d["level_weights"] == list(cr_loss.LEVEL_WEIGHTS) == [1 / 16, 1 / 8, 1 / 4]
    assert d["layers"] == ["relu1_1", "relu2_1", "relu3_1"] and d["input_norm"] is False
    # the public code's slices [0:2], [2:7], [7:12] of torchvision's vgg19().features end at these taps
    names = layer_names("vgg19")
    assert [names.index(n) for n in d["layers"]] == [1, 6, 11]
    assert "drcnet_cr" in METHOD_NAMES and METHOD_ASSETS["drcnet_cr"] == ("vgg19-dcbb9e9d.pth",)


def test_intra_negatives_mix_the_input_with_weight_lambda():
    degraded, clean = img(2.0, -4.0), img(0.0, 6.0)
    n = intra_negatives(degraded, clean)
    assert n.shape == (3, 1, 1, 1, 2)
    torch.testing.assert_close(n[0], img(2.0, -4.0))                  # lambda 1: the input itself
    torch.testing.assert_close(n[1], img(1.9, -3.5))                  # 0.95 * input + 0.05 * clean
    torch.testing.assert_close(n[2], img(1.8, -3.0))                  # 0.90 * input + 0.10 * clean
    torch.testing.assert_close(intra_negatives(degraded, clean, [0.0, 0.5])[:, 0], torch.cat([clean, img(1.0, 1.0)]))
    e = extra_negatives(degraded)
    assert e.shape == (1, 1, 1, 1, 2) and torch.equal(e[0], degraded)
    neg, w = cr_negatives("extra", degraded, clean)
    assert neg.shape[0] == 1 and w == [1.0]
    neg, w = cr_negatives("intra", degraded, clean)
    assert neg.shape[0] == 3 and w == [1.0, 0.95, 0.90]
    with pytest.raises(ValueError, match="mix_weights"):
        intra_negatives(degraded, clean, [1.5])
    with pytest.raises(ValueError, match="same shape"):
        intra_negatives(degraded, img(1.0))
    with pytest.raises(ValueError, match="2 mix_weights but 3 neg_weights"):
        cr_negatives("intra", degraded, clean, [1.0, 0.9], [1.0, 0.9, 0.8])
    with pytest.raises(ValueError, match="'none' has no negatives"):
        cr_negatives("none", degraded, clean)


def test_contrastive_regularisation_by_hand():
    # anchor X (1, 2), clean J (1.5, 2.5): d(X, J) = 0.5; degraded I (0, 0)
    # n1 = I        = (0, 0):        d = (1 + 2) / 2       = 1.5
    # n2 = 0.05 J   = (0.075, 0.125): d = (0.925 + 1.875) / 2 = 1.4
    # n3 = 0.10 J   = (0.15, 0.25):   d = (0.85 + 1.75) / 2   = 1.3
    # denominator 1.5 + 0.95 * 1.4 + 0.90 * 1.3 = 4.0 -> ratio 0.125 on both levels (level 2 doubles
    # every distance), summed with weights 1/16 and 1/8
    x, clean, degraded = img(1.0, 2.0), img(1.5, 2.5), img(0.0, 0.0)
    enc = TwoLevels()
    (intra,) = contrastive_regularisation(enc, [x], degraded, clean, level_weights=[1 / 16, 1 / 8], eps=0.0)
    assert intra.item() == pytest.approx((1 / 16 + 1 / 8) * 0.5 / 4.0)
    # the default eps 1e-7 of the public code, per level
    (with_eps,) = contrastive_regularisation(enc, [x], degraded, clean, level_weights=[1 / 16, 1 / 8])
    assert with_eps.item() == pytest.approx(1 / 16 * 0.5 / (4.0 + 1e-7) + 1 / 8 * 1.0 / (8.0 + 1e-7), rel=1e-12)
    # Extra-CR: the input alone, 0.5 / 1.5
    (extra,) = contrastive_regularisation(enc, [x], degraded, clean, mode="extra", level_weights=[1.0, 0.0], eps=0.0)
    assert extra.item() == pytest.approx(1 / 3)
    # two outputs share the constants: one call for J and the negatives, one for the outputs
    enc.calls.clear()
    a, b = contrastive_regularisation(enc, [x, clean + 0.25], degraded, clean, level_weights=[1.0, 0.0], eps=0.0)
    assert enc.calls == [(4, True), (2, False)]
    assert a.item() == pytest.approx(0.125)
    # X' = (1.75, 2.75): d(X', J) = 0.25; to n1 2.25, n2 2.15, n3 2.05 -> 2.25 + 2.0425 + 1.845 = 6.1375
    assert b.item() == pytest.approx(0.25 / 6.1375)


def test_batched_equals_the_public_codes_loop_over_negatives():
    torch.manual_seed(0)
    m = method()
    lq, gt = pair()["lq"], pair()["gt"]
    x = torch.rand_like(gt)
    (ours,) = contrastive_regularisation(m.encoder, [x], lq, gt)
    with torch.no_grad():  # IntraCRLoss.forward, written out
        fx, fp = m.encoder(x), m.encoder(gt)
        fn = [m.encoder(lam * lq + (1 - lam) * gt) for lam in (1.0, 0.95, 0.90)]
        ref = 0.0
        for i, w in enumerate([1 / 16, 1 / 8, 1 / 4]):
            d1 = (fx[i] - fp[i]).abs().mean()
            d2, d3, d4 = ((fx[i] - n[i]).abs().mean() for n in fn)
            ref += w * d1 / (d2 + 0.95 * d3 + 0.90 * d4 + 1e-7)
    assert ours.item() == pytest.approx(ref.item(), rel=1e-5)


# -- the method --------------------------------------------------------------------------------
def test_method_loss_by_hand_on_both_stages():
    lq, gt = img(0.0, 0.0), img(1.5, 2.5)
    student = Staged(gt, 0.1, -0.2)   # stage outputs (1.6, 2.6) and (1.3, 2.3): d(X, J) 0.1 and 0.2
    m = method(student, loss_weight=0.5, w_cr=0.05, stage_weights=[1.0, 2.0], layers=["relu1_1", "relu2_1"],
               level_weights=[1.0, 0.0])
    m.encoder = TwoLevels()
    out = m.training_step({"lq": lq, "gt": gt}, 0)
    # negatives n1 (0, 0), n2 (0.075, 0.125), n3 (0.15, 0.25) as above; distances to them:
    # stage 1 (1.6, 2.6): 2.1, 2.0, 1.9; stage 2 (1.3, 2.3): 1.8, 1.7, 1.6
    cr1 = 0.1 / (2.1 + 0.95 * 2.0 + 0.90 * 1.9 + 1e-7)
    cr2 = 0.2 / (1.8 + 0.95 * 1.7 + 0.90 * 1.6 + 1e-7)
    assert out.losses["rec"].item() == pytest.approx(0.5 * (1.0 * 0.1 + 2.0 * 0.2))
    assert out.losses["cr"].item() == pytest.approx(0.5 * 0.05 * (1.0 * cr1 + 2.0 * cr2))
    assert out.logs["cr_ratio"].item() == pytest.approx(cr2)   # the final stage, unweighted
    # the gradient reaches both stages' parameters
    sum(out.losses.values()).backward()
    assert student.a.grad is not None and student.b.grad is not None


def test_none_is_plain_l1_over_both_stages_without_an_encoder():
    student = drcnet()
    m = get_method("drcnet_cr")(student, None, {"cr": "none"})   # no weights, no stand-in: none needed
    assert m.encoder is None and m.stand_ins == [] and "encoder" not in m.frozen()
    batch = pair()
    out = m.training_step(batch, 0)
    assert set(out.losses) == {"rec"} and not out.logs
    with torch.no_grad():
        s1, s2 = student(batch["lq"], stages=True)
    assert out.losses["rec"].item() == pytest.approx((l1(s1, batch["gt"]) + l1(s2, batch["gt"])).item(), rel=1e-5)
    # the final stage only
    m = get_method("drcnet_cr")(student, None, {"cr": "none", "stage_weights": [0, 1]})
    assert m.training_step(batch, 0).losses["rec"].item() == pytest.approx(l1(s2, batch["gt"]).item(), rel=1e-5)


def test_extra_uses_exactly_one_negative_the_input():
    seen = []

    class Spy(nn.Module):
        def forward(self, x):
            if torch.is_inference_mode_enabled():
                seen.append(x.clone())
            return [x]

    batch = pair(b=2)
    for mode, n_neg in (("extra", 1), ("intra", 3)):
        seen.clear()
        m = method(cr=mode, level_weights=[1.0], layers=["relu1_1"])
        m.encoder = Spy()
        m.training_step(batch, 0)
        (consts,) = seen                                 # one call for the positive and every negative
        assert consts.shape[0] == (1 + n_neg) * 2
        assert torch.equal(consts[:2], batch["gt"]) and torch.equal(consts[2:4], batch["lq"])
    torch.testing.assert_close(consts[4:6], 0.95 * batch["lq"] + 0.05 * batch["gt"])


def test_gradients_reach_the_student_only_and_constants_run_in_inference_mode():
    m = method()
    assert m.stand_ins == [("VGG19 encoder: random initialisation (torchvision weights vgg19-dcbb9e9d.pth absent, "
                            "widths divided by 16)")]
    assert m.frozen() == {"encoder": m.encoder}
    assert not any(p.requires_grad for p in m.encoder.parameters())
    modes = []
    m.encoder.register_forward_hook(lambda mod, inp, out: modes.append(torch.is_inference_mode_enabled()))
    batch = pair()
    out = m.training_step(batch, 0)
    assert modes == [True, False]   # J and the negatives without autograd; both stage outputs in one call
    assert out.losses["cr"].requires_grad
    out.losses["cr"].backward()
    assert all(p.grad is None for p in m.encoder.parameters())
    grads = [p.grad for p in m.student.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    assert not batch["lq"].requires_grad and batch["lq"].grad is None


def test_single_output_backbone_takes_the_last_stage_weight():
    torch.manual_seed(0)
    student = build_model("nafnet", 1, **TINY_NAFNET)
    m = method(student, stage_weights=[0.3, 2.0], w_cr=0.1)
    assert not m.multi_stage
    batch = pair()
    out = m.training_step(batch, 0)
    with torch.no_grad():
        y = student(batch["lq"])
        (cr,) = contrastive_regularisation(m.encoder, [y], batch["lq"], batch["gt"])
    assert out.losses["rec"].item() == pytest.approx(2.0 * l1(y, batch["gt"]).item(), rel=1e-5)
    assert out.losses["cr"].item() == pytest.approx(2.0 * 0.1 * cr.item(), rel=1e-5)


@pytest.mark.parametrize("arch", ["drcnet", "nafnet"])
def test_training_steps_through_the_trainer(tmp_path, arch):
    torch.manual_seed(0)
    student = build_model(arch, 1, **(TINY_DRCNET if arch == "drcnet" else TINY_NAFNET))
    before = [p.detach().clone() for p in student.parameters()]
    m = method(student)
    settings = TrainSettings(iterations=2, batch_size=2, optimizer={"name": "adam", "lr": 1e-3, "betas": [0.9, 0.99]},
                             scheduler={"name": "multistep", "milestones": [2], "gamma": 0.5}, grad_clip=0.01,
                             checkpoint_every=2, val_every=5, log_every=1, tensorboard=False, progress=False,
                             device="cpu")
    t = Trainer(m, Pairs(), settings, tmp_path / "run")
    t.fit(tmp_path / "model.pt")
    assert (tmp_path / "model.pt").is_file()
    assert any(not torch.equal(p, q) for p, q in zip(student.parameters(), before))
    with (tmp_path / "run" / "train_log.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and all(float(r["cr"]) > 0 and float(r["rec"]) > 0 and r["cr_ratio"] for r in rows)


@pytest.mark.parametrize("options, key", [
    ({"cr": "both"}, "options.cr"),
    ({"w_cr": -1}, "options.w_cr"),
    ({"loss_weight": "high"}, "options.loss_weight"),
    ({"mix_weights": [1.0, 1.2, 0.9]}, "options.mix_weights"),
    ({"neg_weights": [1.0, 0.9]}, "options.neg_weights"),
    ({"neg_weights": [0, 0, 0]}, "options.neg_weights"),
    ({"stage_weights": [0, 0]}, "options.stage_weights"),
    ({"stage_weights": []}, "options.stage_weights"),
    ({"layers": ["relu1_1", "relu9_1", "relu3_1"]}, "options.layers"),
    ({"level_weights": [1.0, 1.0]}, "options.level_weights"),
    ({"alpha": 0.05}, r"unknown option\(s\) \['alpha'\]"),
])
def test_bad_options_name_the_key(options, key):
    with pytest.raises(ConfigError, match=key):
        method(**options)


def test_stage_weights_shorter_than_the_stages_and_missing_weights():
    m = method(stage_weights=[1.0])
    with pytest.raises(ConfigError, match=r"options.stage_weights: 1 weight\(s\) for a student with 2 stage outputs"):
        m.training_step(pair(), 0)
    with pytest.raises(MissingVGGWeightsError, match="vgg19-dcbb9e9d.pth"):
        get_method("drcnet_cr")(drcnet(), None, {})


def test_config_schema_names_the_key():
    from cir.config import _check_options

    problems = []
    _check_options("cr", {"method": "drcnet_cr", "options": {}}, problems)
    assert problems == []
    _check_options("cr", {"method": "drcnet_cr", "options": {"cr": "both", "mix_weights": [1.5]}}, problems)
    assert any(p.startswith("experiments.cr.options.cr:") for p in problems)
    assert any(p.startswith("experiments.cr.options.mix_weights.0:") for p in problems)
