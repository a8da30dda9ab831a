"""Cria-CL's networks (cir.models.criacl): the public configuration's size, the code head and the
paper head, the two branches and their masks, x4 and x1, the PatchGAN discriminator, the importer
for official files (and spandrel's ESRGAN reading of them), parameter validation and the registry
entry."""

from __future__ import annotations

import pytest
import torch

from cir.engine import checkpoint as ckpt
from cir.errors import CirError, ConfigError
from cir.models import ARCHITECTURES, build_model, count_parameters, load_model_file
from cir.models.criacl import (
    CITATION,
    CRIACL_DEFAULTS,
    ESRGAN_PARAMS,
    PAPER_HEAD_PARAMS,
    PUBLIC_D_PARAMS,
    PUBLIC_PARAMS,
    PUBLISHED_PARAMS_M,
    RRDB,
    CriaCLNet,
    PatchDiscriminator,
    build_criacl,
    build_patch_discriminator,
    convert_official,
    is_criacl_state,
    load_criacl_state,
)
from cir.models.registry import pad_multiple

TINY = {"nf": 8, "nb": 1, "gc": 4}
HEAD_GROUPS = ("branch1", "branch2", "sm", "tail_conv1", "tail_conv2")


def tiny(scale: int = 4, seed: int = 0, **extra) -> CriaCLNet:
    torch.manual_seed(seed)
    return build_criacl(scale, **{**TINY, **extra}).eval()


def _count(model: torch.nn.Module, prefix: str) -> int:
    return sum(p.numel() for n, p in model.named_parameters() if n.startswith(prefix))


# -- sizes -------------------------------------------------------------------------------------
def test_public_configuration_parameter_count():
    with torch.device("meta"):  # shapes only
        model = build_criacl(4)
        rrdb = RRDB(64, 32)
    n = count_parameters(model)
    assert n == PUBLIC_PARAMS == 17_286_473
    head = sum(_count(model, g + ".") for g in HEAD_GROUPS)
    assert head == 3 * 195_008 + 2 * 1_731 == 588_486  # three RB stacks, two tails
    assert n - head == ESRGAN_PARAMS == 16_697_987  # ESRGAN's RRDBNet (Table VII's 16.7 M for ESRGAN)
    # Table VII's 14.8 M for Cria-CL: no number of RRDBs gives it
    per_rrdb = count_parameters(rrdb)
    assert per_rrdb == 719_424
    assert round((n - 4 * per_rrdb) / 1e6, 2) == 14.41 and round((n - 3 * per_rrdb) / 1e6, 2) == 15.13
    assert PUBLISHED_PARAMS_M == 14.8


def test_paper_head_parameter_count():
    with torch.device("meta"):
        model = build_criacl(4, head="paper")
    assert count_parameters(model) == PAPER_HEAD_PARAMS == 17_284_397
    # two branches of three RB(64->64), F_beta = RB(3->64), RB(64->64), RB(64->2), no tails
    assert _count(model, "branch1.") == _count(model, "branch2.") == 3 * 78_016
    assert _count(model, "sm.") == 38_976 + 78_016 + 1_322
    assert count_parameters(model) - ESRGAN_PARAMS == 2 * 234_048 + 118_314
    assert not any(k.startswith("tail_conv") for k in model.state_dict())


def test_public_code_key_names_and_shapes():
    with torch.device("meta"):
        sd = build_criacl(4).state_dict()
    shapes = {
        "conv_first.weight": (64, 3, 3, 3),
        "RRDB_trunk.0.RDB1.conv1.weight": (32, 64, 3, 3),
        "RRDB_trunk.22.RDB3.conv5.weight": (64, 192, 3, 3),
        "RRDB_trunk.22.RDB3.conv5.bias": (64,),
        "trunk_conv.weight": (64, 64, 3, 3),
        "upconv1.weight": (64, 64, 3, 3),
        "upconv2.bias": (64,),
        "HRconv.weight": (64, 64, 3, 3),
        "conv_last.weight": (3, 64, 3, 3),
        "sm.0.block.0.weight": (64, 3, 3, 3),
        "sm.0.block.2.weight": (64, 64, 3, 3),
        "sm.0.conv.weight": (64, 3, 1, 1),  # the 1x1 shortcut
        "sm.2.conv.bias": (64,),
        "branch1.0.conv.weight": (64, 3, 1, 1),
        "branch2.2.block.2.weight": (64, 64, 3, 3),
        "tail_conv1.weight": (3, 64, 3, 3),
        "tail_conv2.bias": (3,),
    }
    for k, shape in shapes.items():
        assert tuple(sd[k].shape) == shape, k
    assert "RRDB_trunk.23.RDB1.conv1.weight" not in sd and "sm.3.weight" not in sd  # softmax: no params
    # 23 x 3 x 5 dense-block convs, 6 trunk/reconstruction convs, 3 x 3 RBs of 3 convs, 2 tails
    assert len(sd) == 2 * (23 * 15 + 6 + 27 + 2) == 760


