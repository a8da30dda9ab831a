"""The frozen VQGAN f16 encoder of DCKD's losses (cir.encoders.vqgan)."""

from __future__ import annotations

import pickle
import sys
import types

import pytest
import torch

from cir.data.download import MissingDataError
from cir.data.registry import get_asset
from cir.encoders import (
    WEIGHTS_NAME,
    MissingEncoderWeightsError,
    VQGANEncoder,
    build_vqgan_encoder,
    parameter_counts,
    read_checkpoint,
)
from cir.errors import CirError, ConfigError

CH, MULT, BLOCKS = 128, (1, 1, 2, 2, 4), 2


def _expected_official_keys() -> dict[str, tuple[int, ...]]:
    """Keys and shapes of the encoder part of taming's vqgan_imagenet_f16_1024 state_dict,
    written from its architecture (ch 128, ch_mult 1,1,2,2,4, 2 blocks, attention at the
    last level, z 256, quant_conv 256->256, 1024x256 codebook)."""
    keys: dict[str, tuple[int, ...]] = {}

    def conv(name, cin, cout, k):
        keys[f"{name}.weight"] = (cout, cin, k, k)
        keys[f"{name}.bias"] = (cout,)

    def norm(name, c):
        keys[f"{name}.weight"] = keys[f"{name}.bias"] = (c,)

    def resblock(name, cin, cout):
        norm(f"{name}.norm1", cin)
        conv(f"{name}.conv1", cin, cout, 3)
        norm(f"{name}.norm2", cout)
        conv(f"{name}.conv2", cout, cout, 3)
        if cin != cout:
            conv(f"{name}.nin_shortcut", cin, cout, 1)

    def attn(name, c):
        norm(f"{name}.norm", c)
        for part in ("q", "k", "v", "proj_out"):
            conv(f"{name}.{part}", c, c, 1)

    conv("encoder.conv_in", 3, CH, 3)
    cin = CH
    for i, m in enumerate(MULT):
        cout = CH * m
        for j in range(BLOCKS):
            resblock(f"encoder.down.{i}.block.{j}", cin if j == 0 else cout, cout)
            if i == 4:  # 256 / 2**4 = 16 is the attention resolution
                attn(f"encoder.down.{i}.attn.{j}", cout)
        if i < 4:
            conv(f"encoder.down.{i}.downsample.conv", cout, cout, 3)
        cin = cout
    resblock("encoder.mid.block_1", 512, 512)
    attn("encoder.mid.attn_1", 512)
    resblock("encoder.mid.block_2", 512, 512)
    norm("encoder.norm_out", 512)
    conv("encoder.conv_out", 512, 256, 3)
    conv("quant_conv", 256, 256, 1)
    keys["quantize.embedding.weight"] = (1024, 256)
    return keys


@pytest.fixture(scope="module")
def source() -> VQGANEncoder:
    torch.manual_seed(123)
    model = VQGANEncoder()
    with torch.no_grad():  # non-trivial norms and biases, so that a mis-loaded tensor shows
        for name, p in model.named_parameters():
            if "norm" in name:
                p.add_(0.1 * torch.randn_like(p))
    return model


class _Table(dict):
    """A dict subclass outside any training framework."""


