import math

import pytest
import torch
from torch import nn

from cir.engine import Trainer, TrainSettings
from cir.errors import ConfigError
from cir.methods import get_method
from cir.methods.catalog import MIPKD_LAMBDA_BLOCK as LAMBDA_BLOCK
from cir.methods.catalog import MIPKD_LAMBDA_FEAT as LAMBDA_FEAT
from cir.models import build_model
from cir.models.mixers import FeaturePriorMixer, block_runner, mix_latents, random_mask
from cir.models.taps import FeatureTaps


def swinir(n, seed, embed_dim=12):
    torch.manual_seed(seed)
    return build_model("swinir", 2, embed_dim=embed_dim, depths=[1] * n, num_heads=[2] * n, window_size=8)


def rcan(groups, seed):
    torch.manual_seed(seed)
    return build_model("rcan", 2, n_resgroups=groups, n_resblocks=1, n_feats=8, reduction=4)


PAIRS = {
    "swinir": lambda: (swinir(2, 0), swinir(4, 1)),
    "rcan": lambda: (rcan(2, 0), rcan(4, 1)),
}


def batch(seed=0, n=2, size=8):
    g = torch.Generator().manual_seed(seed)
    gt = torch.rand(n, 3, 2 * size, 2 * size, generator=g)
    return {"lq": torch.nn.functional.avg_pool2d(gt, 2), "gt": gt}


def no_hooks(model):
    return all(not m._forward_hooks for m in model.modules())


def identity_coders(method):
    """Replace every encoder/decoder by the identity (all widths equal in these tests)."""
    for mixer in method.mixers:
        for coders in (mixer.encoders, mixer.decoders):
            for key in list(coders):
                coders[key] = nn.Identity()


# -- masks and mixing -------------------------------------------------------------------------
def test_random_mask_draws_from_the_generator():
    mask = random_mask((2, 3, 4, 5), 0.25, generator=torch.Generator().manual_seed(7))
    expected = (torch.rand(2, 3, 4, 5, generator=torch.Generator().manual_seed(7)) < 0.25).float()
    assert torch.equal(mask, expected)
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    spatial = random_mask((2, 3, 4, 5), 0.5, mode="spatial", generator=torch.Generator().manual_seed(7))
    assert spatial.shape == (2, 1, 4, 5)
    assert random_mask((1, 2, 3, 3), 0.0).sum() == 0 and random_mask((1, 2, 3, 3), 1.0).sum() == 18
    with pytest.raises(ValueError, match="teacher_ratio"):
        random_mask((1, 1, 2, 2), 1.5)
    with pytest.raises(ValueError, match="mode 'grid'"):
        random_mask((1, 1, 2, 2), 0.5, mode="grid")
    with pytest.raises(ValueError, match=r"\[B, C, H, W\]"):
        random_mask((4, 4), 0.5)


