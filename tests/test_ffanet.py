import pytest
import torch
from torch import nn

from cir.errors import CirError
from cir.models import count_parameters
from cir.models.ffanet import (
    CITATION,
    FFA_DEFAULTS,
    INPUT_MEAN,
    INPUT_STD,
    PAD_MULTIPLE,
    PUBLISHED_PARAMS,
    FFANet,
    build_ffanet,
    convert_official,
)

EXACT = 4_455_913  # FFA-Net 3 groups x 19 blocks, 64 channels, measured
TINY = {"gps": 3, "blocks": 1, "dim": 8}


def randomise(model: nn.Module, seed: int = 0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return model


def normalise(x: torch.Tensor) -> torch.Tensor:
    return (x - torch.tensor(INPUT_MEAN).view(1, 3, 1, 1)) / torch.tensor(INPUT_STD).view(1, 3, 1, 1)


def test_full_size_parameter_count():
    model = build_ffanet(1)
    assert count_parameters(model) == EXACT
    assert all(p.requires_grad for p in model.parameters())
    assert EXACT == pytest.approx(PUBLISHED_PARAMS[1], rel=0.005)  # the quoted 4.456 M


def test_constants():
    assert FFA_DEFAULTS == {"gps": 3, "blocks": 19, "dim": 64}
    assert PAD_MULTIPLE == 1
    assert "Qin" in CITATION and "zhilin007/FFA-Net" in CITATION


@pytest.mark.parametrize("size", [(20, 20), (19, 23)])
def test_output_shape_any_size(size):
    model = build_ffanet(1, **TINY).eval()
    x = torch.rand(1, 3, *size)
    before = x.clone()
    with torch.no_grad():
        y = model(x)
    assert y.shape == x.shape
    assert torch.equal(x, before)


def test_official_key_names_and_shapes():
    with torch.device("meta"):
        sd = build_ffanet(1).state_dict()
    shapes = {
        "pre.0.weight": (64, 3, 3, 3),
        "g1.gp.0.conv1.weight": (64, 64, 3, 3),
        "g1.gp.0.conv2.bias": (64,),
        "g1.gp.0.calayer.ca.0.weight": (8, 64, 1, 1),
        "g1.gp.0.calayer.ca.2.weight": (64, 8, 1, 1),
        "g2.gp.18.palayer.pa.0.weight": (8, 64, 1, 1),
        "g2.gp.18.palayer.pa.2.weight": (1, 8, 1, 1),
        "g3.gp.19.weight": (64, 64, 3, 3),  # the conv closing each group
        "ca.1.weight": (4, 192, 1, 1),
        "ca.3.weight": (192, 4, 1, 1),
        "ca.3.bias": (192,),
        "palayer.pa.0.weight": (8, 64, 1, 1),
        "post.0.weight": (64, 64, 3, 3),
        "post.1.weight": (3, 64, 3, 3),
    }
    for k, shape in shapes.items():
        assert tuple(sd[k].shape) == shape, k
    assert "g4.gp.0.conv1.weight" not in sd and "g1.gp.20.weight" not in sd
    # per block: 2 convs + 2 CA convs + 2 PA convs, weight and bias each
    assert len(sd) == 2 + 3 * (19 * 12 + 2) + 4 + 4 + 4


def test_input_norm_adds_no_state():
    plain = build_ffanet(1, **TINY)
    normed = build_ffanet(1, input_norm=True, **TINY)
    assert set(plain.state_dict()) == set(normed.state_dict())
    normed.load_state_dict(plain.state_dict(), strict=True)


def test_input_norm_normalises_the_input_only():
    """input_norm=True is the official/MCLIR pipeline: net(normalise(x)), output not de-normalised."""
    plain = randomise(build_ffanet(1, **TINY)).eval()
    normed = build_ffanet(1, input_norm=True, **TINY).eval()
    normed.load_state_dict(plain.state_dict())
    x = torch.rand(1, 3, 10, 10)
    with torch.no_grad():
        assert torch.allclose(normed(x), plain(normalise(x)), atol=1e-6)
        assert not torch.allclose(normed(x), plain(x), atol=1e-3)
        for m in (plain, normed):  # zero reconstruction: only the global residual is left
            m.post[1].weight.zero_()
            m.post[1].bias.zero_()
        assert torch.allclose(plain(x), x)
        assert torch.allclose(normed(x), normalise(x), atol=1e-6)


def test_round_trip_official_pk_and_plain():
    src = randomise(build_ffanet(1, **TINY))
    sd = src.state_dict()
    prefixed = {"module." + k: v for k, v in sd.items()}
    pk = {"step": 5000, "max_psnr": 36.0, "max_ssim": 0.98, "psnrs": [1.0], "ssims": [0.5],
          "losses": [0.1], "model": prefixed}  # the official .pk layout (DataParallel keys)
    for obj in (pk, {"model": sd}, prefixed, sd, {"params": sd}):
        out = convert_official(obj, **TINY)
        assert set(out) == set(sd)
        dst = build_ffanet(1, **TINY)
        dst.load_state_dict(out, strict=True)
        assert all(torch.equal(dst.state_dict()[k], sd[k]) for k in sd)


def test_ambiguous_wrapper_needs_a_key():
    sd = build_ffanet(1, **TINY).state_dict()
    with pytest.raises(CirError, match=r"several state dicts \['params', 'params_ema'\]: pass key="):
        convert_official({"params": sd, "params_ema": sd}, **TINY)
    assert set(convert_official({"params": sd, "params_ema": sd}, key="params_ema", **TINY)) == set(sd)


def test_missing_key_is_named():
    sd = build_ffanet(1, **TINY).state_dict()
    del sd["g2.gp.0.palayer.pa.2.bias"]
    with pytest.raises(CirError, match=r"missing keys: g2\.gp\.0\.palayer\.pa\.2\.bias"):
        convert_official({"model": sd}, **TINY)


def test_wrong_config_is_named():
    sd = build_ffanet(1, **TINY).state_dict()
    with pytest.raises(CirError, match=r"fit the network; unexpected keys: g3\.gp\.0\.calayer"):
        convert_official(sd, gps=2, blocks=1, dim=8)
    sd["post.1.weight"] = torch.zeros(3, 8, 1, 1)
    expected = r"wrong shapes: post\.1\.weight \(3, 8, 1, 1\) \(expected \(3, 8, 3, 3\)\)"
    with pytest.raises(CirError, match=expected):
        convert_official(sd, **TINY)


def test_scale_must_be_one():
    with pytest.raises(CirError, match="scale 1; got scale 2"):
        build_ffanet(2, **TINY)


def test_bad_parameters():
    with pytest.raises(CirError, match="bad parameters"):
        build_ffanet(1, groups=3)
    with pytest.raises(CirError, match="input_norm must be true or false"):
        build_ffanet(1, input_norm="yes", **TINY)
    assert isinstance(build_ffanet(1, **TINY), FFANet)


def test_official_pk_with_numpy_scalars_loads_from_file(tmp_path):
    """FFA-Net's train.py saves its best PSNR/SSIM (numpy floats) beside the weights: the file loads
    under weights_only with numpy scalars allowed, and nothing else is."""
    import numpy as np

    from cir.models.registry import load_model_file

    src = randomise(build_ffanet(1, **TINY))
    pk = {"step": 5000, "max_psnr": np.float64(36.0), "max_ssim": np.float32(0.98),
          "psnrs": [np.float64(1.0)], "model": {"module." + k: v for k, v in src.state_dict().items()}}
    path = tmp_path / "its_train_ffa_3_19.pk"
    torch.save(pk, path)
    model = load_model_file(path, expect_arch="ffanet", expect_scale=1, params=TINY)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in src.state_dict().items())

    from argparse import Namespace  # any other object stays refused

    torch.save({"model": src.state_dict(), "extra": Namespace(lr=1)}, tmp_path / "bad.pk")
    with pytest.raises(CirError, match="cannot read weight file .*bad.pk"):
        load_model_file(tmp_path / "bad.pk", expect_arch="ffanet", expect_scale=1, params=TINY)