def _fake_lightning_modules(monkeypatch) -> tuple[type, type]:
    """Classes that pickle under Lightning's module paths (only while the fake modules exist)."""
    callbacks = types.ModuleType("pytorch_lightning.callbacks.model_checkpoint")
    parsing = types.ModuleType("pytorch_lightning.utilities.parsing")

    class ModelCheckpoint:
        def __init__(self):
            self.monitor, self.best_model_path = "val/rec_loss", "logs/last.ckpt"

    class AttributeDict(dict):
        pass

    for name in ("pytorch_lightning", "pytorch_lightning.callbacks", "pytorch_lightning.utilities"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    for cls, module in ((ModelCheckpoint, callbacks), (AttributeDict, parsing)):
        cls.__module__, cls.__qualname__ = module.__name__, cls.__name__
        setattr(module, cls.__name__, cls)
        monkeypatch.setitem(sys.modules, module.__name__, module)
    return ModelCheckpoint, AttributeDict


def test_state_dict_matches_official_checkpoint_layout(source):
    model = source
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    expected = _expected_official_keys()
    assert got == expected
    per_prefix = {}
    for k in got:
        parts = k.split(".")
        prefix = ".".join(parts[:3]) if k.startswith("encoder.down.") else ".".join(parts[:2])
        per_prefix[prefix] = per_prefix.get(prefix, 0) + 1
    # 4 tensors per norm pair + conv pair: ResnetBlock 8 (+2 with nin_shortcut), AttnBlock 10,
    # downsample 2; level 4 = 2 blocks (one with shortcut) + 2 attention blocks
    assert per_prefix == {
        "encoder.conv_in": 2, "encoder.down.0": 18, "encoder.down.1": 18, "encoder.down.2": 20,
        "encoder.down.3": 18, "encoder.down.4": 38, "encoder.mid": 26, "encoder.norm_out": 2,
        "encoder.conv_out": 2, "quant_conv.weight": 1, "quant_conv.bias": 1, "quantize.embedding": 1,
    }
    assert got["encoder.conv_in.weight"] == (128, 3, 3, 3)
    assert got["encoder.down.4.block.0.conv1.weight"] == (512, 256, 3, 3)
    assert got["encoder.down.2.block.0.nin_shortcut.weight"] == (256, 128, 1, 1)
    assert got["encoder.mid.attn_1.q.weight"] == (512, 512, 1, 1)
    assert got["quant_conv.weight"] == (256, 256, 1, 1)
    assert got["quantize.embedding.weight"] == (1024, 256)
    assert model.codebook.shape == (1024, 256)


def test_lightning_checkpoint_loads_and_matches_source(tmp_path, monkeypatch, source):
    ModelCheckpoint, _ = _fake_lightning_modules(monkeypatch)
    state = dict(source.state_dict())
    state.update({
        "decoder.conv_in.weight": torch.randn(512, 256, 3, 3),
        "post_quant_conv.weight": torch.randn(256, 256, 1, 1),
        "loss.discriminator.main.0.weight": torch.randn(64, 3, 4, 4),
        "loss.logvar": torch.zeros(()),
        "quantize.remap_note": "none",  # a non-tensor entry
    })
    ckpt = {
        "epoch": 41, "global_step": 1234, "pytorch-lightning_version": "1.0.8",
        "callbacks": {ModelCheckpoint: {"best_model_score": torch.tensor(0.5)}},
        "checkpoint_callback": ModelCheckpoint(),
        "optimizer_states": [{"state": {}, "param_groups": [{"lr": 4.5e-6}]}],
        "lr_schedulers": [],
        "state_dict": state,
    }
    path = tmp_path / WEIGHTS_NAME
    torch.save(ckpt, path)
    monkeypatch.undo()  # Lightning is not importable when the file is read
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)

    model, stand_ins = build_vqgan_encoder(path, allow_random=False)
    assert stand_ins == []
    assert all(torch.equal(model.state_dict()[k], v) for k, v in source.state_dict().items())
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        a, b = source(x, latent=True), model(x, latent=True)
    assert all(torch.equal(p, q) for p, q in zip(a.features, b.features))
    assert torch.equal(a.latent, b.latent)

    bad = {"encoder.conv_in.weight": torch.zeros(64, 3, 3, 3), "quantize.extra": torch.zeros(1)}
    torch.save({"state_dict": bad}, tmp_path / "bad.ckpt")
    with pytest.raises(CirError) as err:
        build_vqgan_encoder(tmp_path / "bad.ckpt", allow_random=False)
    msg = str(err.value)
    assert "bad.ckpt" in msg and "missing keys: " in msg and "(+138 more)" in msg
    assert "unexpected keys: quantize.extra" in msg
    assert "encoder.conv_in.weight (64, 3, 3, 3) (expected (128, 3, 3, 3))" in msg