def test_mix_latents_by_hand():
    t = torch.tensor([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 2, 2)
    s = torch.tensor([10.0, 20.0, 30.0, 40.0]).reshape(1, 1, 2, 2)
    mask = torch.tensor([1.0, 0.0, 0.0, 1.0]).reshape(1, 1, 2, 2)
    assert mix_latents(t, s, mask).flatten().tolist() == [1.0, 20.0, 30.0, 4.0]
    # a spatial mask is shared by all channels
    t2, s2 = torch.cat([t, -t], 1), torch.cat([s, -s], 1)
    assert mix_latents(t2, s2, mask)[0, 1].flatten().tolist() == [-1.0, -20.0, -30.0, -4.0]
    with pytest.raises(ValueError, match="differ in shape"):
        mix_latents(t, t2, mask)
    with pytest.raises(ValueError, match="does not broadcast"):
        mix_latents(t, s, torch.ones(1, 1, 3, 2))


def test_feature_prior_mixer_widths():
    same = FeaturePriorMixer(8, 8, 5)
    assert sorted(same.decoders) == ["teacher"]          # equal widths: one decoder serves both
    wide = FeaturePriorMixer(12, 6, 4)
    assert sorted(wide.decoders) == ["student", "teacher"]
    z = wide.encode(torch.randn(2, 6, 3, 3), "student")
    assert z.shape == (2, 4, 3, 3)
    assert wide.decode(z, "teacher").shape == (2, 12, 3, 3)
    assert wide.decode(z, "student").shape == (2, 6, 3, 3)
    with pytest.raises(ValueError, match=r"\[B, 12, H, W\] teacher feature"):
        wide.encode(torch.randn(2, 6, 3, 3), "teacher")
    with pytest.raises(ValueError, match="side 'both'"):
        wide.decode(z, "both")
    with pytest.raises(ValueError, match="latent_channels"):
        FeaturePriorMixer(8, 8, 0)


# -- running networks from a block boundary -----------------------------------------------------
@pytest.mark.parametrize("arch", sorted(PAIRS))
def test_block_runner_reproduces_the_forward_pass(arch):
    model = PAIRS[arch]()[1].eval()
    runner = block_runner(model)
    x = torch.rand(2, 3, 8, 12)                           # SwinIR pads 8x12 to 8x16 and crops back
    with FeatureTaps(model, [runner.head_layer, *runner.blocks]) as taps, torch.no_grad():
        y = model(x)
        head = taps.feature(runner.head_layer)
        feats = [taps.feature(n) for n in runner.blocks]
    with torch.no_grad():                                 # outside the taps: their hooks record one pass
        assert torch.equal(runner.run(1, 3, feats[0]), feats[2])
        assert torch.equal(runner.finish(1, feats[0], head, (8, 12)), y)
        assert torch.equal(runner.finish(len(feats), feats[-1], head, (8, 12)), y)
    with pytest.raises(IndexError, match="block range"):
        runner.run(2, 9, feats[0])


# -- the method ---------------------------------------------------------------------------------
@pytest.mark.parametrize("arch", sorted(PAIRS))
def test_training_step_trains_student_and_mixers_never_the_teacher(arch):
    student, teacher = PAIRS[arch]()
    method = get_method("mipkd")(student, teacher, {})
    assert method.options["w_feat"] == LAMBDA_FEAT == 1.0 and method.options["w_block"] == LAMBDA_BLOCK == 0.1
    head = {"swinir": "layers", "rcan": "body"}[arch]
    assert method.pairs == [(f"{head}.1", f"{head}.0"), (f"{head}.3", f"{head}.1")]
    assert method.block_index == {"teacher": [1, 3], "student": [0, 1]}
    trainable = list(method.trainable_parameters())
    assert len(trainable) == len(list(student.parameters())) + len(list(method.mixers.parameters()))

    # the teacher's own forward runs under inference mode; its blocks in the mixed path with autograd
    modes = {"forward": [], "blocks": []}
    t_runner = method.runners["teacher"]
    hooks = [teacher.register_forward_hook(lambda *a: modes["forward"].append(torch.is_inference_mode_enabled()))]
    block = dict(teacher.named_modules())[t_runner.blocks[-1]]
    hooks.append(block.register_forward_hook(lambda *a: modes["blocks"].append(torch.is_grad_enabled()
                                                                                and not torch.is_inference_mode_enabled())))
    data = batch()
    lq_before = data["lq"].clone()
    teacher_before = {k: v.clone() for k, v in teacher.state_dict().items()}
    student.train()
    torch.manual_seed(0)
    terms = method.training_step(data, 0)
    for h in hooks:
        h.remove()
    assert list(terms) == ["rec", "kd", "feat", "ae", "block"]
    assert all(t.dim() == 0 and math.isfinite(t.item()) and t.item() > 0 for t in terms.values())
    assert modes["forward"] == [True]

    s_params = list(student.parameters())
    block_grads = torch.autograd.grad(terms["block"], s_params, retain_graph=True, allow_unused=True)
    assert any(g is not None and g.abs().sum() > 0 for g in block_grads)
    sum(terms.values()).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in s_params)
    for mixer in method.mixers:
        for coder in (*mixer.encoders.values(), mixer.decoders["teacher"]):
            assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in coder.parameters())
    assert all(not p.requires_grad and p.grad is None for p in teacher.parameters())
    assert torch.equal(data["lq"], lq_before)
    assert all(torch.equal(v, teacher_before[k]) for k, v in teacher.state_dict().items())
    assert no_hooks(student) and no_hooks(teacher)
    # first call: the teacher's own forward; any further call: the mixed path, with autograd
    assert modes["blocks"][0] is False and all(modes["blocks"][1:])


