"""DRCNet (cir.models.drcnet): size of the public configuration, MACs at 256x256 against the
supplement's printed 124.2, any input size, both stage outputs, the branch switches, the paper's
t/delta defaults, parameter validation and the registry entry."""

from __future__ import annotations

import pytest
import torch

from cir.errors import CirError, ConfigError
from cir.eval.efficiency import count_flops
from cir.models import ARCHITECTURES, build_model, count_parameters
from cir.models.drcnet import (
    CITATION,
    CODE_VALUES,
    DRCNET_DEFAULTS,
    PAPER_VALUES,
    PUBLIC_MACS_256,
    PUBLIC_PARAMS,
    PUBLISHED_GFLOPS,
    DRCNet,
    RegionNorm,
    build_drcnet,
    pad_multiple,
    simam,
)

TINY = {"width": 8, "depth": 3}

# Measured: the public configuration (width 64, depth 4, spatial filter at every encoder level).
EXACT_PARAMS = 18_975_798
# Spatial-filter parameters per encoder block with c output channels (7x7 mask conv 2->1 without
# bias, 7x7 gamma and beta convs 1->1 with bias, instance-norm affine on c/2 channels).
SF_FIXED = 2 * 49 + 2 * (49 + 1)


def randomise(model: torch.nn.Module, seed: int = 0, scale: float = 0.1) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * scale)
    return model


def tiny(seed: int = 0, **extra) -> DRCNet:
    return randomise(build_drcnet(1, **{**TINY, **extra}), seed)


# -- sizes -------------------------------------------------------------------------------------
def test_public_configuration_parameter_count():
    with torch.device("meta"):  # shapes only
        model = build_drcnet(1)
    n = count_parameters(model)
    assert n == EXACT_PARAMS == PUBLIC_PARAMS
    # the notes' 18.98 M: equal to the printed digits (18.975798 M rounds to 18.98 M; 0.02 % off)
    assert round(n / 1e6, 2) == 18.98
    assert n == pytest.approx(18.98e6, abs=5e3)


def test_macs_at_256_against_the_printed_124_2():
    # Counted on meta tensors: torch's counter needs only shapes, and a real 256x256 forward pass
    # of the full network takes ~10 s on a loaded 2-core CPU; the counts are identical (checked
    # at 32x32 below, where the real pass is cheap).
    with torch.device("meta"):
        model = build_drcnet(1)
    count = count_flops(model, (1, 3, 256, 256))
    assert count.macs == PUBLIC_MACS_256 == 114_416_984_064  # 114.42 G multiply-accumulates
    assert count.flops == 2 * PUBLIC_MACS_256  # 228.83 G FLOPs (torch: 2 per MAC)
    assert set(count.by_operator) == {"convolution"}
    assert count.output_shape == (1, 3, 256, 256)
    # The supplement's "FLOPs (G)" 124.2 (Tables 3-5) matches the MACs, not the FLOPs: it is
    # 8.55 % above 114.42 G MACs but 45.7 % below 228.83 G FLOPs. The remaining ~9.8 G is not
    # explained (a counter that also counts biases/normalisation/element-wise work is likely).
    assert PUBLISHED_GFLOPS / (count.macs / 1e9) == pytest.approx(1.0855, abs=5e-4)
    assert PUBLISHED_GFLOPS / (count.flops / 1e9) == pytest.approx(0.5428, abs=5e-4)


def test_macs_scale_with_pixels_and_meta_equals_real():
    torch.manual_seed(0)
    real = build_drcnet(1)
    with torch.device("meta"):
        meta = build_drcnet(1)
    small_real = count_flops(real, (1, 3, 32, 32))
    small_meta = count_flops(meta, (1, 3, 32, 32))
    assert small_real.flops == small_meta.flops
    # every convolution runs at a fixed fraction of the input size: 256^2 = 64 x 32^2
    assert 64 * small_real.macs == PUBLIC_MACS_256