# -- forward -----------------------------------------------------------------------------------
@pytest.mark.parametrize("head", ["code", "paper"])
@pytest.mark.parametrize("scale, size, out", [(4, (16, 16), (64, 64)), (4, (5, 7), (20, 28)),
                                              (1, (16, 16), (16, 16)), (1, (9, 6), (9, 6))])
def test_output_shapes(head, scale, size, out):
    model = tiny(scale, head=head)
    x = torch.rand(1, 3, *size)
    before = x.clone()
    with torch.no_grad():
        y = model(x)
        fused, unif, align = model(x, branches=True)
    assert y.shape == fused.shape == unif.shape == align.shape == (1, 3, *out)
    assert torch.equal(y, fused) and torch.equal(x, before)
    assert not torch.allclose(unif, align)


def test_code_head_is_the_sum_of_the_masked_branches():
    model = tiny()
    x = torch.rand(2, 3, 8, 8)
    with torch.no_grad():
        out, out1, out2 = model(x, branches=True)
        p = model.parts(x)
    assert torch.equal(out, out1 + out2)
    assert torch.equal(out1, p["unif"]) and torch.equal(out2, p["align"])
    # the mask: a softmax over nf channels at HR size, applied to branch 1; 1 - mask to branch 2
    assert p["mask"].shape == (2, TINY["nf"], 32, 32) and p["mid"].shape == (2, 3, 32, 32)
    torch.testing.assert_close(p["mask"].sum(dim=1), torch.ones(2, 32, 32))
    with torch.no_grad():
        torch.testing.assert_close(out1, model.tail_conv1(p["mask"] * model.branch1(p["mid"])))
        torch.testing.assert_close(out2, model.tail_conv2((1 - p["mask"]) * model.branch2(p["mid"])))


def test_branch_roles_follow_the_training_code():
    """out1 (adversarial, "unif") comes from branch1/tail_conv1, out2 (pixel, "align") from
    branch2/tail_conv2."""
    model = tiny().train()
    x = torch.rand(1, 3, 8, 8)
    _, out1, out2 = model(x, branches=True)
    out2.abs().mean().backward(retain_graph=True)
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert grads["tail_conv2.weight"].abs().sum() > 0 and grads["branch2.0.conv.weight"].abs().sum() > 0
    assert grads["tail_conv1.weight"] is None and grads["branch1.0.conv.weight"] is None
    assert grads["sm.0.conv.weight"].abs().sum() > 0 and grads["conv_first.weight"].abs().sum() > 0
    model.zero_grad(set_to_none=True)
    out1.abs().mean().backward()
    assert model.tail_conv1.weight.grad.abs().sum() > 0 and model.tail_conv2.weight.grad is None


@pytest.mark.parametrize("scale", [4, 1])
def test_paper_head_masks_and_fusion(scale):
    model = tiny(scale, head="paper")
    x = torch.rand(2, 3, 6, 5)
    with torch.no_grad():
        p = model.parts(x)
        out, unif, align = model(x, branches=True)
    size = (6 * scale, 5 * scale)
    s, s_tilde = p["mask_align"], p["mask_unif"]
    assert p["mask"].shape == (2, 2, *size) and s.shape == s_tilde.shape == (2, 1, *size)
    torch.testing.assert_close(s + s_tilde, torch.ones(2, 1, *size))
    assert ((s > 0) & (s < 1)).all()
    torch.testing.assert_close(out, align * s + unif * s_tilde)  # eq. 10
    # F_beta reads the LR image only: the masks do not depend on the trunk
    trunk_changed = tiny(scale, head="paper")
    with torch.no_grad():
        trunk_changed.conv_first.weight.add_(1.0)
        q = trunk_changed.parts(x)
    assert torch.equal(q["mask"], p["mask"]) and not torch.allclose(q["align"], p["align"])