def test_block_path_through_teacher_blocks_reaches_the_student():
    student, teacher = PAIRS["swinir"]()
    method = get_method("mipkd")(student, teacher, {"student_block_prob": 0.0, "feature_mixer": False})
    calls = []
    hook = teacher.layers[3].register_forward_hook(
        lambda *a: calls.append(torch.is_grad_enabled() and not torch.is_inference_mode_enabled()))
    torch.manual_seed(0)
    terms = method.training_step(batch(), 0)
    hook.remove()
    assert calls == [False, True]                         # own forward in inference mode, mixed path with autograd
    assert terms["feat"].item() == 0 and terms["ae"].item() == 0
    grads = torch.autograd.grad(terms["block"], list(student.parameters()), allow_unused=True)
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


def test_second_decoder_is_trained_when_student_blocks_are_chosen():
    student, teacher = swinir(2, 0, embed_dim=6), swinir(4, 1, embed_dim=12)
    method = get_method("mipkd")(student, teacher, {"student_block_prob": 1.0, "latent_channels": 5})
    assert [(m.channels["teacher"], m.channels["student"], m.latent_channels) for m in method.mixers] == [(12, 6, 5)] * 2
    torch.manual_seed(0)
    sum(method.training_step(batch(), 0).values()).backward()
    for mixer in method.mixers:
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in mixer.decoders["student"].parameters())


@pytest.mark.parametrize("arch", sorted(PAIRS))
def test_combined_forward_by_hand_with_identity_coders(arch):
    student, teacher = PAIRS[arch]()
    student.eval(), teacher.eval()                        # SwinIR's stochastic depth is off in eval mode
    lq = batch()["lq"]
    s_run, t_run = block_runner(student), block_runner(teacher)
    with torch.no_grad():
        with FeatureTaps(teacher, [t_run.head_layer, *t_run.blocks]) as tt:
            y_t = teacher(lq)
            t = {n: tt.feature(n) for n in tt.names}
        with FeatureTaps(student, [s_run.head_layer, *s_run.blocks]) as st:
            y_s = student(lq)
            s = {n: st.feature(n) for n in st.names}
    blocks_t, blocks_s = t_run.blocks, s_run.blocks
    z_t = [t[blocks_t[1]], t[blocks_t[3]]]
    z_s = [s[blocks_s[0]], s[blocks_s[1]]]
    heads = {"teacher": t[t_run.head_layer], "student": s[s_run.head_layer]}

    def run(ratio, choices):
        method = get_method("mipkd")(student, teacher, {"mask_ratio": ratio})
        identity_coders(method)
        masks = [random_mask(z.shape, ratio) for z in z_t]
        first = mix_latents(z_t[0], z_s[0], masks[0])
        with torch.no_grad():
            return method.combined_forward(first, z_t, z_s, masks, heads, (8, 8), choices)

    # teacher latents only, teacher blocks only: the teacher's own output
    assert torch.allclose(run(1.0, ["teacher", "teacher"]), y_t, atol=1e-5)
    # student latents only, student blocks only: the student's own output
    assert torch.allclose(run(0.0, ["student", "student"]), y_s, atol=1e-5)
    # teacher blocks to position 2, then the student's tail on the teacher's feature
    expected = s_run.finish(2, t[blocks_t[3]], heads["student"], (8, 8))
    assert torch.allclose(run(1.0, ["teacher", "student"]), expected, atol=1e-5)


