import math

import pytest
import torch

from cir.engine import Trainer, TrainSettings
from cir.errors import ConfigError
from cir.losses.affinity import affinity_distance, affinity_loss, spatial_affinity
from cir.methods import get_method
from cir.methods.catalog import FAKD_W_FA as W_FA_DEFAULT
from cir.models import build_model
from cir.models.taps import FeatureTaps, LayerNameError, default_tap_layers, match_layers


def swinir(embed_dim=12, n=2, seed=0):
    torch.manual_seed(seed)
    return build_model("swinir", 2, embed_dim=embed_dim, depths=[1] * n, num_heads=[2] * n, window_size=8)


def rcan(n_feats=8, groups=2, reduction=4, seed=0):
    torch.manual_seed(seed)
    return build_model("rcan", 2, n_resgroups=groups, n_resblocks=1, n_feats=n_feats, reduction=reduction)


def no_hooks(model):
    return all(not m._forward_hooks for m in model.modules())


# -- affinity ---------------------------------------------------------------------------------
def test_affinity_of_a_hand_made_map():
    # positions (C=2, H=1, W=3): (3,4) -> (.6,.8); (1,0) -> (1,0); (0,2) -> (0,1)
    student = torch.tensor([[3.0, 1.0, 0.0], [4.0, 0.0, 2.0]]).reshape(1, 2, 1, 3)
    expected = torch.tensor([[1.0, 0.6, 0.8], [0.6, 1.0, 0.0], [0.8, 0.0, 1.0]])
    assert torch.allclose(spatial_affinity(student)[0], expected, atol=1e-6)
    # the same positions as [B, N, C] tokens
    assert torch.allclose(spatial_affinity(student.flatten(2).transpose(1, 2))[0], expected, atol=1e-6)
    # teacher (C=1): 1, -1, 2 -> signs 1, -1, 1; A_t = s s^T
    teacher = torch.tensor([1.0, -1.0, 2.0]).reshape(1, 1, 1, 3)
    # |A_s - A_t| = [[0, 1.6, .2], [1.6, 0, 1], [.2, 1, 0]] -> sum 5.6 over 9 entries
    assert affinity_distance(student, teacher).item() == pytest.approx(5.6 / 9, abs=1e-6)
    # averaged over layers: a perfect layer (distance 0) halves it
    assert affinity_loss([student, teacher], [teacher, teacher]).item() == pytest.approx(5.6 / 18, abs=1e-6)


def test_affinity_downsample_and_shape_errors():
    x = torch.randn(2, 5, 4, 6)
    assert spatial_affinity(x).shape == (2, 24, 24)
    assert spatial_affinity(x, downsample=2).shape == (2, 6, 6)
    pooled = torch.nn.functional.max_pool2d(x, 2)
    assert torch.allclose(spatial_affinity(x, downsample=2), spatial_affinity(pooled))
    with pytest.raises(ValueError, match="spatial size"):
        affinity_distance(torch.randn(1, 3, 4, 4), torch.randn(1, 7, 4, 5))
    with pytest.raises(ValueError, match="downsample"):
        spatial_affinity(x, downsample=0)


def test_teacher_affinity_is_a_constant_target():
    s = torch.randn(1, 4, 3, 3, requires_grad=True)
    with torch.inference_mode():
        t = torch.randn(1, 8, 3, 3)            # an inference tensor, as a frozen teacher yields
    loss = affinity_distance(s, t)
    loss.backward()
    assert s.grad is not None and torch.isfinite(s.grad).all() and s.grad.abs().sum() > 0


# -- taps -------------------------------------------------------------------------------------
def test_taps_on_swinir_record_rstb_maps_and_remove_hooks():
    model = swinir().eval()
    names = default_tap_layers("swinir", model)
    assert names == ["layers.0", "layers.1"]
    x = torch.rand(1, 3, 8, 12)                # padded to 8x16 (window 8) inside SwinIR
    with FeatureTaps(model, names) as taps, torch.inference_mode():
        model(x)
        raw = taps.raw("layers.1")
        assert raw.shape == (1, 8 * 16, 12)    # RSTBs run on [B, H*W, C] tokens
        maps = taps.features()
        assert [tuple(m.shape) for m in maps.values()] == [(1, 12, 8, 16)] * 2
        # same layout as spandrel's own token -> map conversion
        assert torch.equal(maps["layers.1"], model.patch_unembed(raw, (8, 16)))
        taps.clear()
        with pytest.raises(RuntimeError, match="did not run"):
            taps.feature("layers.0")
    assert no_hooks(model)


def test_taps_on_rcan_record_group_maps_and_remove_hooks():
    model = rcan().eval()
    names = default_tap_layers("rcan", model)
    assert names == ["body.0", "body.1"]       # body.2 is the trailing conv, not a group
    x = torch.rand(2, 3, 6, 7)
    with FeatureTaps(model, names) as taps:
        with torch.no_grad():
            model(x)
        assert [tuple(m.shape) for m in taps.features().values()] == [(2, 8, 6, 7)] * 2
        with pytest.raises(RuntimeError, match="twice"), torch.no_grad():
            model(x)                           # second pass without clear()
    assert no_hooks(model)