# -- any size, both stages ---------------------------------------------------------------------
@pytest.mark.parametrize("size", [(17, 23), (5, 7), (1, 1), (16, 24)])
@pytest.mark.parametrize("depth", [3, 4])
def test_output_shapes_any_size(size, depth):
    model = tiny(depth=depth).eval()
    x = torch.rand(2, 3, *size)
    before = x.clone()
    with torch.no_grad():
        y = model(x)
        s1, s2 = model(x, stages=True)
    assert y.shape == s1.shape == s2.shape == x.shape
    assert torch.equal(y, s2)
    assert torch.equal(x, before)
    assert torch.isfinite(s1).all() and torch.isfinite(s2).all()


def test_both_stages_are_distinct_and_trainable():
    model = tiny().train()
    x = torch.rand(2, 3, 16, 16)
    s1, s2 = model(x, stages=True)
    assert not torch.allclose(s1, s2)
    (s1.abs().mean() + s2.abs().mean()).backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert all(g is not None for g in grads.values()), [n for n, g in grads.items() if g is None]
    # the mask conv learns through the gamma/beta maps (the threshold itself is detached)
    assert grads["down_path_1.0.norm.sa.conv1.weight"].abs().sum() > 0
    # stage 1 alone reaches no stage-2-only layer
    model.zero_grad()
    model(x, stages=True)[0].abs().mean().backward()
    assert model.last.weight.grad is None or model.last.weight.grad.abs().sum() == 0


def test_residual_to_input():
    """Both stage images are input + a correction: with the final convs zeroed they equal x."""
    model = tiny().eval()
    with torch.no_grad():
        for conv in (model.last, model.sam12.conv2):
            conv.weight.zero_()
            conv.bias.zero_()
        x = torch.rand(1, 3, 16, 16)
        s1, s2 = model(x, stages=True)
    assert torch.equal(s1, x) and torch.equal(s2, x)


def test_pad_multiple():
    assert pad_multiple() == 16 and pad_multiple({"depth": 3}) == 8
    assert build_model("drcnet", 1, **TINY).cir_pad_multiple == 8
    assert build_model("drcnet", 1, width=8).cir_pad_multiple == 16


# -- defaults and switches -----------------------------------------------------------------------
def test_paper_defaults_and_code_options():
    assert PAPER_VALUES == {"t": 0.75, "delta": 1e-6}  # supplement Tables 1 and 2
    assert CODE_VALUES == {"t": 0.8, "delta": 1e-4}  # public code (RN_L, simam_module)
    assert DRCNET_DEFAULTS["t"] == 0.75 and DRCNET_DEFAULTS["delta"] == 1e-6
    assert DRCNET_DEFAULTS["width"] == 64 and DRCNET_DEFAULTS["depth"] == 4
    model = build_drcnet(1, **TINY)
    blocks = [*model.down_path_1, *model.down_path_2]
    assert {b.norm.t for b in blocks} == {0.75} and {b.delta for b in blocks} == {1e-6}
    code = build_drcnet(1, **TINY, **CODE_VALUES)
    assert {b.norm.t for b in [*code.down_path_1]} == {0.8} and code.down_path_2[0].delta == 1e-4
    assert "Li" in CITATION and "ECCV 2022" in CITATION and "leefly072/DRCNet" in CITATION


def test_energy_attention_has_no_parameters():
    on, off = tiny(), tiny(energy_attention=False)
    assert count_parameters(on) == count_parameters(off)
    assert on.state_dict().keys() == off.state_dict().keys()
    off.load_state_dict(on.state_dict())
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert not torch.allclose(on.eval()(x), off.eval()(x))


def test_spatial_filter_adds_mask_conv_and_norm():
    with torch.device("meta"):
        on, off = build_drcnet(1), build_drcnet(1, spatial_filter=False)
    # 8 encoder blocks (2 stages x 4 levels of 64..512 channels): mask/gamma/beta convs + affine
    expected = 2 * sum(SF_FIXED + c for c in (64, 128, 256, 512))
    assert count_parameters(on) - count_parameters(off) == expected == 3_504
    assert not any(".norm." in k for k in off.state_dict())
    with torch.device("meta"):
        k3 = build_drcnet(1, mask_kernel=3)  # the figure's 3x3: (2 + 1 + 1) x (49 - 9) weights per block
    assert count_parameters(on) - count_parameters(k3) == 8 * 4 * 40
    a, b = tiny(), tiny(spatial_filter=False)
    b.load_state_dict({k: v for k, v in a.state_dict().items() if ".norm." not in k})
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert not torch.allclose(a.eval()(x), b.eval()(x))