def test_switches_state_and_option_errors():
    student, teacher = PAIRS["rcan"]()
    plain = get_method("mipkd")(student, teacher, {"feature_mixer": False, "block_mixer": False})
    assert len(plain.mixers) == 0 and plain.state_dict() == {}
    assert len(list(plain.trainable_parameters())) == len(list(student.parameters()))
    terms = plain.training_step(batch(), 0)
    assert terms["feat"].item() == terms["ae"].item() == terms["block"].item() == 0

    no_block = get_method("mipkd")(student, teacher, {"block_mixer": False, "layers": [["head", "head"]],
                                                      "mask": "spatial"})
    assert no_block.runners == {} and no_block.training_step(batch(), 0)["block"].item() == 0

    bad = [
        ({"mask": "grid"}, r"experiments\.m\.options\.mask: 'grid' is not allowed; allowed values: '3d', 'spatial'"),
        ({"mask_ratio": 1.5}, r"options\.mask_ratio: expected a number in \[0, 1\], got 1\.5"),
        ({"student_block_prob": -0.1}, r"options\.student_block_prob"),
        ({"latent_channels": 0}, r"options\.latent_channels: expected null or an integer >= 1, got 0"),
        ({"w_block": -1}, r"options\.w_block: expected a number >= 0"),
        ({"block_mixer": "yes"}, r"options\.block_mixer: expected true or false"),
        ({"layers": [["head", "head"]]}, r"options\.layers: the block mixer needs teacher block outputs"),
        ({"layers": [["body.3", "body.1"], ["body.1", "body.0"]]},
         r"options\.layers: the block mixer needs the teacher layers from shallow to deep"),
        ({"layers": [["body.0", "body.7"]]}, r"options\.layers: student .*'body\.7'"),
        ({"w_foo": 1}, r"unknown option.*'w_foo'"),
    ]
    for options, message in bad:
        with pytest.raises(ConfigError, match=message):
            get_method("mipkd")(student, teacher, options, where="experiments.m.options")
    with pytest.raises(ConfigError, match="needs teacher"):
        get_method("mipkd")(student, None, {})


def test_trainer_resumes_exactly_with_the_mixers(tmp_path, random_pairs):
    def trainer(run, sampler):
        student, teacher = PAIRS["swinir"]()
        torch.manual_seed(5)                              # mixer initialisation
        method = get_method("mipkd")(student, teacher, {})
        settings = TrainSettings(iterations=2, batch_size=2, optimizer={"name": "adam", "lr": 1e-3},
                                 scheduler={"name": "multistep", "milestones": [1], "gamma": 0.5},
                                 checkpoint_every=1, val_every=2, log_every=1, tensorboard=False,
                                 progress=False, device="cpu")
        return Trainer(method, sampler, settings, tmp_path / run)

    full = trainer("full", random_pairs())
    full.fit(tmp_path / "full.pt")
    killed = trainer("killed", random_pairs(fail_at=1))
    with pytest.raises(KeyboardInterrupt):
        killed.fit(tmp_path / "killed.pt")
    restarted = trainer("killed", random_pairs())
    initial = {k: v.clone() for k, v in restarted.method.mixers.state_dict().items()}
    restarted.fit(tmp_path / "killed.pt")
    assert restarted.step == 2

    a = torch.load(tmp_path / "full.pt", weights_only=False)
    b = torch.load(tmp_path / "killed.pt", weights_only=False)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    mixers_full = full.method.mixers.state_dict()
    mixers_resumed = restarted.method.mixers.state_dict()
    assert all(torch.equal(mixers_full[k], mixers_resumed[k]) for k in mixers_full)
    assert any(not torch.equal(initial[k], mixers_full[k]) for k in initial)      # the mixers were trained
    # the mixers are trainable networks of group g: the engine checkpoints them with the student
    saved = torch.load(tmp_path / "killed" / "checkpoints" / "final.pt", weights_only=False)
    assert restarted.method.trainable()["g"][1] is restarted.method.mixers
    assert all(torch.equal(saved["trainable"]["g"][0][k], mixers_full[k]) for k in mixers_full)
