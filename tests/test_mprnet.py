"""MPRNet (Uni-Removal's backbone) in the registry: sizes, value range, stages, any input size,
the feature tap, official weight files and cir model files."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cir.engine import checkpoint as ckpt
from cir.errors import CirError, ConfigError
from cir.models import ARCHITECTURES, build_model, count_parameters, load_model_file, model_spec
from cir.models.mprnet import (
    FEATURE_LAYER,
    MPRNET_DEFAULTS,
    PAD_MULTIPLE,
    PAPER_WIDTH,
    PUBLIC_SIZES,
    SMALL_SIZES,
    MPRNetRestorer,
    _mprnet_class,
    is_mprnet_state,
    official_config,
)
from cir.models.registry import pad_multiple
from cir.models.taps import FeatureTaps

TINY = {"n_feat": 8, "scale_unetfeats": 4, "scale_orsnetfeats": 4, "num_cab": 1}
EXPECTED_PARAMS = {"derain": 3_637_249, "deblur": 20_127_073, "denoise": 15_741_025,
                   "tiny": 427_033, "small": 1_032_937}


def tiny(seed: int = 0, **extra) -> MPRNetRestorer:
    torch.manual_seed(seed)
    return build_model("mprnet", 1, **TINY, **extra).eval()


def inner(seed: int = 1, **widths):
    """A freshly built upstream MPRNet (the wheel's class), as the official code builds it."""
    torch.manual_seed(seed)
    return _mprnet_class()(in_c=3, out_c=3, **{**TINY, **widths}).eval()


# -- sizes ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_parameter_counts(name):
    row = {**PUBLIC_SIZES, **SMALL_SIZES}[name]
    assert row["params"] == EXPECTED_PARAMS[name]
    with torch.device("meta"):  # shapes only
        model = build_model("mprnet", 1, **row["model"])
        upstream = _mprnet_class()(**row["model"])
    assert count_parameters(model) == count_parameters(upstream) == EXPECTED_PARAMS[name]


def test_defaults_are_the_official_deraining_model_and_the_paper_width_is_unstated():
    assert {k: MPRNET_DEFAULTS[k] for k in PUBLIC_SIZES["derain"]["model"]} == PUBLIC_SIZES["derain"]["model"]
    assert MPRNET_DEFAULTS["value_range"] == "-1_1"
    assert PAPER_WIDTH is None
    with torch.device("meta"):
        assert count_parameters(build_model("mprnet", 1)) == 3_637_249


# -- value range, stages, sizes ---------------------------------------------------------------------
def test_wrapper_maps_zero_one_images_to_minus_one_one_and_back():
    model = tiny()
    x = torch.rand(2, 3, 16, 24)
    with torch.no_grad():
        y = model(x)
        s3, s2, s1 = model.net(2 * x - 1)
        torch.testing.assert_close(y, (s3 + 1) / 2, rtol=0, atol=0)
        stages = model(x, stages=True)
        for got, want in zip(stages, (s1, s2, s3)):
            torch.testing.assert_close(got, (want + 1) / 2, rtol=0, atol=0)
    # the official range: no mapping
    official = tiny(value_range="0_1")
    with torch.no_grad():
        torch.testing.assert_close(official(x), official.net(x)[0], rtol=0, atol=0)


def test_stages_are_in_stage_order_final_last():
    model = tiny()
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        stages = model(x, stages=True)
        final = model(x)
    assert isinstance(stages, tuple) and len(stages) == 3
    assert all(s.shape == x.shape for s in stages)
    assert torch.equal(stages[-1], final)
    assert not torch.equal(stages[0], stages[1])


@pytest.mark.parametrize("size", [(13, 21), (17, 8), (5, 6), (24, 16)])
def test_any_input_size_is_padded_and_cropped(size):
    model = tiny()
    x = torch.rand(1, 3, *size)
    with torch.no_grad():
        y = model(x)
        stages = model(x, stages=True)
        assert y.shape == x.shape and all(s.shape == x.shape for s in stages)
        h, w = size
        ph, pw = -h % 8, -w % 8
        mode = "reflect" if ph < h and pw < w else "replicate"
        padded = F.pad(x, (0, pw, 0, ph), mode=mode)
        torch.testing.assert_close(y, ((model.net(2 * padded - 1)[0] + 1) / 2)[..., :h, :w], rtol=0, atol=0)
    assert PAD_MULTIPLE == 8 == pad_multiple("mprnet") == model.cir_pad_multiple


# -- the feature tap --------------------------------------------------------------------------------
def test_stage3_orsnet_tap_and_the_modules_that_run_several_times():
    model = tiny()
    x = torch.rand(2, 3, 16, 24)
    with FeatureTaps(model, [FEATURE_LAYER]) as taps:
        y = model(x)
        feature = taps.feature(FEATURE_LAYER)
    assert y.shape == x.shape
    assert feature.shape == (2, TINY["n_feat"] + TINY["scale_orsnetfeats"], 16, 24)
    with torch.no_grad():
        torch.testing.assert_close(model.features(x), feature.detach(), rtol=0, atol=0)
        assert model.features(torch.rand(1, 3, 13, 21)).shape[-2:] == (13, 21)  # cropped back
    for name in ("net.shallow_feat1", "net.shallow_feat2", "net.concat12"):
        with FeatureTaps(model, [name]), pytest.raises(RuntimeError, match="ran twice"):
            model(x)
    for name in ("net.sam12", "net.stage1_encoder", "net.stage2_decoder"):
        with FeatureTaps(model, [name]), pytest.raises(TypeError, match="not a tensor"):
            model(x)


# -- official weight files --------------------------------------------------------------------------
def official_file(tmp_path, src, name="model_deraining.pth"):
    path = tmp_path / name
    state = {f"module.{k}": v for k, v in src.state_dict().items()}  # saved from nn.DataParallel
    torch.save({"epoch": 250, "state_dict": state}, path)
    return path


def test_load_official_accepts_the_state_dict_wrapper_and_module_prefix(tmp_path):
    src = inner()
    obj = torch.load(official_file(tmp_path, src), map_location="cpu", weights_only=True)
    assert is_mprnet_state(obj) and not is_mprnet_state({"weight": torch.zeros(1)})
    assert official_config(src.state_dict()) == {**TINY, "kernel_size": 3, "reduction": 4, "bias": False}
    model = tiny(seed=5, value_range="0_1")
    assert model.load_official(obj) is model
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(model(x), src(x)[0], rtol=0, atol=0)

    renamed = dict(src.state_dict())
    renamed["tail.weights"] = renamed.pop("tail.weight")
    with pytest.raises(CirError, match=r"missing keys: tail\.weight; unexpected keys: tail\.weights"):
        model.load_official({"state_dict": renamed})
    with pytest.raises(CirError, match="wrong shapes.*the file holds an MPRNet with n_feat=16"):
        model.load_official(inner(n_feat=16).state_dict())


def test_official_file_through_the_registry(tmp_path):
    src = inner()
    path = official_file(tmp_path, src)
    params = {**TINY, "value_range": "0_1"}
    x = torch.rand(1, 3, 16, 16)
    for expect in ("mprnet", None):  # named, or recognised by the entry's hook before spandrel
        model = load_model_file(path, expect_arch=expect, params=params).eval()
        assert model_spec(model) == {"arch": "mprnet", "scale": 1, "params": params}
        with torch.no_grad():
            torch.testing.assert_close(model(x), src(x)[0], rtol=0, atol=0)
    with pytest.raises(CirError, match="model_deraining.pth.*'value_range'"):
        load_model_file(path, expect_arch="mprnet", params=TINY)
    with pytest.raises(CirError, match="model_deraining.pth.*the file holds an MPRNet with n_feat=8"):
        load_model_file(path, expect_arch="mprnet", params={"value_range": "0_1"})


# -- the registry and cir model files -----------------------------------------------------------------
def test_registry_entry_and_model_file_round_trip(tmp_path):
    from cir.architectures import ARCH_NAMES

    entry = ARCHITECTURES["mprnet"]
    assert entry.scale_one and entry.spandrel_name == "" and entry.convert and entry.recognise
    assert "MPRNet" in entry.citation and "mprnet" in ARCH_NAMES
    model = tiny(seed=2)
    spec = model_spec(model)
    assert spec == {"arch": "mprnet", "scale": 1, "params": TINY}
    path = tmp_path / "student.pt"
    ckpt.save(path, ckpt.model_file(spec, model.state_dict(), None, {"name": "test"}))
    loaded = load_model_file(path, expect_arch="mprnet", expect_scale=1).eval()
    x = torch.rand(1, 3, 12, 20)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    assert all(k.startswith("net.") for k in loaded.state_dict())


@pytest.mark.parametrize("params,match", [
    ({"value_range": "0_255"}, "'value_range'"),
    ({"n_feat": 2}, "'n_feat'"),
    ({"kernel_size": 4}, "'kernel_size'"),
    ({"num_cab": -1}, "'num_cab'"),
    ({"bias": 1}, "'bias'"),
    ({"width": 8}, "unknown parameter.*'width'"),
])
def test_bad_parameters_are_named(params, match):
    with pytest.raises(ConfigError, match=match):
        build_model("mprnet", 1, **params)


def test_scale_other_than_1_is_refused():
    with pytest.raises(ConfigError, match="'scale' must be 1"):
        build_model("mprnet", 2, **TINY)
