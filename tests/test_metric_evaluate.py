"""Evaluation with a configurable metric list: one model run per image, metrics built once,
time per metric per image in the summary."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from cir.data.builtin import skimage_data_dir
from cir.data.images import read_image, write_image
from cir.errors import CirError
from cir.eval.evaluate import evaluate, evaluate_model_file
from cir.eval.metrics import MetricSpec, build_metric
from cir.models import build_model

evaluate_module = importlib.import_module("cir.eval.evaluate")  # the module (cir.eval.evaluate is also a function)


def make_set(root: Path, n: int = 2) -> Path:
    names = ["coffee.png", "chelsea.png"]
    for i in range(n):
        hr = read_image(skimage_data_dir() / names[i])[:96, :112]
        lr = hr.reshape(48, 2, 56, 2, 3).mean(axis=(1, 3)).round().astype(np.uint8)
        write_image(root / "HR" / f"img{i}.png", hr)
        write_image(root / "LR" / f"img{i}.png", lr)
    return root


class CountingUpsampler(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return nn.functional.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)


def test_metric_list_runs_the_model_once_per_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pairs = make_set(tmp_path / "SetA")
    built: list[str] = []
    real_build = evaluate_module.build_metrics

    def counting_build(specs, *args, **kwargs):
        built.extend(s.name for s in specs)
        return real_build(specs, *args, **kwargs)

    monkeypatch.setattr(evaluate_module, "build_metrics", counting_build)
    model = CountingUpsampler()
    specs = [MetricSpec("psnr", False, 0), MetricSpec("ssim", False, 0), MetricSpec("piqe")]
    res = evaluate(model, {"SetA": pairs}, 2, "cpu", tmp_path / "out", metrics=specs, save_images=True)["SetA"]
    assert model.calls == 2 and built == ["psnr", "ssim", "piqe"]
    table = pd.read_csv(res["per_image_csv"])
    assert list(table.columns) == ["image", "psnr", "ssim", "piqe"]
    for i in range(2):  # the scores are those of the saved (uint8) outputs
        sr = read_image(tmp_path / "out" / "SetA" / f"img{i}.png")
        hr = read_image(pairs / "HR" / f"img{i}.png")
        x, y = (torch.from_numpy(a).permute(2, 0, 1)[None].double() / 255 for a in (sr, hr))
        assert table.loc[i, "psnr"] == pytest.approx(float(build_metric(specs[0])(x, y)[0]), abs=1e-9)
        assert table.loc[i, "piqe"] == pytest.approx(float(build_metric(specs[2])(x)[0]), abs=1e-9)
    assert res["piqe"] == pytest.approx(table["piqe"].mean())
    by_metric = res["sec_per_image_by_metric"]
    assert list(by_metric) == ["psnr", "ssim", "piqe"] and all(v > 0 for v in by_metric.values())
    assert res["metric_sec_per_image"] == pytest.approx(sum(by_metric.values()))


def test_summary_of_a_named_convention(tmp_path: Path) -> None:
    pairs = make_set(tmp_path / "SetA", 1)
    torch.manual_seed(0)
    model = build_model("rcan", 2, n_resgroups=1, n_resblocks=1, n_feats=8, reduction=4)
    ckpt = tmp_path / "m.pth"
    torch.save({"model_spec": model.cir_spec, "model": model.state_dict(), "ema": None, "meta": {}}, ckpt)
    out = tmp_path / "res" / "summary.json"
    summary = evaluate_model_file(ckpt, {"SetA": pairs}, 2, out, preset="p", backbone="rcan", method="m",
                                  device="cpu", convention="derain_y")
    assert json.loads(out.read_text()) == summary
    assert summary["metric_convention"].startswith("derain_y: PSNR on Y (BT.601 studio range), crop border 0")
    entry = summary["test_sets"]["SetA"]
    assert list(entry) == ["n_images", "psnr", "ssim", "per_image_csv", "sec_per_image", "sec_per_image_by_metric"]
    assert list(entry["sec_per_image_by_metric"]) == ["psnr", "ssim"]
    with pytest.raises(CirError, match="not both"):
        evaluate_model_file(ckpt, {"SetA": pairs}, 2, out, preset="p", backbone="rcan", method="m",
                            device="cpu", convention="derain_y", metrics=[MetricSpec("psnr")])
