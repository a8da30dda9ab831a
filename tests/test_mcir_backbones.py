"""MCIR's backbones through the model registry: build by name, official files, padding."""

import pytest
import torch

from cir.errors import CirError
from cir.models import build_model, count_parameters, load_model_file
from cir.models.registry import ARCHITECTURES, pad_multiple


def test_edsr_light_through_the_registry_and_its_official_file(tmp_path):
    torch.manual_seed(0)
    official = build_model("edsr", 2)  # the EDSR baseline (EDSR-light) by default
    assert count_parameters(official) == 1_369_883  # 1,369,859 trainable + 24 fixed mean-shift numbers
    path = tmp_path / "edsr_baseline_x2-1bc95232.pt"
    torch.save(official.state_dict(), path)  # the official release: a plain state dict
    model = load_model_file(path, expect_arch="edsr", expect_scale=2)
    x = torch.rand(1, 3, 10, 12)
    assert torch.equal(model(x), official(x)) and model(x).shape == (1, 3, 20, 24)
    assert model.cir_spec == {"arch": "edsr", "scale": 2, "params": {}}
    with pytest.raises(CirError, match=r"edsr_baseline_x2-1bc95232.pt: EDSR: the weights do not fit"):
        load_model_file(path, expect_arch="edsr", expect_scale=4)
    with pytest.raises(CirError, match="needs its scale"):
        load_model_file(path, expect_arch="edsr")


def test_ffanet_official_file_with_dataparallel_prefix(tmp_path):
    tiny = {"gps": 3, "blocks": 1, "dim": 16}
    torch.manual_seed(0)
    net = build_model("ffanet", 1, **tiny)
    assert net.input_norm is True  # both official pipelines normalise the input
    path = tmp_path / "its_train_ffa_3_19.pk"
    torch.save({"step": 5000, "max_psnr": 30.0, "model": {f"module.{k}": v for k, v in net.state_dict().items()}},
               path)
    model = load_model_file(path, expect_arch="ffanet", expect_scale=1, params=tiny)
    x = torch.rand(1, 3, 9, 11)
    assert torch.equal(model(x), net(x))
    with pytest.raises(CirError, match="restores at scale 1|scale 1"):
        build_model("ffanet", 2)


def test_every_registry_network_declares_its_padding_multiple():
    for name in ARCHITECTURES:
        assert pad_multiple(name) >= 1


def test_torch_free_architecture_names_match_the_registry():
    from cir.architectures import ARCH_NAMES

    assert ARCH_NAMES == tuple(sorted(ARCHITECTURES))


def test_dehazeformer_and_idt_official_files_through_the_registry(tmp_path):
    tiny_dh = {"variant": "t", "embed_dims": [8, 16, 24, 16, 8], "depths": [1, 1, 1, 1, 1]}
    torch.manual_seed(0)
    net = build_model("dehazeformer", 1, **tiny_dh)
    path = tmp_path / "dehazeformer-t.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in net.state_dict().items()}}, path)
    model = load_model_file(path, expect_arch="dehazeformer", expect_scale=1, params=tiny_dh)
    x = torch.rand(1, 3, 16, 20)
    assert torch.equal(model(x), net(x))
    with pytest.raises(CirError, match="dehazeformer-t.pth: DehazeFormer"):
        load_model_file(path, expect_arch="dehazeformer", expect_scale=1)  # the full T does not fit

    tiny_idt = {"embed_dim": 8, "img_size": 32, "win_size": 4, "depths": [1] * 9,
                "num_heads": [1, 1, 1, 1, 2, 2, 1, 1, 1]}
    torch.manual_seed(0)
    net = build_model("idt", 1, **tiny_idt).eval()  # eval: drop-path is random in training mode
    path = tmp_path / "idt_rain200h.pth"
    torch.save({f"module.{k}": v for k, v in net.state_dict().items()}, path)
    model = load_model_file(path, expect_arch="idt", expect_scale=1, params=tiny_idt).eval()
    x = torch.rand(1, 3, 32, 32)
    assert torch.equal(model(x), net(x))
