"""IDT (cir.models.idt): size, official key names, the fixed-size network and its tiled test,
official weight files."""

from __future__ import annotations

import math

import pytest
import torch

from cir.errors import CirError
from cir.models.idt import (
    CITATION,
    IDT,
    IDT_DEFAULTS,
    PARAM_COUNT,
    PUBLISHED_PARAMS,
    IDTBlock,
    SpatialTransformerLayer,
    build_idt,
    convert_official,
    pad_multiple,
    tile_starts,
    tile_weights,
    tiled_forward,
)

# Tiny network: 32x32 tiles, 4-pixel windows, one window block per level.
TINY = {"img_size": 32, "embed_dim": 4, "win_size": 4, "depths": [1] * 9, "tile_overlap": 6}
LEVELS = ["encoderlayer_0", "encoderlayer_1", "encoderlayer_2", "encoderlayer_3", "bottle",
          "decoderlayer_0", "decoderlayer_1", "decoderlayer_2", "decoderlayer_3"]


def tiny(seed: int = 0, **extra) -> IDT:
    torch.manual_seed(seed)
    model = build_idt(1, **dict(TINY, **extra))
    with torch.no_grad():  # biases start at 0; perturb everything
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    return model.eval()


# -- size and layout ---------------------------------------------------------------------------
def test_full_size_parameter_count():
    model = build_idt(1)
    n = sum(p.numel() for p in model.parameters())
    assert n == 16_416_463 == PARAM_COUNT  # exactly the official model.py's count
    assert n / 1e6 == pytest.approx(PUBLISHED_PARAMS["idt"], rel=0.005)


def test_defaults_are_the_official_model():
    assert IDT_DEFAULTS["embed_dim"] == 32 and IDT_DEFAULTS["win_size"] == 8 and IDT_DEFAULTS["img_size"] == 128
    assert IDT_DEFAULTS["depths"] == [3, 3, 2, 2, 1, 1, 2, 2, 3]
    assert IDT_DEFAULTS["num_heads"] == [1, 2, 4, 8, 16, 16, 8, 4, 2]
    assert "Image De-raining Transformer" in CITATION
    model = build_idt(1)
    for name, depth in zip(LEVELS, IDT_DEFAULTS["depths"]):
        blocks = list(getattr(model, name).blocks)
        assert sum(isinstance(b, IDTBlock) for b in blocks) == depth
        spatial = [b for b in blocks if isinstance(b, SpatialTransformerLayer)]
        assert len(spatial) == (0 if name == "bottle" else 1) and (not spatial or blocks[-1] is spatial[0])


def test_official_key_names_and_shapes():
    model = build_idt(1)
    sd = model.state_dict()
    assert len(sd) == 571  # as the official IDT(depths=[3, 3, 2, 2, 1, 1, 2, 2, 3])
    expected = {
        "input_proj.proj.0.weight": (32, 3, 3, 3),
        "output_proj.proj.0.weight": (3, 64, 3, 3),
        "encoderlayer_0.blocks.0.norm1.weight": (32,),
        "encoderlayer_0.blocks.0.attn.relative_position_bias_table": (225, 1),
        "encoderlayer_0.blocks.0.attn.Position_Extract.0.weight": (32, 1, 5, 5),
        "encoderlayer_0.blocks.0.attn.Position_Extract.1.weight": (32, 32, 1, 1),
        "encoderlayer_0.blocks.0.attn.qkv.to_q.weight": (32, 32),
        "encoderlayer_0.blocks.0.attn.qkv.to_kv.weight": (96, 32),
        "encoderlayer_0.blocks.0.mlp.linear1.0.weight": (128, 32),
        "encoderlayer_0.blocks.0.mlp.dwconv.0.weight": (128, 1, 3, 3),
        "encoderlayer_0.blocks.0.mlp.linear2.0.weight": (32, 128),
        # spatial layer: 64 features (8x8 pixels), clamp 16 -> 31x31 table, LeFF hidden 4 * 64
        "encoderlayer_0.blocks.3.attn.relative_position_bias_table": (961, 1),
        "encoderlayer_0.blocks.3.attn.qkv.to_kv.weight": (192, 64),
        "encoderlayer_0.blocks.3.norm2.weight": (32,),
        "encoderlayer_0.blocks.3.mlp.linear1.0.weight": (256, 32),
        "encoderlayer_3.blocks.2.attn.Position_Extract.0.weight": (64, 1, 3, 3),  # 2x2 window grid
        "encoderlayer_3.blocks.2.attn.Position_Extract.1.weight": (64, 8, 1, 1),  # groups = 8 heads
        "dowsample_0.conv.0.weight": (64, 32, 4, 4),
        "upsample_0.deconv.0.weight": (512, 256, 2, 2),
        "bottle.blocks.0.attn.relative_position_bias_table": (225, 16),
        "decoderlayer_0.blocks.1.attn.relative_position_bias_table": (9, 16),
        "decoderlayer_3.blocks.3.attn.proj.weight": (64, 64),
    }
    for key, shape in expected.items():
        assert tuple(sd[key].shape) == shape, key
    assert "encoderlayer_0.blocks.3.norm1.weight" not in sd  # the spatial layer has no pre-norm
    assert not any("relative_position_index" in k for k in sd)  # a plain attribute officially
    assert any(name.endswith("relative_position_index") for name, _ in model.named_buffers())


# -- fixed size, tiles ---------------------------------------------------------------------------
def test_tile_starts_follow_the_official_split():
    assert tile_starts(321, 128, 20) == [0, 108, 193]
    assert tile_starts(237, 128, 20) == [0, 108, 109]
    assert tile_starts(236, 128, 20) == [0, 108]
    assert tile_starts(129, 128, 20) == [0, 1]
    assert tile_starts(128, 128, 20) == [0] and tile_starts(40, 128, 20) == [0]