def test_unknown_layer_names_list_candidates():
    model = swinir()
    with pytest.raises(LayerNameError) as err:
        FeatureTaps(model, ["layers.7"])
    msg = str(err.value)
    assert "'layers.7'" in msg and "layers.0" in msg and "conv_first" in msg
    assert no_hooks(model)
    with pytest.raises(ConfigError, match=r"experiments\.fakd\.options\.layers: student .*'body\.9'"):
        get_method("fakd")(rcan(), rcan(seed=1), {"layers": [["body.0", "body.9"]]},
                           where="experiments.fakd.options")
    with pytest.raises(ConfigError, match=r"layers\[0\]"):
        get_method("fakd")(rcan(), rcan(seed=1), {"layers": [["body.0"]]})
    with pytest.raises(ConfigError, match="fa_downsample"):
        get_method("fakd")(rcan(), rcan(seed=1), {"fa_downsample": 0})


def test_match_layers_by_hand():
    t6 = [f"t{i}" for i in range(6)]
    s4 = [f"s{i}" for i in range(4)]
    assert match_layers(t6, s4) == [("t0", "s0"), ("t2", "s1"), ("t3", "s2"), ("t5", "s3")]
    assert match_layers(s4[:2], s4[:2]) == [("s0", "s0"), ("s1", "s1")]
    assert match_layers(["t0"], s4[:3]) == [("t0", "s2")]          # student deeper: last with last
    assert match_layers(s4, t6) == [("s0", "t0"), ("s1", "t2"), ("s2", "t3"), ("s3", "t5")]
    t20 = [str(i) for i in range(20)]
    assert [t for t, _ in match_layers(t20, s4 + ["s4", "s5"])] == ["2", "5", "9", "12", "15", "19"]
    with pytest.raises(ValueError, match="empty"):
        match_layers([], s4)


# -- the method -------------------------------------------------------------------------------
PAIRS = {
    "swinir": lambda: (swinir(embed_dim=6, n=2, seed=0), swinir(embed_dim=12, n=3, seed=1)),
    "rcan": lambda: (rcan(n_feats=4, groups=2, reduction=2, seed=0), rcan(n_feats=8, groups=3, seed=1)),
}


@pytest.mark.parametrize("arch", sorted(PAIRS))
def test_fakd_step_trains_the_student_only(arch):
    student, teacher = PAIRS[arch]()
    method = get_method("fakd")(student, teacher, {})
    assert method.options["w_fa"] == pytest.approx(60 / 255) == W_FA_DEFAULT
    expected = {"swinir": [("layers.0", "layers.0"), ("layers.2", "layers.1")],
                "rcan": [("body.0", "body.0"), ("body.2", "body.1")]}[arch]
    assert method.pairs == expected

    g = torch.Generator().manual_seed(0)
    gt = torch.rand(2, 3, 16, 16, generator=g)
    lq = torch.nn.functional.avg_pool2d(gt, 2)
    lq_before = lq.clone()
    teacher_before = {k: v.clone() for k, v in teacher.state_dict().items()}

    student.train()
    terms = method.training_step({"lq": lq, "gt": gt}, 0)
    assert list(terms) == ["rec", "kd", "fa"]
    assert all(t.dim() == 0 and math.isfinite(t.item()) for t in terms.values())
    assert terms["fa"].item() > 0

    params = [p for p in student.parameters()]
    fa_grads = torch.autograd.grad(terms["fa"], params, retain_graph=True, allow_unused=True)
    assert any(gr is not None and gr.abs().sum() > 0 for gr in fa_grads)      # FA term is not detached
    sum(terms.values()).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in params)
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in params)
    assert all(p.grad is None for p in teacher.parameters())
    assert torch.equal(lq, lq_before)
    assert all(torch.equal(v, teacher_before[k]) for k, v in teacher.state_dict().items())
    assert no_hooks(student) and no_hooks(teacher)


def test_fakd_explicit_layers_and_trainer(tmp_path, random_pairs):
    student, teacher = PAIRS["rcan"]()
    method = get_method("fakd")(student, teacher, {"layers": [["body.1", "body.0"]], "fa_downsample": 2})
    assert method.pairs == [("body.1", "body.0")]
    settings = TrainSettings(iterations=2, batch_size=2, optimizer={"name": "adam", "lr": 1e-3},
                             scheduler={"name": "multistep", "milestones": [1], "gamma": 0.5},
                             checkpoint_every=2, val_every=2, log_every=1, tensorboard=False,
                             progress=False, device="cpu", ema_decay=0.9)
    trainer = Trainer(method, random_pairs(), settings, tmp_path / "run")
    trainer.fit(tmp_path / "fakd.pt")
    assert trainer.step == 2
    assert no_hooks(student) and no_hooks(trainer.ema.shadow)
