import pytest
import torch
from torch import nn

from cir.errors import CirError
from cir.models import count_parameters
from cir.models.edsr import (
    CITATION,
    EDSR,
    EDSR_BASELINE,
    PAD_MULTIPLE,
    PUBLISHED_PARAMS,
    build_edsr,
    convert_official,
)

# Exact trainable counts of the EDSR baseline (r16f64), measured; the 24 frozen mean-shift
# numbers (two 3x3 1x1-conv weights and two biases of 3) come on top in model.parameters().
EXACT_TRAINABLE = {2: 1_369_859, 3: 1_554_499, 4: 1_517_571}
MEAN_SHIFT = 24
TINY = {"n_resblocks": 2, "n_feats": 8}


def trainable(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def randomise(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-zero biases everywhere except the fixed mean shifts."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not name.startswith(("sub_mean", "add_mean")):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return model


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_baseline_parameter_counts(scale):
    model = build_edsr(scale)
    assert trainable(model) == EXACT_TRAINABLE[scale]
    assert count_parameters(model) == EXACT_TRAINABLE[scale] + MEAN_SHIFT
    # the official README's rounded 1.37 M / 1.55 M / 1.52 M
    assert trainable(model) == pytest.approx(PUBLISHED_PARAMS[scale], rel=0.005)


def test_constants():
    assert EDSR_BASELINE == {"n_resblocks": 16, "n_feats": 64, "res_scale": 1.0}
    assert PAD_MULTIPLE == 1
    assert "Lim" in CITATION and "EDSR-PyTorch" in CITATION


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_output_shape(scale):
    model = build_edsr(scale).eval()
    x = torch.rand(1, 3, 12, 12)
    before = x.clone()
    with torch.no_grad():
        y = model(x)
    assert y.shape == (1, 3, 12 * scale, 12 * scale)
    assert torch.equal(x, before)  # input untouched


def test_official_key_names_and_shapes():
    with torch.device("meta"):
        sd2 = build_edsr(2).state_dict()
        sd3 = build_edsr(3).state_dict()
        sd4 = build_edsr(4).state_dict()
    shapes = {
        "sub_mean.weight": (3, 3, 1, 1), "sub_mean.bias": (3,), "add_mean.weight": (3, 3, 1, 1),
        "add_mean.bias": (3,), "head.0.weight": (64, 3, 3, 3), "body.0.body.0.weight": (64, 64, 3, 3),
        "body.15.body.2.bias": (64,), "body.16.weight": (64, 64, 3, 3), "tail.0.0.weight": (256, 64, 3, 3),
        "tail.1.weight": (3, 64, 3, 3), "tail.1.bias": (3,),
    }
    for k, shape in shapes.items():
        assert tuple(sd2[k].shape) == shape, k
    assert "body.16.body.0.weight" not in sd2 and "tail.0.2.weight" not in sd2
    assert tuple(sd3["tail.0.0.weight"].shape) == (576, 64, 3, 3) and "tail.0.2.weight" not in sd3
    assert tuple(sd4["tail.0.2.weight"].shape) == (256, 64, 3, 3)
    # 4 mean-shift tensors + head 2 + 16 blocks x 4 + body conv 2 + upsampler 2 + tail.1 2
    assert len(sd2) == 4 + 2 + 64 + 2 + 2 + 2


def test_mean_shift_is_fixed_and_frozen():
    model = build_edsr(2, **TINY)
    mean = torch.tensor([0.4488, 0.4371, 0.4040])
    assert torch.allclose(model.sub_mean.bias, -255 * mean)
    assert torch.allclose(model.add_mean.bias, 255 * mean)
    assert torch.equal(model.sub_mean.weight.view(3, 3), torch.eye(3))
    assert not any(p.requires_grad for n, p in model.named_parameters() if "mean" in n)
    assert all(p.requires_grad for n, p in model.named_parameters() if "mean" not in n)


def test_zero_network_outputs_the_mean_in_unit_range():
    model = build_edsr(2, **TINY)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "mean" not in name:
                p.zero_()
        y = model(torch.rand(1, 3, 5, 5))
    expected = torch.tensor([0.4488, 0.4371, 0.4040]).view(1, 3, 1, 1).expand(1, 3, 10, 10)
    assert torch.allclose(y, expected, atol=1e-6)


def test_unit_range_convention_scales_by_rgb_range():
    """EDSR(x) = official(rgb_range * x) / rgb_range, and rgb_range matters when biases are
    non-zero (with zero conv biases the network is homogeneous and rgb_range cancels)."""
    m255 = randomise(build_edsr(2, **TINY)).eval()
    m1 = build_edsr(2, rgb_range=1, **TINY).eval()
    m1.load_state_dict({k: v for k, v in m255.state_dict().items() if "mean" not in k}, strict=False)
    x = torch.rand(1, 3, 6, 6)
    with torch.no_grad():
        z = m255.sub_mean(255 * x)  # the official forward on [0, 255]
        h = m255.head(z)
        official = m255.add_mean(m255.tail(h + m255.body(h)))
        y255, y1 = m255(x), m1(x)
        assert torch.allclose(y255, official / 255, atol=1e-5)
        assert not torch.allclose(y255, y1, atol=1e-3)
        for m in (m255, m1):
            for name, p in m.named_parameters():
                if name.endswith("bias") and "mean" not in name:
                    p.zero_()
        assert torch.allclose(m255(x), m1(x), atol=1e-5)


def test_round_trip_plain_prefixed_and_wrapped():
    src = randomise(build_edsr(2, **TINY))
    sd = src.state_dict()
    for obj in (sd, {"module." + k: v for k, v in sd.items()}, {"model": sd},
                {"model": {"module." + k: v for k, v in sd.items()}, "epoch": 3}):
        out = convert_official(obj, **TINY)
        assert set(out) == set(sd)
        dst = build_edsr(2, **TINY)
        dst.load_state_dict(out, strict=True)
        assert all(torch.equal(dst.state_dict()[k], sd[k]) for k in sd)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_scale_is_inferred_from_the_upsampler(scale):
    sd = build_edsr(scale, **TINY).state_dict()
    build_edsr(scale, **TINY).load_state_dict(convert_official(sd, **TINY), strict=True)
    assert set(convert_official(sd, scale, **TINY)) == set(sd)


def test_basicsr_names_are_converted():
    """The MCLIR fork's (BasicSR) EDSR: other key names, no mean-shift tensors."""
    src = randomise(build_edsr(4, **TINY)).eval()
    def basicsr_name(k: str) -> str:  # TINY has 2 blocks, so body.2 is the conv after them
        for ours, theirs in (("head.0.", "conv_first."), ("body.2.", "conv_after_body."),
                             ("tail.0.", "upsample."), ("tail.1.", "conv_last.")):
            if k.startswith(ours):
                return theirs + k[len(ours):]
        return k.replace(".body.0.", ".conv1.").replace(".body.2.", ".conv2.")

    renamed = {basicsr_name(k): v for k, v in src.state_dict().items() if "mean" not in k}
    assert "conv_after_body.weight" in renamed and "body.1.conv2.weight" in renamed
    dst = build_edsr(4, **TINY).eval()
    dst.load_state_dict(convert_official({"params": renamed}, **TINY), strict=True)
    x = torch.rand(1, 3, 4, 4)
    with torch.no_grad():
        assert torch.allclose(dst(x), src(x), atol=1e-6)


def test_missing_key_is_named():
    sd = build_edsr(2, **TINY).state_dict()
    del sd["body.1.body.2.weight"]
    with pytest.raises(CirError, match=r"missing keys: body\.1\.body\.2\.weight"):
        convert_official(sd, **TINY)


def test_unexpected_key_is_named():
    sd = build_edsr(2, **TINY).state_dict()
    sd["body.0.body.1.weight"] = torch.zeros(8)  # a batch-norm layer EDSR does not have
    with pytest.raises(CirError, match=r"unexpected keys: body\.0\.body\.1\.weight"):
        convert_official(sd, **TINY)


def test_wrong_shape_is_named():
    sd = build_edsr(2, **TINY).state_dict()
    sd["tail.1.weight"] = torch.zeros(1, 8, 3, 3)  # one colour instead of three
    expected = r"wrong shapes: tail\.1\.weight \(1, 8, 3, 3\) \(expected \(3, 8, 3, 3\)\)"
    with pytest.raises(CirError, match=expected):
        convert_official(sd, **TINY)
    wider = build_edsr(2, n_resblocks=2, n_feats=16).state_dict()
    with pytest.raises(CirError, match=r"wrong shapes: .*\(\+\d+ more\)"):
        convert_official(wider, **TINY)


def test_wrong_scale_is_named():
    sd = build_edsr(2, **TINY).state_dict()
    with pytest.raises(CirError, match=r"missing keys: tail\.0\.2\.bias, tail\.0\.2\.weight"):
        convert_official(sd, 4, **TINY)


def test_not_a_state_dict():
    with pytest.raises(CirError, match="no state dict"):
        convert_official({"epoch": 3, "note": "x"})
    with pytest.raises(CirError, match="must hold a dict"):
        convert_official([1, 2])


def test_bad_scale_and_parameters():
    with pytest.raises(CirError, match="scale must be 3 or a power of two"):
        build_edsr(5)
    with pytest.raises(CirError, match="bad parameters"):
        build_edsr(2, n_blocks=3)
    assert isinstance(build_edsr(2, **TINY), EDSR)