def test_sf_levels_keep_keys_change_behaviour():
    full, partial = tiny(), tiny(sf_levels=[2])
    assert full.state_dict().keys() == partial.state_dict().keys()  # as the code: norm at every level
    assert [b.use_sf for b in partial.down_path_2] == [False, False, True]
    partial.load_state_dict(full.state_dict())
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert not torch.allclose(full.eval()(x), partial.eval()(x))


def _run(model: DRCNet, x: torch.Tensor, masks: list | None = None) -> torch.Tensor:
    """Stage-2 output; with ``masks``, records the fraction of pixels each applied SF masks."""
    hooks = []
    if masks is not None:
        for block in model.down_path_1:
            t = block.norm.t
            hooks.append(block.norm.sa.register_forward_hook(
                lambda m, i, o, t=t: masks.append((o[0] >= t).float().mean().item())))
    try:
        with torch.no_grad():
            return model.eval()(x)
    finally:
        for h in hooks:
            h.remove()


def test_threshold_splits_regions_and_changes_output():
    x = torch.rand(1, 3, 16, 16)
    half, high = tiny(t=0.5), tiny(t=0.75)
    masks: list[float] = []
    y_half = _run(half, x, masks)
    assert any(0 < f < 1 for f in masks)  # t = 0.5 splits the (near-0.5) random-weight maps
    assert not torch.allclose(y_half, _run(high, x))


def test_full_and_empty_masks_coincide():
    """A mask covering everything (t = 0) and one covering nothing (t = 1 with the map below 1)
    give the same output: either way one region is the whole map and the other contributes the
    affine bias / sqrt(BHW) (the code's empty-region area of 1)."""
    x = torch.rand(1, 3, 16, 16)
    everything, nothing = tiny(t=0.0), tiny(t=1.0)
    masks: list[float] = []
    y0 = _run(everything, x)
    y1 = _run(nothing, x, masks)
    assert set(masks) == {0.0}
    torch.testing.assert_close(y0, y1)


# -- the two branches ----------------------------------------------------------------------------
def test_simam_formula():
    x = torch.randn(2, 4, 5, 6)
    delta = 1e-4
    mu = x.mean(dim=(2, 3), keepdim=True)
    var = ((x - mu) ** 2).sum(dim=(2, 3), keepdim=True) / (5 * 6 - 1)
    expected = x * torch.sigmoid((x - mu) ** 2 / (4 * (var + delta)) + 0.5)
    torch.testing.assert_close(simam(x, delta), expected)


def test_region_norm_full_mask_is_instance_norm():
    rn = RegionNorm(4)
    with torch.no_grad():
        rn.bn_norm.weight.uniform_(0.5, 1.5)
        rn.bn_norm.bias.uniform_(-0.5, 0.5)
    x = torch.randn(2, 4, 6, 6)
    ones = torch.ones(2, 1, 6, 6)
    # the empty complementary region counts as area 1 (the code's Sr[Sr == 0] = 1): it adds the
    # affine bias times sqrt(1 / (B H W))
    expected = rn.bn_norm(x) + rn.bn_norm.bias.view(1, 4, 1, 1) * (1 / (2 * 36)) ** 0.5
    torch.testing.assert_close(rn(x, ones), expected)


@pytest.mark.parametrize("batch_stats", [True, False])
def test_region_statistics_span_the_batch_as_in_the_code(batch_stats):
    rn = RegionNorm(3, batch_stats=batch_stats)
    x = torch.randn(2, 3, 8, 8)
    mask = (torch.rand(2, 1, 8, 8) > 0.5).float()
    y = rn(x, mask)
    x2 = x.clone()
    x2[1] = x2[1] * 3 + 1
    y2 = rn(x2, mask)
    # the code's region mean and area run over dims (0, 2, 3): image 0 depends on image 1
    assert torch.allclose(y[0], y2[0]) is (not batch_stats)