def test_read_checkpoint_framework_objects(tmp_path, monkeypatch, capsys):
    ModelCheckpoint, AttributeDict = _fake_lightning_modules(monkeypatch)
    w = torch.arange(6.0).reshape(2, 3)
    # a class as dictionary key and an instance: rebuilt under weights_only=True with stand-ins
    torch.save({"callbacks": {ModelCheckpoint: {"x": 1}}, "cb": ModelCheckpoint(), "state_dict": {"a": w}},
               tmp_path / "callbacks.ckpt")
    # a dict subclass cannot be rebuilt with weights_only=True: the framework fallback does it
    torch.save({"hyper_parameters": AttributeDict(lr=1e-4), "state_dict": {"a": w}},
               tmp_path / "hparams.ckpt")
    # any other refused class becomes an inert stand-in as well (nothing of it is executed) ...
    torch.save({"custom": types.SimpleNamespace(a=1), "state_dict": {"a": w}}, tmp_path / "plain.ckpt")
    # ... but an object that needs more than weights_only=True allows is not read at all
    torch.save({"custom": _Table(a=1), "state_dict": {"a": w}}, tmp_path / "other.ckpt")
    monkeypatch.undo()

    obj = read_checkpoint(tmp_path / "callbacks.ckpt")
    assert torch.equal(obj["state_dict"]["a"], w)
    assert [type(k).__name__ for k in obj["callbacks"]] == ["type"]
    assert capsys.readouterr().err == ""

    obj = read_checkpoint(tmp_path / "hparams.ckpt")
    assert torch.equal(obj["state_dict"]["a"], w) and obj["hyper_parameters"]["lr"] == 1e-4
    assert "weights_only=False" in capsys.readouterr().err

    obj = read_checkpoint(tmp_path / "plain.ckpt")
    assert torch.equal(obj["state_dict"]["a"], w) and type(obj["custom"]).__name__ == "SimpleNamespace"

    with pytest.raises(CirError, match=r"other\.ckpt.*weights_only=True"):
        read_checkpoint(tmp_path / "other.ckpt")
    (tmp_path / "broken.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(CirError, match=r"broken\.ckpt"):
        read_checkpoint(tmp_path / "broken.ckpt")


def test_plain_state_dict_file_loads(tmp_path, source):
    torch.save(source.state_dict(), tmp_path / "VQGAN_f16_n1024.pth")
    model, stand_ins = build_vqgan_encoder(tmp_path / "VQGAN_f16_n1024.pth", allow_random=False)
    assert stand_ins == [] and torch.equal(model.codebook, source.codebook)


def test_feature_and_latent_shapes(source):
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        feats = source.features(x)
        both = source(x, levels=True, latent=True)
        lat = source.latent(x)
    assert [tuple(f.shape) for f in feats] == [(2, 128, 64, 64), (2, 128, 32, 32), (2, 256, 16, 16),
                                               (2, 256, 8, 8), (2, 512, 4, 4)]
    assert tuple(lat.shape) == (2, 256, 4, 4)
    assert all(torch.equal(a, b) for a, b in zip(feats, both.features)) and torch.equal(lat, both.latent)
    assert source(x[:1, :, :32, :32], levels=False, latent=True).features is None
    assert all(f.dtype == torch.float32 for f in feats)
    with pytest.raises(CirError, match=r"\(2, 1, 64, 64\)"):
        source.features(x[:, :1])


def test_features_skip_unused_blocks(source):
    calls = []
    hooks = [m.register_forward_hook(lambda *_, n=n: calls.append(n))
             for n, m in source.named_modules() if n.count(".") <= 4 and n.startswith("encoder.")]
    try:
        with torch.no_grad():
            source.features(torch.rand(1, 3, 32, 32))
    finally:
        for h in hooks:
            h.remove()
    assert "encoder.down.4.block.0" in calls
    unused = ("encoder.down.4.block.1", "encoder.down.4.attn", "encoder.mid", "encoder.norm_out",
              "encoder.conv_out")
    assert not [c for c in calls if c.startswith(unused)]


def test_frozen_but_differentiable_wrt_input(source):
    assert not any(p.requires_grad for p in source.parameters())
    source.train()
    assert not source.training
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    out = source(x, latent=True)
    loss = sum(f.abs().mean() for f in out.features) + out.latent.square().mean()
    loss.backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in source.parameters())