def test_paper_head_mask_upsampling_option():
    bilinear, nearest = tiny(head="paper"), tiny(head="paper", mask_upsample="nearest")
    x = torch.rand(1, 3, 6, 6)
    with torch.no_grad():
        a, b = bilinear.parts(x), nearest.parts(x)
    assert torch.equal(a["align"], b["align"]) and not torch.allclose(a["mask"], b["mask"])
    assert torch.equal(b["mask"][..., ::4, ::4], b["mask"][..., 3::4, 3::4])  # 4x4 blocks


def test_x1_is_the_x4_network_without_interpolation():
    x4, x1 = tiny(4), tiny(1)
    assert {k: v.shape for k, v in x4.state_dict().items()} == {k: v.shape for k, v in x1.state_dict().items()}
    assert count_parameters(x1) == count_parameters(x4)
    x1.load_state_dict(x4.state_dict())
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        fea = x4.conv_first(x)
        fea = fea + x4.trunk_conv(x4.RRDB_trunk(fea))
        fea = x4.lrelu(x4.upconv2(x4.lrelu(x4.upconv1(fea))))
        mid = x4.conv_last(x4.lrelu(x4.HRconv(fea)))
        torch.testing.assert_close(x1.parts(x)["mid"], mid)


# -- the discriminator ---------------------------------------------------------------------------
def test_patch_discriminator_size_and_output():
    with torch.device("meta"):
        d = build_patch_discriminator()
        plain = build_patch_discriminator(norm="none")
        instance = build_patch_discriminator(norm="instance")   # CycleGAN's: no affine, convs keep a bias
    assert count_parameters(d) == PUBLIC_D_PARAMS == 2_765_633  # the notes' "about 2.77 M"
    assert round(count_parameters(d) / 1e6, 2) == 2.77
    # without BatchNorm: no affine (2 x (128 + 256 + 512)), but biases on those convs (128 + 256 + 512)
    assert count_parameters(d) - count_parameters(plain) == 896
    sd = d.state_dict()
    shapes = {"model.0.weight": (64, 3, 4, 4), "model.0.bias": (64,), "model.2.weight": (128, 64, 4, 4),
              "model.3.running_mean": (128,), "model.5.weight": (256, 128, 4, 4),
              "model.8.weight": (512, 256, 4, 4), "model.9.weight": (512,), "model.11.weight": (1, 512, 4, 4),
              "model.11.bias": (1,)}
    for k, shape in shapes.items():
        assert tuple(sd[k].shape) == shape, k
    assert "model.2.bias" not in sd and "model.8.bias" not in sd  # convs before a norm: no bias
    assert "model.2.bias" in plain.state_dict() and "model.3.weight" not in plain.state_dict()
    assert count_parameters(instance) == count_parameters(plain) and isinstance(instance.model[3], torch.nn.InstanceNorm2d)
    torch.manual_seed(0)
    small = PatchDiscriminator(ndf=4)
    for size, patches in ((64, 6), (128, 14), (32, 2)):  # three stride-2 stages, two stride-1 convs
        assert small(torch.rand(2, 3, size, size)).shape == (2, 1, patches, patches)


@pytest.mark.parametrize("key, value", [("ndf", 0), ("n_layers", 0), ("n_layers", 2.0), ("norm", "group"),
                                        ("in_nc", True)])
def test_discriminator_bad_parameters_name_the_key(key, value):
    with pytest.raises(ConfigError, match=key):
        build_patch_discriminator(**{key: value})
    with pytest.raises(ConfigError, match="nf"):
        build_patch_discriminator(nf=64)


