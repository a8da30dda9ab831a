"""NAFNet and Restormer in the registry: DCKD Table 1 sizes, any input size, TLC, official weight files."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cir.engine import checkpoint as ckpt
from cir.errors import CirError
from cir.eval.efficiency import efficiency_table, profile_model
from cir.models import build_model, count_parameters, load_model_file, model_spec
from cir.models.official import import_official
from cir.models.registry import pad_multiple
from cir.models.sizes import DCKD_TABLE1, block_count
from cir.models.taps import FeatureTaps, default_tap_layers, detect_arch, match_layers
from cir.models.tlc import LocalAvgPool2d, disable_tlc, enable_tlc, tlc_windows

TINY = {
    "nafnet": {"width": 8, "enc_blk_nums": [1, 1], "middle_blk_num": 1, "dec_blk_nums": [1, 1]},
    "restormer": {"dim": 8, "num_blocks": [1, 1, 1, 1], "num_refinement_blocks": 1, "heads": [1, 1, 2, 2]},
}


def tiny(arch: str, seed: int = 0, **extra):
    torch.manual_seed(seed)
    model = build_model(arch, 1, **TINY[arch], **extra)
    with torch.no_grad():  # NAFNet initialises its residual scales to 0; make every block count
        for name, p in model.named_parameters():
            if name.endswith(("beta", "gamma")):
                p.uniform_(0.5, 1.0)
    return model


# -- DCKD Table 1 ------------------------------------------------------------------------------
@pytest.mark.parametrize("key", sorted(DCKD_TABLE1))
def test_table1_sizes(key):
    arch, _ = key
    row = DCKD_TABLE1[key]
    model = build_model(arch, 1, **row["model"])
    n = count_parameters(model)
    assert n == row["params"]
    assert n / 1e6 == pytest.approx(row["paper"]["params_m"], rel=0.05)
    assert block_count(arch, row["model"]) == row["paper"]["blocks"]
    width = row["model"]["width" if arch == "nafnet" else "dim"]
    assert width == row["paper"]["channels"]


def test_table1_teacher_block_totals():
    assert block_count("nafnet", DCKD_TABLE1[("nafnet", "teacher")]["model"]) == 1 + 1 + 1 + 28 + 1 + 1 + 1 + 1 + 1 == 36
    assert block_count("restormer", DCKD_TABLE1[("restormer", "teacher")]["model"]) == 4 + 6 + 6 + 8 + 6 + 6 + 4 + 4 == 44
    # the registry's defaults are the official (teacher) models
    assert count_parameters(build_model("restormer", 1)) == DCKD_TABLE1[("restormer", "teacher")]["params"]
    assert count_parameters(build_model("nafnet", 1)) == DCKD_TABLE1[("nafnet", "teacher")]["params"]


# -- scale and input sizes -----------------------------------------------------------------------
@pytest.mark.parametrize("arch", ["nafnet", "restormer"])
def test_scale_other_than_1_is_refused(arch):
    with pytest.raises(CirError, match="restores at scale 1"):
        build_model(arch, 4, **TINY[arch])


@pytest.mark.parametrize("arch", ["nafnet", "restormer"])
@pytest.mark.parametrize("hw", [(16, 16), (37, 29), (5, 3), (1, 1)])
def test_any_input_size(arch, hw):
    model = tiny(arch).eval()
    x = torch.rand(2, 3, *hw)
    with torch.no_grad():
        y = model(x)
    assert y.shape == x.shape and torch.isfinite(y).all()


def test_pad_multiple():
    assert pad_multiple("nafnet", TINY["nafnet"]) == 4
    assert pad_multiple("nafnet", DCKD_TABLE1[("nafnet", "teacher")]["model"]) == 16
    assert pad_multiple("restormer", {}) == 8
    assert pad_multiple("swinir", {"window_size": 7}) == 7
    assert pad_multiple("rcan", {}) == 1
    assert pad_multiple("edsr", {}) == pad_multiple("ffanet", {}) == pad_multiple("idt", {}) == 1
    assert pad_multiple("dehazeformer", {}) == 4
    assert tiny("nafnet").cir_pad_multiple == 4 and tiny("restormer").cir_pad_multiple == 8
    with pytest.raises(KeyError, match="valid architectures"):
        pad_multiple("carn", {})


def test_restormer_padding_reflects_and_crops():
    """On a multiple of 8 the padded Restormer is spandrel's; elsewhere it is spandrel's Restormer
    on the reflect-padded input, cropped."""
    from spandrel_extra_arches.architectures.Restormer import Restormer

    model = tiny("restormer").eval()
    plain = Restormer(**TINY["restormer"]).eval()
    assert list(plain.state_dict()) == list(model.state_dict())
    plain.load_state_dict(model.state_dict())
    x = torch.rand(1, 3, 21, 19)
    with torch.no_grad():
        torch.testing.assert_close(model(x[..., :16, :16]), plain(x[..., :16, :16]), rtol=0, atol=1e-6)
        padded = F.pad(x, (0, 5, 0, 3), mode="reflect")
        torch.testing.assert_close(model(x), plain(padded)[..., :21, :19], rtol=0, atol=1e-6)


def test_swinir_accepts_inputs_smaller_than_its_padding():
    model = build_model("swinir", 2, embed_dim=12, depths=[2], num_heads=[2], window_size=8).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 3, 5)).shape == (1, 3, 6, 10)


# -- TLC -----------------------------------------------------------------------------------------
def test_local_avg_pool_equals_window_means():
    x = torch.rand(2, 3, 13, 10, dtype=torch.float64)
    pool = LocalAvgPool2d((5, 4)).eval()
    direct = F.avg_pool2d(x, (5, 4), stride=1)                      # 9 x 7 valid windows
    expected = F.pad(direct, (1, 2, 2, 2), mode="replicate")        # centred, edges replicated
    torch.testing.assert_close(pool(x), expected)
    assert pool.train()(x).shape == (2, 3, 1, 1)                    # training: global average
    # a window as large as the map in one direction only: that direction is global
    wide = LocalAvgPool2d((20, 4)).eval()(x)
    torch.testing.assert_close(wide, F.pad(F.avg_pool2d(x, (13, 4), stride=1), (1, 2, 6, 6), mode="replicate"))


def test_tlc_windows_follow_the_training_size():
    model = build_model("nafnet", 1, **DCKD_TABLE1[("nafnet", "teacher")]["model"], tlc=True, tlc_train_size=256)
    windows = tlc_windows(model)
    assert len(windows) == 36
    # 1.5 x the training patch at each level: 384 at full resolution, 24 at the 1/16 middle level
    assert sorted(set(windows)) == [(24, 24), (48, 48), (96, 96), (192, 192), (384, 384)]
    assert model.middle_blks[0].sca[0].kernel_size == (24, 24)
    assert model.decoders[3][0].sca[0].kernel_size == (384, 384)


def test_tlc_equals_global_pooling_up_to_the_base_size_and_differs_beyond():
    plain = tiny("nafnet").eval()
    local = tiny("nafnet", tlc=True, tlc_train_size=16).eval()     # base size 24
    assert list(local.state_dict()) == list(plain.state_dict())
    local.load_state_dict(plain.state_dict())
    small = torch.rand(1, 3, 24, 20)
    large = torch.rand(1, 3, 64, 56)
    with torch.no_grad():
        torch.testing.assert_close(local(small), plain(small), rtol=0, atol=1e-6)
        assert (local(large) - plain(large)).abs().max() > 1e-4
        local.train(), plain.train()                               # training always pools globally
        torch.testing.assert_close(local(large), plain(large), rtol=0, atol=1e-6)


def test_tlc_is_recorded_and_rebuilt_from_a_checkpoint(tmp_path):
    model = tiny("nafnet", tlc=True, tlc_train_size=[16, 12], tlc_base_size=20)
    spec = model_spec(model)
    assert spec["params"]["tlc"] is True and spec["params"]["tlc_train_size"] == [16, 12]
    path = tmp_path / "model.pt"
    ckpt.save(path, ckpt.model_file(spec, model.state_dict(), None, {}))
    again = load_model_file(path, expect_arch="nafnet", expect_scale=1)
    assert tlc_windows(again) == tlc_windows(model) != []
    x = torch.rand(1, 3, 40, 36)
    with torch.no_grad():
        torch.testing.assert_close(again.eval()(x), model.eval()(x), rtol=0, atol=0)
    # switching on an existing model records it too; switching off removes it
    plain = tiny("nafnet")
    enable_tlc(plain, 16)
    assert model_spec(plain)["params"]["tlc"] is True and tlc_windows(plain)
    disable_tlc(plain)
    assert "tlc" not in model_spec(plain)["params"] and tlc_windows(plain) == []
    with pytest.raises(CirError, match="NAFNet"):
        enable_tlc(tiny("restormer"), 16)
    with pytest.raises(CirError, match="train_size"):
        build_model("nafnet", 1, **TINY["nafnet"], tlc=True, tlc_train_size=0)


# -- official weight files -----------------------------------------------------------------------
@pytest.mark.parametrize("arch", ["nafnet", "restormer"])
def test_official_layout_file_loads_through_spandrel(tmp_path, arch):
    src = tiny(arch, seed=3).eval()
    weights = tmp_path / ("NAFNet-GoPro-width8.pth" if arch == "nafnet" else "motion_deblurring.pth")
    torch.save({"params": src.state_dict()}, weights)
    model = load_model_file(weights, expect_arch=arch, expect_scale=1).eval()
    spec = model_spec(model)
    assert spec["arch"] == arch and spec["scale"] == 1
    assert type(model).__name__ == type(src).__name__
    x = torch.rand(1, 3, 20, 13)
    with torch.no_grad():
        torch.testing.assert_close(model(x), src(x), rtol=0, atol=1e-6)
    with pytest.raises(CirError, match=f"{weights.name}.*expected 'swinir'"):
        load_model_file(weights, expect_arch="swinir")
    out = import_official(weights, arch, 1, tmp_path / "teacher.pt", task="deblur")
    assert torch.load(out, weights_only=False)["meta"]["name"] == f"official/deblur/{arch}"


def test_official_restormer_hyperparameters_are_recovered(tmp_path):
    params = {"dim": 8, "num_blocks": [1, 2, 1, 2], "num_refinement_blocks": 2, "heads": [1, 2, 2, 4],
              "ffn_expansion_factor": 2.66, "bias": False, "LayerNorm_type": "BiasFree"}
    torch.manual_seed(0)
    src = build_model("restormer", 1, **params)
    weights = tmp_path / "deraining.pth"
    torch.save({"params": src.state_dict()}, weights)
    got = model_spec(load_model_file(weights, expect_arch="restormer", expect_scale=1))["params"]
    assert {k: got[k] for k in params} == params


def test_swinir_file_is_not_a_nafnet(tmp_path):
    torch.manual_seed(0)
    src = build_model("swinir", 2, embed_dim=12, depths=[2], num_heads=[2], window_size=8)
    weights = tmp_path / "swinir_x2.pth"
    torch.save({"params": src.state_dict()}, weights)
    with pytest.raises(CirError, match=r"swinir_x2\.pth: holds a 'swinir' network, expected 'nafnet'"):
        load_model_file(weights, expect_arch="nafnet", expect_scale=1)


# -- efficiency and feature taps -----------------------------------------------------------------
def test_efficiency_of_scale_1_networks(tmp_path):
    files = []
    for arch in ("nafnet", "restormer"):
        model = tiny(arch)
        path = tmp_path / f"{arch}.pt"
        ckpt.save(path, ckpt.model_file(model_spec(model), model.state_dict(), None, {}))
        files.append((arch, path))
    df = efficiency_table(files, preset="smoke", lr_size=(20, 13), runs=1, warmup=0)
    assert df["scale"].tolist() == [1, 1]
    assert df["output_h_px"].tolist() == [20, 20] and df["output_w_px"].tolist() == [13, 13]
    assert (df["GFLOPs_torch_2_per_MAC"] > 0).all()
    r = profile_model(tiny("restormer"), (21, 19), runs=1, warmup=0)
    assert (r["output_h_px"], r["output_w_px"]) == (21, 19)


@pytest.mark.parametrize("arch,expected", [
    ("nafnet", ["encoders.0", "encoders.1", "middle_blks", "decoders.0", "decoders.1"]),
    ("restormer", ["encoder_level1", "encoder_level2", "encoder_level3", "latent", "decoder_level3",
                   "decoder_level2", "decoder_level1", "refinement"]),
])
def test_default_feature_taps_are_the_stage_outputs(arch, expected):
    model = tiny(arch)
    assert default_tap_layers(detect_arch(model), model) == expected
    assert match_layers(expected, expected) == list(zip(expected, expected))
    with FeatureTaps(model, expected) as taps, torch.no_grad():
        model(torch.rand(1, 3, 16, 16))
        sizes = [tuple(taps.feature(n).shape[-2:]) for n in expected]
    if arch == "nafnet":
        assert sizes == [(16, 16), (8, 8), (4, 4), (8, 8), (16, 16)]
    else:
        assert sizes == [(16, 16), (8, 8), (4, 4), (2, 2), (4, 4), (8, 8), (16, 16), (16, 16)]


def test_detect_arch_from_spandrel_classes():
    from spandrel.architectures.NAFNet import NAFNet
    from spandrel_extra_arches.architectures.Restormer import Restormer

    assert detect_arch(NAFNet(**TINY["nafnet"])) == "nafnet"
    assert detect_arch(Restormer(**TINY["restormer"])) == "restormer"
