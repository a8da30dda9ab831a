"""Efficiency numbers: torch's FLOP count against hand counts, run time, the table and its CLI."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch import nn

from cir.errors import CirError
from cir.eval.efficiency import (
    COLUMNS,
    count_flops,
    efficiency_table,
    lr_size_for_output,
    profile_model,
    time_inference,
    write_efficiency,
)
from cir.models.registry import build_model, model_spec

REPO = Path(__file__).resolve().parents[1]


class TinyNet(nn.Module):
    """conv 3->4 (3x3) -> ReLU -> conv 4->2 (1x1) -> q @ k^T attention-like product -> linear."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 2, 1)
        self.fc = nn.Linear(2 * 8 * 8, 5)

    def forward(self, x):
        y = self.conv2(torch.relu(self.conv1(x)))  # N x 2 x 8 x 8
        tokens = y.flatten(2).transpose(1, 2)  # N x 64 x 2
        attn = tokens @ tokens.transpose(1, 2)  # N x 64 x 64: a batched matrix product
        return self.fc(y.flatten(1)) + attn.mean()


def test_flop_count_matches_a_hand_count():
    # multiply-adds per image, by hand:
    conv1 = 8 * 8 * 4 * (3 * 3 * 3)  # output pixels x out channels x (in channels x kernel)
    conv2 = 8 * 8 * 2 * 4
    attn = 64 * 64 * 2
    fc = 2 * 8 * 8 * 5
    for batch in (1, 3):
        count = count_flops(TinyNet(), (batch, 3, 8, 8))
        macs = batch * (conv1 + conv2 + attn + fc)
        assert count.flops == 2 * macs  # torch counts a multiply-add as 2 FLOPs
        assert count.macs == macs
        assert count.by_operator == {"convolution": 2 * batch * (conv1 + conv2), "bmm": 2 * batch * attn,
                                     "addmm": 2 * batch * fc}
        assert count.output_shape == (batch, 5)


@pytest.mark.parametrize("arch,params", [
    ("swinir", {"embed_dim": 6, "depths": [1], "num_heads": [2], "window_size": 8}),
    ("rcan", {"n_resgroups": 1, "n_resblocks": 1, "n_feats": 4, "reduction": 2}),
])
def test_spandrel_counts_are_positive_and_linear_in_pixels(arch, params):
    torch.manual_seed(0)
    model = build_model(arch, 2, **params)
    small = count_flops(model, (1, 3, 16, 16))
    large = count_flops(model, (1, 3, 32, 48))
    assert small.flops > 0 and small.output_shape == (1, 3, 32, 32)
    assert large.output_shape == (1, 3, 64, 96)
    assert large.flops / small.flops == pytest.approx(6.0, rel=0.03)  # 6x the pixels
    if arch == "swinir":
        assert small.by_operator.get("bmm", 0) > 0  # window attention is counted


def test_lr_size_for_a_1280x720_output():
    assert lr_size_for_output(2) == (360, 640)
    assert lr_size_for_output(3) == (240, 427)
    assert lr_size_for_output(4) == (180, 320)
    assert lr_size_for_output(2, (64, 96)) == (32, 48)
    with pytest.raises(CirError, match="scale"):
        lr_size_for_output(0)


def test_timing_restores_mode_and_reports_runs():
    model = TinyNet().train()
    t = time_inference(model, (1, 3, 8, 8), warmup=1, runs=4)
    assert model.training
    assert t.runs == 4 and t.warmup == 1 and t.device == "cpu" and t.threads == torch.get_num_threads()
    assert 0 < t.min_s <= t.median_s <= t.max_s
    with pytest.raises(CirError, match="runs >= 1"):
        time_inference(model, (1, 3, 8, 8), runs=0)


def test_profile_model_row():
    r = profile_model(TinyNet(), (8, 8), warmup=0, runs=1)
    assert r["params"] == sum(p.numel() for p in TinyNet().parameters())
    assert (r["input_h_px"], r["input_w_px"]) == (8, 8)
    assert r["flops"] == 2 * r["macs"] and r["flops"] > 0


def _save_model(path: Path, arch: str, scale: int, **params) -> nn.Module:
    torch.manual_seed(0)
    model = build_model(arch, scale, **params)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model_spec": model_spec(model), "model": model.state_dict()}, path)
    return model


def test_efficiency_table_markdown_and_cli(tmp_path):
    rcan = _save_model(tmp_path / "x2/rcan/teacher/model.pt", "rcan", 2, n_resgroups=1, n_resblocks=1,
                       n_feats=4, reduction=2)
    _save_model(tmp_path / "x3/rcan/scratch/model.pt", "rcan", 3, n_resgroups=1, n_resblocks=1, n_feats=4,
                reduction=2)
    models = [("teacher", tmp_path / "x2/rcan/teacher/model.pt"), ("scratch", tmp_path / "x3/rcan/scratch/model.pt")]
    df = efficiency_table(models, preset="smoke", output_size=(48, 96), warmup=0, runs=2)
    assert list(df.columns) == list(COLUMNS)
    assert list(df.experiment) == ["teacher", "scratch"] and list(df.scale) == [2, 3]
    assert list(zip(df.input_h_px, df.input_w_px)) == [(24, 48), (16, 32)]
    assert list(zip(df.output_h_px, df.output_w_px)) == [(48, 96), (48, 96)]
    assert df.GFLOPs_torch_2_per_MAC[0] * 1e9 == pytest.approx(count_flops(rcan, (1, 3, 24, 48)).flops)
    assert df.GMACs[0] == pytest.approx(df.GFLOPs_torch_2_per_MAC[0] / 2)
    assert df.params[0] == sum(p.numel() for p in rcan.parameters())
    write_efficiency(df, tmp_path / "out/efficiency.csv")
    back = pd.read_csv(tmp_path / "out/efficiency.csv")
    assert len(back) == 2 and back.timed_runs.tolist() == [2, 2]
    md = (tmp_path / "out/efficiency.md").read_text()
    assert "| ×2 | RCAN | Teacher |" in md and "24×48" in md and "2 FLOPs" in md and "median of 2 runs" in md

    spec = importlib.util.spec_from_file_location("efficiency_cli", REPO / "workflow_scripts" / "efficiency.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    out = tmp_path / "cli/efficiency.csv"
    threads = torch.get_num_threads()
    try:
        assert cli.main(["--preset", "smoke", "--model", f"teacher={models[0][1]}", "--lr-size", "20x12",
                         "--warmup", "0", "--runs", "1", "--threads", "1", "--device", "cpu", "--out", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)
    row = pd.read_csv(out).iloc[0]
    assert (row.input_h_px, row.input_w_px, row.output_h_px, row.output_w_px, row.threads) == (12, 20, 24, 40, 1)
    assert cli.main(["--preset", "smoke", "--model", "teacher", "--out", str(out)]) == 2


def test_missing_model_file_is_named(tmp_path):
    with pytest.raises(CirError, match="nope.pt"):
        efficiency_table([("teacher", tmp_path / "nope.pt")], preset="smoke", runs=1)