# -- importer ------------------------------------------------------------------------------------
def test_importer_refuses_a_plain_rrdb_checkpoint_and_names_the_head():
    model = tiny()
    trunk = {k: v for k, v in model.state_dict().items() if not k.startswith(HEAD_GROUPS)}
    for load in (lambda: load_criacl_state(tiny(), trunk), lambda: convert_official(trunk, 4, **TINY)):
        with pytest.raises(CirError, match="plain ESRGAN/RRDB checkpoint") as err:
            load()
        msg = str(err.value)
        for group in HEAD_GROUPS:
            assert f"{group}.*" in msg
        assert "branch1.0.block.0.bias" in msg and "sm.0.conv.weight" not in msg  # first keys, sorted
    assert not is_criacl_state(trunk)
    partial = {k: v for k, v in model.state_dict().items() if not k.startswith("tail_conv2.")}
    with pytest.raises(CirError, match=r"only part of the two-branch head; missing tail_conv2\.\* \(2 keys\)"):
        load_criacl_state(tiny(), partial)
    with pytest.raises(CirError, match="not a Cria-CL checkpoint"):
        load_criacl_state(tiny(), {"weight": torch.zeros(1)})


def test_importer_strips_wrappers_and_checks_shapes():
    source = tiny(seed=1)
    sd = source.state_dict()
    x = torch.rand(1, 3, 6, 6)
    with torch.no_grad():
        want = source(x)
    wrapped = [
        sd,
        {f"module.{k}": v for k, v in sd.items()},
        {"params": {f"module.{k}": v for k, v in sd.items()}},
        {"params": {k: torch.zeros_like(v) for k, v in sd.items()}, "params_ema": sd},  # EMA preferred
        {"state_dict": sd, "iter": 5000},
    ]
    for obj in wrapped:
        assert is_criacl_state(obj)
        model = load_criacl_state(tiny(seed=2), obj)
        with torch.no_grad():
            assert torch.equal(model(x), want)
        assert set(convert_official(obj, 4, **TINY)) == set(sd)
    with torch.no_grad():  # key= picks the other entry
        assert not torch.equal(load_criacl_state(tiny(), wrapped[3], key="params")(x), want)
    with pytest.raises(CirError, match=r"wrong shapes: .*HRconv\.weight \(8, 8, 3, 3\) \(expected \(16, 16, 3, 3\)\)"):
        convert_official(sd, 4, **{**TINY, "nf": 16})
    with pytest.raises(CirError, match="missing keys: .*RRDB_trunk.1"):
        convert_official(sd, 4, **{**TINY, "nb": 2})


# -- validation ----------------------------------------------------------------------------------
@pytest.mark.parametrize("key, value", [
    ("nf", 1), ("nf", 8.0), ("nb", 0), ("nb", True), ("gc", 0), ("head", "both"), ("head", None),
    ("mask_upsample", "bicubic"),
])
def test_bad_parameters_name_the_key(key, value):
    with pytest.raises(ConfigError, match=key):
        build_criacl(4, **{**TINY, key: value})
    with pytest.raises(ConfigError, match=key):
        build_model("criacl", 4, **{**TINY, key: value})


def test_unknown_parameter_and_scale():
    with pytest.raises(ConfigError, match="'num_blocks'"):
        build_criacl(4, num_blocks=23)
    for scale in (2, 3, 8):
        with pytest.raises(ConfigError, match="'scale'"):
            build_criacl(scale, **TINY)
        with pytest.raises(CirError, match="scale"):
            build_model("criacl", scale, **TINY)
    assert CRIACL_DEFAULTS == {"nf": 64, "nb": 23, "gc": 32, "head": "code", "mask_upsample": "bilinear"}


# -- registry ------------------------------------------------------------------------------------
def test_registry_entry():
    from cir.architectures import ARCH_NAMES

    entry = ARCHITECTURES["criacl"]
    assert not entry.scale_one and entry.spandrel_name == "" and entry.convert is not None
    assert entry.recognise is not None
    assert "Criteria Comparative Learning" in entry.citation and "TCSVT 2022" in entry.citation
    assert "House-Leo/RealSR-CCL" in CITATION
    assert "criacl" in ARCH_NAMES and ARCH_NAMES == tuple(sorted(ARCHITECTURES))
    assert pad_multiple("criacl") == 1
    model = build_model("criacl", 1, **TINY, head="paper")
    assert isinstance(model, CriaCLNet) and model.scale == 1 and model.head == "paper"
    assert model.cir_spec == {"arch": "criacl", "scale": 1, "params": {**TINY, "head": "paper"}}


