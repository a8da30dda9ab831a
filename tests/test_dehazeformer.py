"""DehazeFormer (cir.models.dehazeformer): sizes, official key names, any input size, the [0, 1]
adapter, official weight files."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cir.errors import CirError
from cir.models.dehazeformer import (
    CITATION,
    DEHAZEFORMER_VARIANTS,
    PARAM_COUNTS,
    PUBLISHED_PARAMS,
    RLN,
    DehazeFormer,
    TokenMixer,
    build_dehazeformer,
    convert_official,
    count_without_rln_affine,
    pad_multiple,
)

# Tiny network: the T layout with narrow stages, and enough blocks that layer 2 has one shifted
# attention block and layer 3 an unshifted and a shifted one.
TINY = {"embed_dims": [8, 16, 24, 16, 8], "depths": [1, 2, 2, 1, 1], "num_heads": [1, 2, 3, 1, 1]}

# Exact parameter counts, pinned (the official modules have exactly as many).
EXACT = {"t": 687_404, "s": 1_284_884, "b": 2_517_612, "m": 4_635_952, "l": 25_451_652}


def tiny(seed: int = 0, **extra) -> DehazeFormer:
    torch.manual_seed(seed)
    model = build_dehazeformer(1, "t", **TINY, **extra)
    with torch.no_grad():  # the official init leaves biases at 0 and RLN at identity; perturb all
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    return model.eval()


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# -- sizes -------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["t", "s", "b"])
def test_full_size_parameter_counts(variant):
    model = build_dehazeformer(1, variant)
    n = n_params(model)
    assert n == EXACT[variant] == PARAM_COUNTS[variant]
    assert n / 1e6 == pytest.approx(PUBLISHED_PARAMS[variant], rel=0.005)
    # the paper's "#Param" leaves out the RLN affine weight/bias: exact to the printed digits
    assert round(count_without_rln_affine(model) / 1e6, 3) == PUBLISHED_PARAMS[variant]


@pytest.mark.parametrize("variant", ["m", "l"])
def test_m_and_l_parameter_counts(variant):
    model = build_dehazeformer(1, variant)
    assert n_params(model) == EXACT[variant] == PARAM_COUNTS[variant]
    assert n_params(model) / 1e6 == pytest.approx(PUBLISHED_PARAMS[variant], rel=0.005)
    if variant == "m":
        assert round(count_without_rln_affine(model) / 1e6, 3) == PUBLISHED_PARAMS["m"]


def test_variant_settings():
    for name, depths in {"t": [4, 4, 4, 2, 2], "s": [8, 8, 8, 4, 4], "b": [16, 16, 16, 8, 8]}.items():
        v = DEHAZEFORMER_VARIANTS[name]
        assert v["depths"] == depths
        assert v["embed_dims"] == [24, 48, 96, 48, 24]
        assert v["num_heads"] == [2, 4, 6, 1, 1]
        assert v["mlp_ratios"] == [2.0, 4.0, 4.0, 2.0, 2.0]
        assert v["window_size"] == 8
        assert v["conv_type"] == ["DWConv"] * 5
    assert DEHAZEFORMER_VARIANTS["t"]["attn_ratio"] == [0.0, 0.5, 1.0, 0.0, 0.0]
    assert DEHAZEFORMER_VARIANTS["b"]["attn_ratio"] == [0.25, 0.5, 0.75, 0.0, 0.0]
    assert DEHAZEFORMER_VARIANTS["m"]["conv_type"] == ["Conv"] * 5
    assert "Song" in CITATION and "Transactions on Image Processing" in CITATION


def test_attention_layout_of_b():
    """The last attn_ratio * depth blocks of a stage attend; odd blocks shift by half a window."""
    model = build_dehazeformer(1, "b")
    for layer, n_attn in zip((model.layer1, model.layer2, model.layer3, model.layer4, model.layer5), (4, 8, 12, 0, 0)):
        flags = [block.use_attn for block in layer.blocks]
        assert flags == [False] * (len(flags) - n_attn) + [True] * n_attn
        assert all(isinstance(b.norm1, RLN) == b.use_attn for b in layer.blocks)
        assert [b.attn.shift_size for b in layer.blocks] == [0 if i % 2 == 0 else 4 for i in range(len(flags))]


# -- official key names ------------------------------------------------------------------------
def test_official_key_names_and_shapes():
    sd = build_dehazeformer(1, "t").state_dict()
    assert len(sd) == 258  # as the official dehazeformer_t()
    expected = {
        "patch_embed.proj.weight": (24, 3, 3, 3),
        "layer1.blocks.0.attn.conv.weight": (24, 1, 5, 5),
        "layer1.blocks.0.attn.V.weight": (24, 24, 1, 1),
        "layer1.blocks.0.mlp.mlp.0.weight": (48, 24, 1, 1),
        "patch_merge1.proj.weight": (48, 24, 2, 2),
        "skip1.weight": (24, 24, 1, 1),
        "layer2.blocks.2.norm1.weight": (1, 48, 1, 1),
        "layer2.blocks.2.norm1.meta1.weight": (48, 1, 1, 1),
        "layer2.blocks.2.attn.QK.weight": (96, 48, 1, 1),
        "layer2.blocks.2.attn.attn.relative_positions": (64, 64, 2),
        "layer2.blocks.2.attn.attn.meta.0.weight": (256, 2),
        "layer3.blocks.1.attn.attn.meta.2.weight": (6, 256),
        "patch_split1.proj.0.weight": (192, 96, 1, 1),
        "fusion1.mlp.0.weight": (6, 48, 1, 1),
        "fusion1.mlp.2.weight": (96, 6, 1, 1),
        "fusion2.mlp.0.weight": (4, 24, 1, 1),
        "patch_unembed.proj.0.weight": (4, 24, 3, 3),
    }
    for key, shape in expected.items():
        assert tuple(sd[key].shape) == shape, key
    # blocks without attention have no RLN and no QK
    assert "layer2.blocks.1.norm1.weight" not in sd and "layer1.blocks.3.attn.QK.weight" not in sd
    rel = sd["layer3.blocks.0.attn.attn.relative_positions"]
    assert rel[0, 1].tolist() == pytest.approx([0.0, -torch.log(torch.tensor(2.0)).item()])
    m_sd = build_dehazeformer(1, "m").state_dict()
    assert "layer1.blocks.0.attn.conv.0.weight" in m_sd and "layer1.blocks.0.attn.V.weight" not in m_sd
    assert "layer1.blocks.11.attn.V.weight" in m_sd  # attention blocks keep V and proj


# -- any input size, [0, 1] adapter ----------------------------------------------------------------
@pytest.mark.parametrize("shape", [(1, 3, 20, 28), (2, 3, 17, 9), (1, 3, 5, 7), (1, 3, 33, 64)])
def test_output_shape_any_size(shape):
    model = tiny()
    with torch.no_grad():
        y = model(torch.rand(shape))
    assert y.shape == shape and torch.isfinite(y).all()


def test_tiny_network_uses_shifted_window_attention():
    model = tiny()
    mixers = [m for m in model.modules() if isinstance(m, TokenMixer) and m.use_attn]
    assert sorted(m.shift_size for m in mixers) == [0, 4, 4]


def test_input_padding_is_bottom_right_reflection_and_crop():
    """As the official check_image_size: reflect-pad to a multiple of 4, run, crop."""
    model = tiny(input_range="signed")
    x = torch.rand(1, 3, 21, 30) * 2 - 1
    with torch.no_grad():
        y = model(x)
        y_padded = model(F.pad(x, (0, 2, 0, 3), mode="reflect"))
    torch.testing.assert_close(y, y_padded[..., :21, :30], rtol=0, atol=0)
    assert pad_multiple({}) == 4 and pad_multiple(TINY) == 4


def test_unit_range_adapter_matches_signed_network():
    unit = tiny()
    signed = tiny(input_range="signed")
    signed.load_state_dict(unit.state_dict())
    x = torch.rand(2, 3, 20, 28)
    with torch.no_grad():
        a = unit(x)
        b = (signed(2 * x - 1) + 1) / 2
        c = (unit.forward_signed(2 * x - 1) + 1) / 2
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    torch.testing.assert_close(a, c, rtol=0, atol=0)
    assert not torch.allclose(a, signed(x).detach(), atol=1e-3)  # the adapter does change the mapping


def test_output_is_k_times_x_minus_b_plus_x():
    model = tiny(input_range="signed")
    x = torch.rand(1, 3, 16, 24) * 2 - 1
    with torch.no_grad():
        k, b = torch.split(model.forward_features(x), (1, 3), dim=1)
        torch.testing.assert_close(model(x), k * x - b + x)


def test_gradients_reach_every_parameter():
    model = tiny().train()
    model(torch.rand(2, 3, 16, 20)).mean().backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None]
    assert not missing


# -- official weight files --------------------------------------------------------------------
def test_convert_official_round_trip():
    source = tiny(seed=1)
    x = torch.rand(1, 3, 20, 28)
    with torch.no_grad():
        expected = source(x)
    official = {"state_dict": {"module." + k: v for k, v in source.state_dict().items()}}
    for obj in (official, official["state_dict"], source.state_dict()):
        target = tiny(seed=2)
        target.load_state_dict(convert_official(obj, model=target))
        with torch.no_grad():
            torch.testing.assert_close(target(x), expected, rtol=0, atol=0)


def test_convert_official_recognises_the_variant():
    sd = build_dehazeformer(1, "s").state_dict()
    out = convert_official({"state_dict": {"module." + k: v for k, v in sd.items()}})
    assert list(out) == list(sd)
    build_dehazeformer(1, "s").load_state_dict(out)


def test_convert_official_names_missing_and_unexpected_keys():
    model = tiny()
    sd = {"module." + k: v for k, v in model.state_dict().items()}
    del sd["module.layer3.blocks.1.attn.QK.weight"]
    with pytest.raises(CirError, match=r"missing keys: layer3\.blocks\.1\.attn\.QK\.weight"):
        convert_official({"state_dict": sd}, model=model)
    sd = dict(model.state_dict(), **{"head.weight": torch.zeros(1)})
    with pytest.raises(CirError, match=r"unexpected keys: head\.weight"):
        convert_official(sd, model=model)
    sd = dict(model.state_dict())
    sd["skip1.weight"] = torch.zeros(3, 3, 1, 1)
    with pytest.raises(CirError, match=r"wrong shapes: skip1\.weight"):
        convert_official(sd, model=model)
    with pytest.raises(CirError, match="state dict must map names to tensors"):
        convert_official({"state_dict": {"a": 1}})
    # no model: the closest official variant is named
    t_sd = build_dehazeformer(1, "t").state_dict()
    del t_sd["patch_embed.proj.weight"]
    with pytest.raises(CirError, match=r"DehazeFormer-T: the weights do not fit the network; missing keys: patch_embed\.proj\.weight"):
        convert_official(t_sd)


# -- errors -------------------------------------------------------------------------------------
def test_scale_other_than_1_is_refused():
    with pytest.raises(CirError, match="scale 1"):
        build_dehazeformer(2, "t")


def test_unknown_variant_lists_the_valid_ones():
    with pytest.raises(CirError, match="valid DehazeFormer variants: b, d, l, m, s, t, w"):
        build_dehazeformer(1, "xl")
    assert isinstance(build_dehazeformer(1, "T", **TINY), DehazeFormer)


@pytest.mark.parametrize("params, message", [
    ({"embed_dims": [8, 16, 24, 12, 8]}, "symmetric"),
    ({"depths": [1, 1, 1, 1]}, "5 values"),
    ({"conv_type": ["DWConv"] * 4 + ["Dense"]}, "conv_type"),
    ({"num_heads": [1, 3, 3, 1, 1]}, "divisible"),
    ({"input_range": "percent"}, "input_range"),
    ({"no_such_option": 1}, "bad parameters"),
])
def test_bad_parameters_are_refused(params, message):
    with pytest.raises(CirError, match=message):
        build_dehazeformer(1, "t", **dict(TINY, **params))
