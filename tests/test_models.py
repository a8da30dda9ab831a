import pytest
import torch
import yaml
from conftest import ROOT

from cir.errors import CirError
from cir.models import build_model, count_parameters, load_model_file
from cir.models.official import import_official

# DCKD Table 1 (#Params, millions), at x4
TABLE1 = {("swinir", "teacher"): 11.9, ("swinir", "student"): 1.2,
          ("rcan", "teacher"): 15.6, ("rcan", "student"): 5.2}


@pytest.mark.parametrize("arch,role", sorted(TABLE1))
def test_paper_preset_sizes_match_table1(arch, role):
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    params = cfg["presets"]["paper"]["models"][arch][role]
    model = build_model(arch, 4, **params)
    millions = count_parameters(model) / 1e6
    assert millions == pytest.approx(TABLE1[(arch, role)], rel=0.05)


def test_unknown_architecture_lists_valid_names():
    with pytest.raises(KeyError, match="valid architectures: criacl, dehazeformer, drcnet, edsr, ffanet, idt, mprnet, nafnet, rcan, restormer, swinir"):
        build_model("carn", 2)


def test_bad_constructor_parameter_names_arch():
    with pytest.raises(CirError, match="architecture 'rcan': bad parameters"):
        build_model("rcan", 2, n_blocks=3)


def test_rcan_leaves_its_input_untouched():
    model = build_model("rcan", 2, n_resgroups=1, n_resblocks=1, n_feats=8, reduction=4)
    x = torch.rand(1, 3, 8, 8)
    before = x.clone()
    model(x)
    assert torch.equal(x, before)


@pytest.mark.parametrize("arch,params,official_layout", [
    ("swinir", dict(embed_dim=12, depths=[2], num_heads=[2], window_size=8), lambda sd: {"params": sd}),
    ("rcan", dict(n_resgroups=2, n_resblocks=2, n_feats=16, reduction=4), lambda sd: sd),
])
def test_import_official_weight_file(tmp_path, arch, params, official_layout):
    """An official-layout weight file is recognised by spandrel and rebuilt through the registry."""
    torch.manual_seed(0)
    src = build_model(arch, 3, **params)
    weights = tmp_path / ("official.pth" if arch == "swinir" else "official.pt")
    torch.save(official_layout(src.state_dict()), weights)
    out = import_official(weights, arch, 3, tmp_path / "teacher.pt")
    model = load_model_file(out, expect_arch=arch, expect_scale=3)
    meta = torch.load(out, weights_only=False)["meta"]
    assert meta["weights_sha256"] and meta["stand_ins"] == []
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(model.eval()(x), src.eval()(x), atol=1e-6)
    with pytest.raises(CirError, match="expected x2"):
        import_official(weights, arch, 2, tmp_path / "wrong.pt")
    assert not (tmp_path / "wrong.pt").exists()


def test_unreadable_weight_file_is_named(tmp_path):
    bad = tmp_path / "broken.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CirError, match="broken.pth"):
        load_model_file(bad)
    with pytest.raises(CirError, match="not found: .*missing.pt"):
        load_model_file(tmp_path / "missing.pt")