def test_tile_weights_are_inverse_distance_to_the_centre():
    w = tile_weights(128)
    assert w.shape == (128, 128)
    assert w[64, 64].item() == pytest.approx(1 / math.sqrt(1e-3))
    assert w[0, 0].item() == pytest.approx(1 / math.sqrt(2 * 64 ** 2 + 1e-3))
    assert w[0, 64].item() == pytest.approx(1 / 64, rel=1e-6)


def test_exact_size_is_one_plain_forward():
    model = tiny()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        plain = model.forward_tile(x)
        torch.testing.assert_close(model(x), plain, rtol=0, atol=0)
        torch.testing.assert_close(tiled_forward(model, x, tile=32, overlap=6), plain, rtol=0, atol=0)
    with pytest.raises(CirError, match="32x32"):
        model.forward_tile(torch.rand(1, 3, 40, 32))


@pytest.mark.parametrize("shape", [(1, 3, 50, 70), (1, 3, 20, 28), (2, 3, 33, 9)])
def test_any_other_size_is_tiled(shape):
    model = tiny()
    with torch.no_grad():
        y = model(torch.rand(shape))
    assert y.shape == shape and torch.isfinite(y).all()


def test_tiled_merge_is_a_weighted_average_of_the_tiles():
    x = torch.rand(2, 3, 75, 131)
    y = tiled_forward(lambda t: 2 * t + 1, x, tile=32, overlap=6, tile_batch=3)
    torch.testing.assert_close(y, 2 * x + 1)  # every pixel covered, weights normalised

    def position_in_tile(t):  # each tile's output is its column index inside the tile
        return torch.arange(t.shape[-1], dtype=t.dtype).expand_as(t)

    y = tiled_forward(position_in_tile, torch.zeros(1, 1, 32, 58), tile=32, overlap=6)
    w = tile_weights(32)
    # columns 26..31 are in both tiles (starts 0 and 26): weighted by the distance to each centre
    col = 28
    expected = (w[:, col] * col + w[:, col - 26] * (col - 26)) / (w[:, col] + w[:, col - 26])
    torch.testing.assert_close(y[0, 0, :, col], expected)
    torch.testing.assert_close(y[0, 0, :, :26], position_in_tile(torch.zeros(1, 1, 32, 26))[0, 0])


def test_tiled_forward_does_not_depend_on_tile_batch():
    model = tiny()
    x = torch.rand(1, 3, 50, 70)
    with torch.no_grad():
        a = tiled_forward(model, x, tile=32, overlap=6, tile_batch=1)
        b = tiled_forward(model, x, tile=32, overlap=6, tile_batch=8)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_output_is_input_plus_residual():
    """[0, 1] in and out, as official: out = x + conv(features); a zero head is the identity."""
    model = tiny()
    with torch.no_grad():
        model.output_proj.proj[0].weight.zero_()
        model.output_proj.proj[0].bias.zero_()
        for shape in [(1, 3, 32, 32), (1, 3, 50, 70)]:
            x = torch.rand(shape)
            torch.testing.assert_close(model(x), x)


def test_gradients_flow_through_tiles():
    model = tiny().train()
    model(torch.rand(1, 3, 40, 40)).mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


# -- official weight files ---------------------------------------------------------------------
def test_convert_official_round_trip():
    source = tiny(seed=1)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        expected = source(x)
    prefixed = {"module." + k: v for k, v in source.state_dict().items()}
    for obj in (prefixed, {"state_dict": prefixed}, source.state_dict()):
        target = tiny(seed=2)
        target.load_state_dict(convert_official(obj, model=target))
        with torch.no_grad():
            torch.testing.assert_close(target(x), expected, rtol=0, atol=0)


def test_convert_official_checks_against_the_official_model_by_default():
    sd = build_idt(1).state_dict()
    out = convert_official({"module." + k: v for k, v in sd.items()})
    assert list(out) == list(sd)
    del sd["decoderlayer_2.blocks.1.attn.qkv.to_kv.bias"]
    with pytest.raises(CirError, match=r"missing keys: decoderlayer_2\.blocks\.1\.attn\.qkv\.to_kv\.bias"):
        convert_official(sd)


def test_convert_official_names_unexpected_keys_and_shapes():
    model = tiny()
    sd = dict(model.state_dict(), **{"extra.weight": torch.zeros(1)})
    with pytest.raises(CirError, match=r"unexpected keys: extra\.weight"):
        convert_official(sd, model=model)
    sd = dict(model.state_dict())
    sd["input_proj.proj.0.weight"] = torch.zeros(1, 3, 3, 3)
    with pytest.raises(CirError, match=r"wrong shapes: input_proj\.proj\.0\.weight"):
        convert_official(sd, model=model)
    with pytest.raises(CirError, match="IDT: a weight file must hold a dict"):
        convert_official([1, 2])


# -- errors -------------------------------------------------------------------------------------
def test_scale_other_than_1_is_refused():
    with pytest.raises(CirError, match="scale 1"):
        build_idt(4)


@pytest.mark.parametrize("params, message", [
    ({"img_size": 40}, "multiple of 16"),
    ({"img_size": 48}, "multiple of 8 \\* win_size"),
    ({"depths": [1] * 8}, "9 values"),
    ({"num_heads": [3] + [2] * 8}, "num_heads\\[0\\]"),
    ({"tile_overlap": 32}, "tile_overlap"),
    ({"no_such_option": 1}, "bad parameters"),
])
def test_bad_parameters_are_refused(params, message):
    with pytest.raises(CirError, match=message):
        build_idt(1, **dict(TINY, **params))


def test_pad_multiple():
    assert pad_multiple({}) == 1 and pad_multiple(TINY) == 1
