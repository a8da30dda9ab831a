import pytest
import torch

from cir.errors import ConfigError
from cir.methods import get_method
from cir.methods.catalog import METHOD_ASSETS
from cir.models import build_model

TINY = {"n_resgroups": 1, "n_resblocks": 1, "n_feats": 8, "reduction": 4}
OPTS = {"encoder_stand_in": True, "history_schedule": [[0, 2]], "num_negatives": 3}
ALL_ON = {**OPTS, "zoom_out": True, "lc_prob": 0.5, "zoom_in_prob": 0.5}
LIGHT = {"dcr": False, "dmm": False}  # no encoder or history model: DUKD terms only
NEW_TERMS = ("lc", "zoom_in", "zoom_out_rec", "zoom_out_kd")


def models(scale=2, seed=0):
    torch.manual_seed(seed)
    return build_model("rcan", scale, **TINY), build_model("rcan", scale, **TINY)


def batch(scale=2, lr=16):
    g = torch.Generator().manual_seed(1)
    gt = torch.rand(2, 3, lr * scale, lr * scale, generator=g)
    return {"lq": torch.nn.functional.avg_pool2d(gt, scale), "gt": gt}


def step(method_name="dckd_star", options=ALL_ON, seed=3, scale=2, teacher=None):
    student, default_teacher = models(scale)
    m = get_method(method_name)(student, teacher or default_teacher, options)
    torch.manual_seed(seed)
    return m, m.training_step(batch(scale), 0)


def count_calls(module):
    calls = []
    module.register_forward_hook(lambda _m, inp, _out: calls.append(tuple(inp[0].shape)))
    return calls


def test_registered_with_the_vqgan_asset():
    cls = get_method("dckd_star")
    assert cls.name == "dckd_star" and cls.loss_names == ("rec", "kd", "dcl", "ce", *NEW_TERMS)
    assert METHOD_ASSETS["dckd_star"] == METHOD_ASSETS["dckd"]


@pytest.mark.parametrize("scale,lr", [(2, 16), (4, 8)])
def test_training_step_terms_and_gradients(scale, lr):
    student, teacher = models(scale)
    m = get_method("dckd_star")(student, teacher, ALL_ON)
    b = batch(scale, lr)
    lq, gt = b["lq"].clone(), b["gt"].clone()
    torch.manual_seed(0)
    terms = m.training_step(b, 0)
    assert list(terms) == list(m.loss_names)
    assert all(torch.isfinite(v) and v > 0 for v in terms.values()), terms
    sum(terms.values()).backward()
    assert all(p.grad is not None for p in student.parameters() if p.requires_grad)
    for frozen in (teacher, m.encoder, m.history.model):
        assert all(p.grad is None and not p.requires_grad for p in frozen.parameters())
    assert torch.equal(b["lq"], lq) and torch.equal(b["gt"], gt)


def test_dckd_terms_are_those_of_dckd():
    _, star = step()
    _, plain = step("dckd", OPTS)
    for k in ("rec", "kd", "dcl", "ce"):
        assert torch.equal(star[k], plain[k]), k


def test_deterministic_given_the_seed():
    _, a = step(seed=3)
    _, b = step(seed=3)
    _, c = step(seed=4)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["lc"], c["lc"]) or not torch.equal(a["zoom_in"], c["zoom_in"])


def test_without_augmentation_lc_is_the_kd_term():
    # p = 0: the teacher sees the clean LR, so lc = L1(student(lq), teacher(lq)) = kd
    _, t = step(options={**LIGHT, "lc_prob": 0.0})
    assert torch.allclose(t["lc"], t["kd"])


@pytest.mark.parametrize("ops", [["inversion"], ["hflip", "vflip", "transpose"], ["inversion", "hflip", "vflip", "transpose"]])
def test_augmentation_is_undone_on_the_teacher_output(ops):
    # a teacher that commutes with every augmentation (nearest upsampling) gives the clean target
    teacher = torch.nn.Upsample(scale_factor=2, mode="nearest")
    _, t = step(options={**LIGHT, "lc_prob": 1.0, "aug_ops": ops}, teacher=teacher)
    assert torch.allclose(t["lc"], t["kd"], atol=1e-7)


def test_teacher_runs_batched_and_switches_turn_terms_off():
    student, teacher = models()
    m = get_method("dckd_star")(student, teacher, {**ALL_ON, "zoom_in_cells": 2})
    calls = count_calls(teacher)
    m.training_step(batch(), 0)
    # DCKD's pass; the augmented LR (2) + 2 zoom-in cells per image (4) together; the zoom-out input
    assert calls == [(2, 3, 16, 16), (6, 3, 16, 16), (2, 3, 8, 8)]

    student, teacher = models()
    off = {**LIGHT, "label_consistency": False, "zoom_in": False, "zoom_out": False}
    m = get_method("dckd_star")(student, teacher, off)
    calls = count_calls(teacher)
    terms = m.training_step(batch(), 0)
    assert calls == [(2, 3, 16, 16)]
    assert all(terms[k] == 0 for k in NEW_TERMS) and terms["kd"] > 0


@pytest.mark.parametrize("options,match", [
    ({"lc_prob": 1.5}, r"options\.lc_prob: 1\.5 must be in \[0, 1\]"),
    ({"zoom_in_prob": -0.1}, r"options\.zoom_in_prob: -0\.1 must be in \[0, 1\]"),
    ({"aug_ops": ["rotate"]}, r"options\.aug_ops: unknown operation\(s\) \['rotate'\]"),
    ({"aug_ops": "hflip"}, r"options\.aug_ops: expected a list of operation names; got the string 'hflip'"),
    ({"zoom_in_cells": 0}, r"options\.zoom_in_cells: 0 must be an integer >= 1"),
    ({"lc_weight": 1.0}, r"unknown option\(s\) \['lc_weight'\]"),
])
def test_bad_options_name_the_key(options, match):
    student, teacher = models()
    with pytest.raises(ConfigError, match=match):
        get_method("dckd_star")(student, teacher, {**LIGHT, **options})


def test_bad_batches_name_the_problem():
    student, teacher = models()
    m = get_method("dckd_star")(student, teacher, LIGHT)
    with pytest.raises(ValueError, match=r"zoom_in: n=5 must be between 1 and the 4 cells"):
        get_method("dckd_star")(*models(), {**LIGHT, "zoom_in_cells": 5}).training_step(batch(), 0)
    g = torch.Generator().manual_seed(0)
    gt = torch.rand(2, 3, 32, 24, generator=g)
    with pytest.raises(ValueError, match=r"options\.aug_ops: 'transpose' needs square patches; lq is 16x12"):
        m.training_step({"lq": torch.nn.functional.avg_pool2d(gt, 2), "gt": gt}, 0)
