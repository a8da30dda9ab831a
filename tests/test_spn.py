"""MCIR's SPN method: negative models, the subtracted perceptual term, ablation switches, the guard."""

import math

import pytest
import torch

from cir.engine import Trainer, TrainSettings
from cir.engine.method import TrainingDiverged
from cir.errors import ConfigError
from cir.losses import l1
from cir.losses.perceptual import perceptual_distance
from cir.methods import get_method
from cir.methods.catalog import SPN_STEPS_CODE, SPN_STEPS_PAPER, defaults
from cir.models import build_model

TINY_VGG = {"encoder_stand_in": True, "encoder_stand_in_divisor": 16}


def tiny(seed=0):
    torch.manual_seed(seed)
    return build_model("rcan", 2, n_resgroups=1, n_resblocks=1, n_feats=8, reduction=4)


def spn(student=None, teachers=None, **options):
    return get_method("spn")(student or tiny(), teachers, {**TINY_VGG, **options})


def test_defaults_are_the_papers_and_the_code_values_are_kept():
    d = defaults("spn")
    assert d["lambda_neg"] == 1e-4 and d["steps"] == SPN_STEPS_PAPER == [100, 500, 1000, 2000]
    assert SPN_STEPS_CODE == [100, 200, 500, 1000]
    assert d["alpha"] == 0.1 and d["init_weight"] == 0.1
    assert d["layers"] == ["relu1_2", "relu2_2", "relu3_3"] and d["layer_weights"] == [0.2, 0.3, 0.5]
    assert d["encoder"] == "vgg16" and d["input_norm"] is True


def test_perceptual_distance_by_hand():
    f = [torch.ones(1, 1, 2, 2), torch.full((1, 2, 1, 1), 2.0)]
    g = [torch.cat([torch.zeros(1, 1, 2, 2), torch.full((1, 1, 2, 2), 3.0)]),   # |1-0| = 1, |1-3| = 2
         torch.cat([torch.full((1, 2, 1, 1), 2.0), torch.full((1, 2, 1, 1), -2.0)])]  # 0 and 4
    # two negatives: layer 1 mean over both = 1.5, layer 2 = 2.0
    assert perceptual_distance(f, g, [0.2, 0.5]).item() == pytest.approx(0.2 * 1.5 + 0.5 * 2.0)
    # batched equals the public code's loop (1/N) sum_k over negatives
    torch.manual_seed(0)
    f = [torch.randn(3, 4, 8, 8), torch.randn(3, 8, 4, 4)]
    g = [torch.randn(6, 4, 8, 8), torch.randn(6, 8, 4, 4)]
    loop = sum(perceptual_distance(f, [x[k * 3:(k + 1) * 3] for x in g], [0.3, 0.7]) for k in range(2)) / 2
    torch.testing.assert_close(perceptual_distance(f, g, [0.3, 0.7]), loop)
    with pytest.raises(ValueError, match="do not match"):
        perceptual_distance([torch.zeros(2, 1, 2, 2)], [torch.zeros(3, 1, 2, 2)], [1.0])


def test_loss_is_rec_minus_lambda_times_mean_distance_to_each_negative():
    m = spn(steps=[2, 3], lambda_neg=0.5)
    torch.manual_seed(1)
    batch = {"lq": torch.rand(2, 3, 8, 8), "gt": torch.rand(2, 3, 16, 16)}
    out = m.training_step(batch, 0)
    sr = m.student(batch["lq"])
    with torch.no_grad():
        dists = [perceptual_distance(m.encoder(sr), m.encoder(h.model(batch["lq"])), [0.2, 0.3, 0.5])
                 for h in m.negatives]
    assert out.losses["rec"].item() == pytest.approx(l1(sr, batch["gt"]).item())
    assert out.losses["neg"].item() == pytest.approx(-0.5 * sum(d.item() for d in dists) / 2, rel=1e-5)
    assert out.logs["neg_distance"].item() == pytest.approx(sum(d.item() for d in dists) / 2, rel=1e-5)
    out.losses["neg"].backward()  # the negatives are constants; the gradient reaches the student only
    assert all(p.grad is None for h in m.negatives for p in h.model.parameters())
    assert any(p.grad is not None for p in m.student.parameters())


def test_negatives_start_mixed_and_update_every_s_k_steps_from_the_live_weights():
    student = tiny()
    m = spn(student, steps=[2, 3], alpha=0.1, init_weight=0.1)
    s0 = [p.detach().clone() for p in student.parameters()]
    for h in m.negatives:  # 0.1 random + 0.9 student: close to the student, not equal
        diff = [(a - b).abs().max().item() for a, b in zip(h.model.parameters(), s0)]
        assert 0 < max(diff)
    a, b = m.negatives
    assert any(not torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters()))  # own starts
    before = [[p.clone() for p in h.model.parameters()] for h in m.negatives]
    with torch.no_grad():
        for p in student.parameters():
            p.add_(1.0)
    m.after_step(1)
    for h, old in zip(m.negatives, before):
        assert all(torch.equal(p, q) for p, q in zip(h.model.parameters(), old))
    m.after_step(2)  # s = 2 updates: 0.1 * old + 0.9 * live
    for p, q, s in zip(a.model.parameters(), before[0], student.parameters()):
        torch.testing.assert_close(p, 0.1 * q + 0.9 * s)
    assert all(torch.equal(p, q) for p, q in zip(b.model.parameters(), before[1]))
    m.after_step(3)
    assert a.num_updates == 1 and b.num_updates == 1
    m.after_step(6)
    assert a.num_updates == 2 and b.num_updates == 2


