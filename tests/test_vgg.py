"""The VGG feature encoder: layer names, torchvision weights, input adapters, stand-in."""

import pytest
import torch
from torch import nn
from torchvision.models.vgg import cfgs, make_layers

from cir.encoders.vgg import MissingVGGWeightsError, VGGFeatures, build_vgg_encoder, layer_names
from cir.errors import CirError


@pytest.mark.parametrize("arch,n_conv", [("vgg16", 13), ("vgg19", 16)])
def test_layer_names_follow_torchvision_features(arch, n_conv):
    names = layer_names(arch)
    features = make_layers(cfgs[{"vgg16": "D", "vgg19": "E"}[arch]])  # torchvision's VGG features
    assert len(names) == len(features)
    kinds = {"conv": nn.Conv2d, "relu": nn.ReLU, "pool": nn.MaxPool2d}
    for name, module in zip(names, features):
        assert isinstance(module, kinds[name[:4]]), name
    assert sum(n.startswith("conv") for n in names) == n_conv
    assert names[3] == "relu1_2" and names[15] == "relu3_3"
    assert names[-2] == {"vgg16": "relu5_3", "vgg19": "relu5_4"}[arch]


@pytest.fixture(scope="module")
def vgg16_file(tmp_path_factory):
    """torchvision's VGG16 features with random weights, saved as a torchvision weight file
    (the classifier is left out to keep it small; the loader reads ``features.*`` only)."""
    torch.manual_seed(0)
    features = make_layers(cfgs["D"]).eval()
    path = tmp_path_factory.mktemp("vgg") / "vgg16.pth"
    torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, path)
    return features, path


def test_torchvision_weights_give_torchvision_features(vgg16_file):
    features, path = vgg16_file
    enc, stand_ins = build_vgg_encoder(path, layers=["relu1_2", "conv2_2", "relu3_3"])
    assert stand_ins == [] and not any(p.requires_grad for p in enc.parameters())
    x = torch.rand(2, 3, 20, 20)
    normed = (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    got = enc(x)
    with torch.no_grad():
        for out, idx in zip(got, (3, 7, 15)):
            ref = nn.Sequential(*[nn.ReLU() if isinstance(m, nn.ReLU) else m for m in features[: idx + 1]])(normed)
            torch.testing.assert_close(out, ref)
    assert (got[1] < 0).any()  # a conv tap is taken before its ReLU


def test_input_range_and_normalisation_switches(vgg16_file):
    _, path = vgg16_file
    unit, _ = build_vgg_encoder(path, layers=["relu2_1"])
    signed, _ = build_vgg_encoder(path, layers=["relu2_1"], input_range="-1_1")
    raw, _ = build_vgg_encoder(path, layers=["relu2_1"], input_norm=False)
    x = torch.rand(1, 3, 16, 16)
    torch.testing.assert_close(signed(2 * x - 1)[0], unit(x)[0])
    assert not torch.allclose(raw(x)[0], unit(x)[0])


def test_missing_weights_say_where_and_stand_in_is_recorded(tmp_path):
    missing = tmp_path / "weights" / "vgg16-397923af.pth"
    with pytest.raises(MissingVGGWeightsError) as err:
        build_vgg_encoder(missing)
    text = str(err.value)
    assert str(missing) in text and "https://download.pytorch.org/models/vgg16-397923af.pth" in text
    assert "397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0" in text
    a, notes = build_vgg_encoder(missing, allow_random=True, stand_in_divisor=4, seed=3)
    b, _ = build_vgg_encoder(None, allow_random=True, stand_in_divisor=4, seed=3)
    assert notes == [("VGG16 encoder: random initialisation (torchvision weights vgg16-397923af.pth absent, "
                     "widths divided by 4)")]
    assert a.features[0].out_channels == 16
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_bad_layers_and_files_are_named(tmp_path):
    with pytest.raises(CirError, match=r"unknown layer\(s\) \['relu6_1'\]"):
        VGGFeatures("vgg16", ["relu6_1"])
    with pytest.raises(CirError, match="relu3_4"):
        VGGFeatures("vgg16", ["relu3_4"])  # VGG16's third block has 3 convolutions
    VGGFeatures("vgg19", ["relu3_4"])
    bad = tmp_path / "bad.pth"
    torch.save({"features.0.weight": torch.zeros(8, 3, 3, 3)}, bad)
    with pytest.raises(CirError, match=r"bad.pth: not torchvision's vgg16 weights"):
        build_vgg_encoder(bad)