# -- state-dict keys of the public code ------------------------------------------------------------
def test_public_code_key_names_and_shapes():
    with torch.device("meta"):
        sd = build_drcnet(1).state_dict()
    shapes = {
        "conv_01.weight": (64, 3, 3, 3),
        "conv_02.weight": (64, 3, 3, 3),
        "down_path_1.0.identity.weight": (64, 64, 1, 1),
        "down_path_1.0.conv_1.weight": (64, 64, 3, 3),
        "down_path_1.1.conv_2.weight": (128, 64, 3, 3),  # the parallel EA conv reads the block input
        "down_path_1.0.norm.sa.conv1.weight": (1, 2, 7, 7),
        "down_path_1.0.norm.sa.gamma_conv.bias": (1,),
        "down_path_1.3.norm.sa.beta_conv.weight": (1, 1, 7, 7),
        "down_path_1.3.norm.rn.bn_norm.weight": (256,),
        "down_path_1.2.downsample.weight": (256, 256, 4, 4),
        "down_path_2.2.csff_enc.weight": (256, 256, 3, 3),
        "down_path_2.0.csff_dec.bias": (64,),
        "up_path_1.0.up.weight": (512, 256, 2, 2),
        "up_path_2.2.conv_block.identity.weight": (64, 128, 1, 1),
        "up_path_2.2.conv_block.conv_1.weight": (64, 128, 3, 3),
        "up_path_2.2.conv_block.conv_2.weight": (64, 64, 3, 3),
        "skip_conv_1.0.weight": (256, 256, 3, 3),
        "skip_conv_2.2.bias": (64,),
        "sam12.conv1.weight": (64, 64, 3, 3),
        "sam12.conv2.weight": (3, 64, 3, 3),
        "sam12.conv3.weight": (64, 3, 3, 3),
        "cat12.weight": (64, 128, 1, 1),
        "last.weight": (3, 64, 3, 3),
    }
    for k, shape in shapes.items():
        assert tuple(sd[k].shape) == shape, k
    absent = ["down_path_1.3.downsample.weight", "down_path_1.0.csff_enc.weight",
              "down_path_2.3.csff_enc.weight", "down_path_1.0.norm.sa.conv1.bias", "up_path_1.3.up.weight"]
    assert not any(k in sd for k in absent)
    assert len(sd) == 196  # the public code's key set (compared once against its module, width 16)


# -- validation and registry -----------------------------------------------------------------------
@pytest.mark.parametrize("key, value", [
    ("width", 7), ("width", 0), ("width", 8.0), ("depth", 0), ("t", 1.5), ("t", "high"),
    ("delta", 0), ("delta", -1e-6), ("spatial_filter", 1), ("energy_attention", "yes"),
    ("sf_levels", [0, 3]), ("sf_levels", "all"), ("mask_kernel", 5), ("rn_batch_stats", None),
    ("relu_slope", -0.2), ("in_channels", 0),
])
def test_bad_parameters_name_the_key(key, value):
    with pytest.raises(ConfigError, match=key):
        build_drcnet(1, **{**TINY, key: value})
    with pytest.raises(CirError, match=key):
        build_model("drcnet", 1, **{**TINY, key: value})


def test_unknown_parameter_and_scale():
    with pytest.raises(ConfigError, match="wf"):
        build_drcnet(1, wf=64)
    with pytest.raises(CirError, match="scale 1"):
        build_drcnet(2)
    with pytest.raises(CirError, match="scale"):
        build_model("drcnet", 4, **TINY)


def test_registry_entry():
    from cir.architectures import ARCH_NAMES

    entry = ARCHITECTURES["drcnet"]
    assert entry.scale_one and entry.spandrel_name == "" and entry.convert is None
    assert "DRCNet" in entry.citation and "ECCV 2022" in entry.citation
    assert "drcnet" in ARCH_NAMES and ARCH_NAMES == tuple(sorted(ARCHITECTURES))
    model = build_model("drcnet", 1, **TINY, t=0.8)
    assert isinstance(model, DRCNet)
    assert model.cir_spec == {"arch": "drcnet", "scale": 1, "params": {**TINY, "t": 0.8}}
    x = torch.rand(1, 3, 9, 11)
    with torch.no_grad():
        assert model.eval()(x).shape == x.shape