@pytest.mark.parametrize("head", ["code", "paper"])
def test_cir_model_file_round_trip(tmp_path, head):
    torch.manual_seed(0)
    model = build_model("criacl", 4, **TINY, head=head).eval()
    path = tmp_path / "criacl.pt"
    ckpt.save(path, ckpt.model_file(model.cir_spec, model.state_dict(), None, {"name": "test"}))
    loaded = load_model_file(path, expect_arch="criacl", expect_scale=4).eval()
    assert isinstance(loaded, CriaCLNet) and loaded.head == head
    assert loaded.state_dict().keys() == model.state_dict().keys()
    assert loaded.cir_spec == model.cir_spec
    x = torch.rand(1, 3, 6, 6)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_official_file_never_reaches_spandrel(tmp_path):
    """spandrel reads a Cria-CL file as ESRGAN, keeps only the trunk and outputs the trunk's image;
    the registry reads the file itself, with or without ``expect_arch``."""
    import spandrel

    params = {"nf": 8, "nb": 1, "gc": 32}  # spandrel's ESRGAN assumes growth 32
    torch.manual_seed(0)
    official = build_criacl(4, **params).eval()
    path = tmp_path / "NTIRE.pth"
    torch.save(official.state_dict(), path)  # the public release: a plain state dict
    x = torch.rand(1, 3, 6, 6)

    descriptor = spandrel.ModelLoader(device="cpu").load_from_file(path)
    assert descriptor.architecture.id == "ESRGAN"
    assert len(descriptor.model.state_dict()) < len(official.state_dict())  # the head is gone
    with torch.no_grad():
        torch.testing.assert_close(descriptor.model.eval()(x), official.parts(x)["mid"])

    for kwargs in ({"expect_arch": "criacl"}, {}):
        model = load_model_file(path, expect_scale=4, params=params, **kwargs).eval()
        assert isinstance(model, CriaCLNet)
        assert model.state_dict().keys() == official.state_dict().keys()
        with torch.no_grad():
            assert torch.equal(model(x), official(x))
    with pytest.raises(CirError, match="needs its scale"):
        load_model_file(path, params=params)
    trunk_only = tmp_path / "RRDB_PSNR_x4.pth"
    torch.save({k: v for k, v in official.state_dict().items() if not k.startswith(HEAD_GROUPS)}, trunk_only)
    with pytest.raises(CirError, match="RRDB_PSNR_x4.pth: Cria-CL: .*plain ESRGAN/RRDB checkpoint"):
        load_model_file(trunk_only, expect_arch="criacl", expect_scale=4, params=params)


def test_esrgan_psnr_weights_start_the_trunk_and_leave_the_head():
    """The public configuration starts from ESRGAN's RRDB_PSNR_x4.pth (the original repository's
    model.N keys): loaded into the trunk, the code head's ``mid`` image is ESRGAN's output."""
    from spandrel.architectures.ESRGAN import ESRGAN

    from cir.models.criacl import build_criacl, esrgan_trunk_state, load_esrgan_trunk

    torch.manual_seed(0)
    esrgan = ESRGAN(num_filters=64, num_blocks=1, scale=4).eval()   # old-arch keys, gc 32
    old = esrgan.state_dict()
    assert "model.1.sub.1.weight" in old and "model.10.weight" in old
    net = build_criacl(4, nb=1).eval()
    head = {k: v.clone() for k, v in net.state_dict().items() if k.startswith(("branch1.", "sm.", "tail_conv2."))}
    load_esrgan_trunk(net, {"params": old})
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(net.parts(x)["mid"], esrgan(x), atol=1e-6)
    assert all(torch.equal(net.state_dict()[k], v) for k, v in head.items())
    # new-arch names (BasicSR) map to themselves; a wrong nb or a foreign key is named
    assert set(esrgan_trunk_state(net.state_dict(), 1)) == {k for k in net.state_dict() if k.startswith(
        ("conv_first", "RRDB_trunk", "trunk_conv", "upconv", "HRconv", "conv_last"))}
    with pytest.raises(CirError, match="model.1.sub.1.weight.*is nb 2 right"):
        esrgan_trunk_state(old, 2)
    with pytest.raises(CirError, match="ESRGAN trunk of Cria-CL"):
        load_esrgan_trunk(build_criacl(4, nb=1, nf=32), old)   # a narrower network: shapes named