def test_input_range(source):
    sym = VQGANEncoder(input_range="-1_1")
    sym.load_state_dict(source.state_dict())
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(sym.latent(x), source.latent(x * 2 - 1), atol=1e-6)
    with pytest.raises(ConfigError, match="input_range"):
        VQGANEncoder(input_range="0_255")


def test_missing_weights(tmp_path):
    absent = tmp_path / "weights" / WEIGHTS_NAME
    url = get_asset(WEIGHTS_NAME).source.urls[0]
    for weights in (None, absent):
        with pytest.raises(MissingEncoderWeightsError) as err:
            build_vqgan_encoder(weights, allow_random=False)
        msg = str(err.value)
        assert WEIGHTS_NAME in msg and url in msg and "download_asset" in msg
        assert str(absent if weights else f"data/weights/{WEIGHTS_NAME}") in msg
        assert isinstance(err.value, CirError) and isinstance(err.value, MissingDataError)

    rng = torch.get_rng_state()
    a, stand_ins = build_vqgan_encoder(absent, allow_random=True, seed=3)
    assert torch.equal(torch.get_rng_state(), rng)
    assert stand_ins == [f"VQGAN encoder: random initialisation (official weights {WEIGHTS_NAME} absent)"]
    b, _ = build_vqgan_encoder(None, allow_random=True, seed=3)
    c, _ = build_vqgan_encoder(None, allow_random=True, seed=4)
    assert torch.equal(a.encoder.conv_in.weight, b.encoder.conv_in.weight)
    assert not torch.equal(a.encoder.conv_in.weight, c.encoder.conv_in.weight)
    assert not any(p.requires_grad for p in a.parameters()) and not a.training


def test_parameter_count(source):
    # Independent count from the layer shapes: conv_in 3,584; level 0 = 2 blocks of
    # 2*(3x3 128->128) + norms = 2*295,680, + downsample 147,584; ...; level 4 adds two
    # 512-channel attention blocks (4 1x1 convs + norm = 1,051,648 each); mid = 2 blocks
    # of 4,721,664 + 1 attention; conv_out 1,179,904. The encoder totals 29,298,176
    # parameters, the "about 29M" of the taming-transformers f16 encoder.
    def block(cin, cout):
        return 2 * cin + 9 * cin * cout + cout + 2 * cout + 9 * cout * cout + cout + (
            cin * cout + cout if cin != cout else 0)

    def attn(c):
        return 2 * c + 4 * (c * c + c)

    def down(c):
        return 9 * c * c + c

    levels = [(128, 128), (128, 128), (128, 256), (256, 256), (256, 512)]
    enc = 3 * 128 * 9 + 128
    for i, (cin, cout) in enumerate(levels):
        enc += block(cin, cout) + block(cout, cout)
        enc += 2 * attn(cout) if i == 4 else down(cout)
    enc += 2 * block(512, 512) + attn(512) + 2 * 512 + 9 * 512 * 256 + 256
    assert enc == 29_298_176
    counts = parameter_counts(source)
    assert counts["encoder"] == enc
    assert counts["quant_conv"] == 256 * 256 + 256 and counts["codebook"] == 1024 * 256
    assert counts["total"] == enc + 65_792 + 262_144
    assert counts["features_path"] < counts["encoder"] / 2  # features() skips the deep half


def test_channels_last_and_bf16_autocast(source):
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        ref = source(x, latent=True)
        cl = VQGANEncoder()
        cl.load_state_dict(source.state_dict())
        cl = cl.to(memory_format=torch.channels_last)
        out = cl(x.contiguous(memory_format=torch.channels_last), latent=True)
        assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(ref.features, out.features))
        assert torch.allclose(ref.latent, out.latent, atol=1e-4)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        cl = cl.to(device)
        with torch.autocast(device, dtype=torch.bfloat16):
            half = cl(x.to(device).contiguous(memory_format=torch.channels_last), latent=True)
    assert half.latent.dtype == torch.bfloat16
    for a, b in zip(ref.features + [ref.latent], half.features + [half.latent]):
        assert (a - b.float().cpu()).abs().max() <= 0.05 * a.abs().max()