def test_random_starts_come_from_the_constructor():
    # RCAN's mean shift is a fixed convolution: a re-drawn copy would scramble it, a freshly built
    # network keeps it, so the negative's mean shift equals the student's exactly
    student = tiny()
    m = spn(student, negative_model="fixed_random")
    neg = dict(m.negatives[0].model.named_parameters())
    for name, p in student.named_parameters():
        if "mean" in name:
            assert torch.equal(neg[name], p), name


def test_table6_negative_models():
    student = tiny()
    fixed = spn(student, negative_model="fixed_random")
    assert len(fixed.negatives) == 1
    w = [p.clone() for p in fixed.negatives[0].model.parameters()]
    fixed.after_step(100)
    assert all(torch.equal(p, q) for p, q in zip(fixed.negatives[0].model.parameters(), w))
    trained = [(p, q) for p, (name, q) in zip(w, student.named_parameters()) if "mean" not in name]
    assert trained and not any(torch.allclose(p, q) for p, q in trained)  # wholly random: no student share
    pretrained = tiny(seed=5)
    with pytest.raises(ConfigError, match=r"needs teacher network\(s\) \['negative'\]"):
        spn(student, negative_model="fixed_pretrained")
    m = spn(student, {"negative": pretrained}, negative_model="fixed_pretrained")
    m.after_step(100)
    assert all(torch.equal(p, q) for p, q in zip(m.negatives[0].model.parameters(), pretrained.parameters()))
    assert "negative_0" in m.frozen() and "negative" not in m.frozen()
    with pytest.raises(ConfigError, match="takes no teacher"):
        spn(student, {"negative": pretrained})


def test_state_round_trip_and_collapse_guard():
    m = spn(steps=[1])
    with torch.no_grad():
        for p in m.student.parameters():
            p.mul_(2)
    m.after_step(1)
    m.after_validation(10, {"psnr": 30.0})
    other = spn(steps=[1])
    other.load_state_dict(m.state_dict())
    for p, q in zip(m.negatives[0].model.parameters(), other.negatives[0].model.parameters()):
        assert torch.equal(p, q)
    assert other.best_psnr == 30.0
    other.after_validation(20, {"psnr": 27.5})  # within 3 dB of the best
    with pytest.raises(TrainingDiverged, match=r"collapsed at step 30: validation PSNR 26.90 dB .* 3 dB below the best so far \(30.00 dB\)"):
        other.after_validation(30, {"psnr": 26.9})
    with pytest.raises(TrainingDiverged, match="step 40"):
        other.after_validation(40, {"psnr": math.nan})
    off = spn(collapse_drop_db=0)
    off.after_validation(1, {"psnr": 30.0})
    off.after_validation(2, {"psnr": 1.0})
    with pytest.raises(ValueError, match="holds 1 negative models, this run has 4"):
        spn().load_state_dict(m.state_dict())


def test_trainer_stops_a_collapsing_run_and_names_the_step(tmp_path, random_pairs):
    m = spn(steps=[1, 2])
    scores = iter([30.0, 31.0, 20.0])
    settings = TrainSettings(iterations=6, batch_size=2, optimizer={"name": "adam", "lr": 1e-3, "betas": [0.9, 0.99]},
                             scheduler={"name": "multistep", "milestones": [3], "gamma": 0.5}, checkpoint_every=2,
                             val_every=2, log_every=1, tensorboard=False, progress=False, device="cpu")
    t = Trainer(m, random_pairs(), settings, tmp_path / "run", validate=lambda model: {"psnr": next(scores)})
    with pytest.raises(TrainingDiverged, match="collapsed at step 6"):
        t.fit(tmp_path / "model.pt")
    assert not (tmp_path / "model.pt").exists()


def test_a_non_finite_loss_stops_with_the_methods_hint(tmp_path, random_pairs):
    student = tiny()
    with torch.no_grad():
        student.tail[-1].bias.fill_(math.inf)  # every output pixel infinite
    m = spn(student, steps=[1])
    settings = TrainSettings(iterations=3, batch_size=2, optimizer={"name": "adam", "lr": 1e-3, "betas": [0.9, 0.99]},
                             scheduler={"name": "multistep", "milestones": [3], "gamma": 0.5}, checkpoint_every=2,
                             val_every=5, log_every=1, tensorboard=False, progress=False, device="cpu")
    t = Trainer(m, random_pairs(), settings, tmp_path / "run")
    with pytest.raises(TrainingDiverged, match=r"loss was (nan|inf|-inf) at step 1 .*lower lambda_neg \(the paper's 1e-4\)"):
        t.fit(tmp_path / "model.pt")


def test_neg_ssim_matches_an_independent_ssim_away_from_the_border():
    from skimage.metrics import structural_similarity

    from cir.losses import reconstruction_loss
    from cir.losses.pixel import neg_ssim

    assert reconstruction_loss("neg_ssim") is neg_ssim
    g = torch.Generator().manual_seed(0)
    gt = torch.rand(1, 3, 40, 40, generator=g)
    pred = (gt + 0.1 * torch.randn(1, 3, 40, 40, generator=g)).clamp(0, 1)
    assert neg_ssim(gt, gt).item() == pytest.approx(-1.0, abs=1e-5)
    from kornia.metrics import ssim

    ours = ssim(pred, gt, 11, max_val=1.0, padding="same")[0].permute(1, 2, 0).numpy()
    _, ref = structural_similarity(pred[0].permute(1, 2, 0).numpy(), gt[0].permute(1, 2, 0).numpy(), data_range=1.0,
                                   channel_axis=2, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                   full=True)
    assert abs(ours[5:-5, 5:-5] - ref[5:-5, 5:-5]).max() < 1e-4
    loss = neg_ssim(pred.requires_grad_(), gt)
    loss.backward()
    assert -1 < loss.item() < 0 and pred.grad is not None
