"""End to end: checkpoint file + pair directory -> summary JSON and per-image CSVs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from cir.data.images import read_image
from cir.eval.evaluate import evaluate
from cir.models import build_model, count_parameters

REPO = Path(__file__).resolve().parents[1]


def load_cli():
    spec = importlib.util.spec_from_file_location("evaluate_cli", REPO / "workflow_scripts" / "evaluate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ref_psnr_y(sr: np.ndarray, hr: np.ndarray, crop: int) -> float:
    """BasicSR PSNR-Y on uint8 RGB images, written out in numpy."""
    def y(img: np.ndarray) -> np.ndarray:
        x = img.astype(np.float64) / 255.0
        return 16.0 + 65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]

    a, b = y(sr)[crop:-crop, crop:-crop], y(hr)[crop:-crop, crop:-crop]
    return float(10 * np.log10(255.0**2 / np.mean((a - b) ** 2)))


def make_pairs(root: Path, n: int, seed: int, hr_size: int = 32, scale: int = 2) -> Path:
    rng = np.random.default_rng(seed)
    (root / "HR").mkdir(parents=True)
    (root / "LR").mkdir()
    yy, xx = np.mgrid[0:hr_size, 0:hr_size].astype(np.float64)
    for i in range(n):
        phase = rng.uniform(0, 6, size=3)
        planes = [128 + 90 * np.sin(xx / (3 + c) + phase[c]) * np.cos(yy / (4 + c)) for c in range(3)]
        hr = np.stack(planes, axis=-1)
        hr = np.clip(hr + rng.normal(0, 4, hr.shape), 0, 255).round().astype(np.uint8)
        lr = cv2.resize(hr, (hr_size // scale, hr_size // scale), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(root / "HR" / f"img{i:02d}.png"), cv2.cvtColor(hr, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(root / "LR" / f"img{i:02d}.png"), cv2.cvtColor(lr, cv2.COLOR_RGB2BGR))
    return root


@pytest.fixture()
def rcan_checkpoint(tmp_path: Path) -> tuple[Path, int]:
    torch.manual_seed(0)
    model = build_model("rcan", 2, n_resgroups=1, n_resblocks=1, n_feats=8, reduction=4)
    path = tmp_path / "student.pth"
    torch.save({"model_spec": model.cir_spec, "model": model.state_dict(), "ema": None,
                "meta": {"stand_ins": ["example"]}}, path)
    return path, count_parameters(model)


def test_cli_writes_summary_and_csvs(tmp_path: Path, rcan_checkpoint: tuple[Path, int]) -> None:
    ckpt, n_params = rcan_checkpoint
    set_a = make_pairs(tmp_path / "SetA", 3, seed=1)
    set_b = make_pairs(tmp_path / "SetB", 2, seed=2)
    out = tmp_path / "results" / "summary.json"
    code = load_cli().main([
        "--model", str(ckpt), "--scale", "2", "--test-set", f"SetA={set_a}", "--test-set", f"SetB={set_b}",
        "--out", str(out), "--preset", "smoke", "--backbone", "rcan", "--method", "dckd",
        "--device", "cpu", "--threads", "1", "--tile", "20",
    ])
    assert code == 0
    summary = json.loads(out.read_text())
    import pyiqa

    assert list(summary) == ["preset", "scale", "backbone", "method", "model_file", "parameters",
                             "stand_ins", "device", "metric_convention", "convention_name", "task", "test_sets"]
    assert summary["convention_name"] == "dckd_sr" and summary["task"] == "x2"
    assert summary["preset"] == "smoke" and summary["scale"] == 2
    assert summary["backbone"] == "rcan" and summary["method"] == "dckd"
    assert summary["model_file"] == str(ckpt)
    assert summary["parameters"] == n_params
    assert summary["stand_ins"] == ["example"]
    assert summary["device"] == "cpu"
    assert summary["metric_convention"] == (
        f"PSNR/SSIM on Y (BT.601 studio range), crop border = 2, pyiqa {pyiqa.__version__}")
    assert list(summary["test_sets"]) == ["SetA", "SetB"]
    for name, n in [("SetA", 3), ("SetB", 2)]:
        entry = summary["test_sets"][name]
        assert list(entry) == ["n_images", "psnr", "ssim", "per_image_csv", "sec_per_image",
                               "sec_per_image_by_metric"]
        assert entry["n_images"] == n
        csv = Path(entry["per_image_csv"])
        assert csv == out.parent / f"{name}.csv"
        table = pd.read_csv(csv)
        assert list(table.columns) == ["image", "psnr", "ssim"]
        assert list(table["image"]) == [f"img{i:02d}" for i in range(n)]
        assert entry["psnr"] == pytest.approx(table["psnr"].mean(), abs=1e-9)
        assert entry["ssim"] == pytest.approx(table["ssim"].mean(), abs=1e-12)
        assert np.isfinite(table[["psnr", "ssim"]].to_numpy()).all()
        assert entry["sec_per_image"] > 0
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temporary files left


class BicubicUpsampler(nn.Module):
    def __init__(self, scale: int):
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)


def test_bicubic_psnr_matches_reference(tmp_path: Path) -> None:
    pairs = make_pairs(tmp_path / "SetA", 2, seed=3)
    out_dir = tmp_path / "out"
    results = evaluate(BicubicUpsampler(2), {"SetA": pairs}, 2, "cpu", out_dir, save_images=True)
    table = pd.read_csv(out_dir / "SetA.csv")
    expected = []
    for name in ["img00", "img01"]:
        lr = read_image(pairs / "LR" / f"{name}.png")
        hr = read_image(pairs / "HR" / f"{name}.png")
        # The same upsampling done independently, rounded to uint8 like a saved PNG.
        x = torch.from_numpy(lr).permute(2, 0, 1)[None].to(torch.float32) / 255.0
        sr = BicubicUpsampler(2)(x).clamp(0, 1)[0].permute(1, 2, 0).numpy()
        sr = np.floor(sr.astype(np.float64) * 255.0 + 0.5).astype(np.uint8)
        saved = read_image(out_dir / "SetA" / f"{name}.png")
        assert np.array_equal(saved, sr)
        expected.append(ref_psnr_y(sr, hr, 2))
    np.testing.assert_allclose(table["psnr"].to_numpy(), expected, rtol=0, atol=1e-5)
    assert results["SetA"]["psnr"] == pytest.approx(np.mean(expected), abs=1e-5)
    assert results["SetA"]["n_images"] == 2
    assert results["SetA"]["metric_sec_per_image"] > 0


def test_plain_weight_file_has_no_stand_ins(tmp_path: Path) -> None:
    from cir.eval.evaluate import checkpoint_stand_ins

    path = tmp_path / "weights.pth"
    torch.save({"params": {"w": torch.zeros(1)}}, path)
    assert checkpoint_stand_ins(path) == []


@pytest.mark.parametrize("bad", ["SetA", "=somewhere", "SetA="])
def test_malformed_test_set_names_the_argument(tmp_path: Path, rcan_checkpoint, bad: str,
                                               capsys: pytest.CaptureFixture) -> None:
    ckpt, _ = rcan_checkpoint
    with pytest.raises(SystemExit) as exc:
        load_cli().main(["--model", str(ckpt), "--scale", "2", "--test-set", bad, "--out",
                         str(tmp_path / "s.json"), "--preset", "p", "--backbone", "b", "--method", "m"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--test-set" in err and "NAME=DIR" in err


def test_missing_test_set_dir_names_the_argument(tmp_path: Path, rcan_checkpoint,
                                                 capsys: pytest.CaptureFixture) -> None:
    ckpt, _ = rcan_checkpoint
    missing = tmp_path / "nowhere"
    with pytest.raises(SystemExit):
        load_cli().main(["--model", str(ckpt), "--scale", "2", "--test-set", f"SetA={missing}", "--out",
                         str(tmp_path / "s.json"), "--preset", "p", "--backbone", "b", "--method", "m"])
    err = capsys.readouterr().err
    assert "--test-set" in err and str(missing) in err


def test_wrong_scale_and_empty_set_are_reported(tmp_path: Path, rcan_checkpoint,
                                                capsys: pytest.CaptureFixture) -> None:
    ckpt, _ = rcan_checkpoint
    pairs = make_pairs(tmp_path / "SetA", 1, seed=4)
    out = tmp_path / "s.json"
    common = ["--out", str(out), "--preset", "p", "--backbone", "rcan", "--method", "m", "--device", "cpu"]
    cli = load_cli()
    assert cli.main(["--model", str(ckpt), "--scale", "3", "--test-set", f"SetA={pairs}", *common]) == 2
    assert "expected x3" in capsys.readouterr().err
    empty = tmp_path / "Empty"
    (empty / "LR").mkdir(parents=True)
    (empty / "HR").mkdir()
    assert cli.main(["--model", str(ckpt), "--scale", "2", "--test-set", f"Empty={empty}", *common]) == 2
    err = capsys.readouterr().err
    assert "'Empty'" in err and str(empty) in err
    assert not out.exists()
